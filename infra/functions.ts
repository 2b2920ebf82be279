/**
 * Functions builder: the five Lambda functions, their event sources and, for each, the
 * grants its code needs and nothing more.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArnFormat,
  Duration,
  Names,
  Stack,
  aws_ec2 as ec2,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_lambda_event_sources as eventSources,
  aws_lambda_nodejs as nodejs,
  aws_logs as logs,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { BUCKET, COUNTS_STREAM, ENVIRONMENT } from '../adapters/aws/definitions';
import { functionBundling } from './function-bundling';
import type { ResolvedProps } from './props';
import { allowOneTimeProbes, type ProbeScheduling } from './schedules';
import type { Storage } from './storage';

/** Repository root: this file lives in `<root>/infra/`. Independent of `process.cwd()`. */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Service name reported by Powertools (logger, metrics) in every function. */
const SERVICE_NAME = 'sluice';

/**
 * DynamoDB actions the handlers use (single-item reads and writes, queries on the table
 * and its indexes, batches, and transactions with condition checks). No Scan, no streams.
 */
const TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
] as const;

/** The five Lambda functions of the gateway. */
export interface SluiceFunctions {
  readonly ingest: nodejs.NodejsFunction;
  readonly operator: nodejs.NodejsFunction;
  readonly deliverer: nodejs.NodejsFunction;
  readonly prober: nodejs.NodejsFunction;
  /** Derives flow counts from the table's stream, off the write path. */
  readonly aggregator: nodejs.NodejsFunction;
}

type FunctionOptions = { description: string; memorySize: number; timeout: Duration; functionName?: string } & Pick<
  nodejs.NodejsFunctionProps,
  'vpc' | 'vpcSubnets' | 'securityGroups'
>;

/** One function from `functions/<dir>/index.ts`, with its own log group. */
function makeFunction(
  scope: Construct,
  id: string,
  dir: string,
  environment: Record<string, string>,
  props: ResolvedProps,
  options: FunctionOptions,
) {
  const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, { retention: props.logRetention, removalPolicy: props.removalPolicy });
  return new nodejs.NodejsFunction(scope, id, {
    entry: path.join(REPO_ROOT, 'functions', dir, 'index.ts'),
    handler: 'handler',
    projectRoot: REPO_ROOT,
    depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    // With tracing on, the handlers add subsegments for their AWS calls and HTTP requests (adapters/aws/x-ray.ts).
    environment: { ...environment, [ENVIRONMENT.tracing]: String(props.tracing) },
    logGroup,
    tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
    // How every function is bundled (local esbuild, never Docker): the one place to change it.
    bundling: functionBundling(),
    ...options,
  });
}

/** Where the functions that call connection endpoints run: in `vpc` when one is given. */
function vpcOptions(scope: Construct, props: ResolvedProps): Pick<nodejs.NodejsFunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'> {
  if (!props.vpc) return {};
  const securityGroup = new ec2.SecurityGroup(scope, 'OutboundSecurityGroup', {
    vpc: props.vpc,
    description: 'Sluice deliverer and prober: outbound calls to connection endpoints and AWS APIs',
    allowAllOutbound: true,
  });
  return {
    vpc: props.vpc,
    vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    securityGroups: [securityGroup],
  };
}

export function buildFunctions(scope: Construct, storage: Storage, scheduling: ProbeScheduling, props: ResolvedProps): SluiceFunctions {
  const stack = Stack.of(scope);
  // The prober's name is fixed at synth time so its own ARN can be given to it
  // (for the one-time schedules it creates) without a circular reference.
  const proberFunctionName = `${Names.uniqueResourceName(scope, { maxLength: 57, separator: '-' })}-prober`;
  const proberArn = stack.formatArn({
    service: 'lambda',
    resource: 'function',
    resourceName: proberFunctionName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  const environment: Record<string, string> = {
    NODE_OPTIONS: '--enable-source-maps',
    POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
    POWERTOOLS_METRICS_NAMESPACE: 'Sluice',
    [ENVIRONMENT.tableName]: storage.table.tableName,
    [ENVIRONMENT.queueUrl]: storage.queue.queueUrl,
    [ENVIRONMENT.bucketName]: storage.bucket.bucketName,
    [ENVIRONMENT.eventBusName]: storage.eventBus.eventBusName,
    [ENVIRONMENT.credentialsKeyId]: storage.credentialsKey.keyArn,
    [ENVIRONMENT.probeFunctionArn]: proberArn,
    [ENVIRONMENT.schedulerRoleArn]: scheduling.role.roleArn,
    [ENVIRONMENT.scheduleGroupName]: scheduling.group.scheduleGroupName,
    [ENVIRONMENT.allowPrivateTargets]: String(props.allowPrivateTargets),
  };
  const inVpc = vpcOptions(scope, props);
  const make = (id: string, dir: string, options: FunctionOptions) => makeFunction(scope, id, dir, environment, props, options);
  const memorySize = props.functionMemorySize;

  const functions: SluiceFunctions = {
    ingest: make('Ingest', 'ingest', {
      description: 'Sluice partner API: authenticate, validate, record and enqueue messages',
      memorySize,
      timeout: Duration.seconds(29),
    }),
    operator: make('Operator', 'operator', {
      description: 'Sluice operator API',
      memorySize,
      timeout: Duration.seconds(29),
      // probe and reauthorize call the connection's endpoint, like the prober.
      ...inVpc,
    }),
    deliverer: make('Deliverer', 'deliverer', {
      description: 'Sluice deliverer: delivers queued messages to connections',
      memorySize: props.delivererMemorySize,
      timeout: props.delivererTimeout,
      ...inVpc,
    }),
    prober: make('Prober', 'prober', {
      description: 'Sluice prober: probes connections that are not online and resumes their flows',
      functionName: proberFunctionName,
      memorySize,
      timeout: Duration.minutes(5),
      ...inVpc,
    }),
    aggregator: make('Aggregator', 'aggregator', {
      description: 'Sluice aggregator: derives flow counts and listings from the table stream, and dates final payloads',
      memorySize,
      timeout: Duration.seconds(60),
    }),
  };
  addEventSources(scope, storage, functions, props);
  grantAccess(storage, scheduling, functions);
  return functions;
}

function addEventSources(scope: Construct, storage: Storage, functions: SluiceFunctions, props: ResolvedProps): void {
  // Only message records count; the filter keeps every other write from invoking it. The
  // mapping is built by hand so the role's stream grant names this table's streams only
  // (the L2 event source grants dynamodb:ListStreams on every resource).
  new lambda.EventSourceMapping(scope, 'AggregatorStream', {
    target: functions.aggregator,
    eventSourceArn: storage.table.tableStreamArn!,
    startingPosition: lambda.StartingPosition.TRIM_HORIZON,
    batchSize: COUNTS_STREAM.batchSize,
    maxBatchingWindow: Duration.seconds(COUNTS_STREAM.batchingWindowSeconds),
    retryAttempts: 10,
    filters: [lambda.FilterCriteria.filter({ dynamodb: { Keys: { sk: { S: lambda.FilterRule.isEqual('MESSAGE') } } } })],
  });
  functions.aggregator.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
      resources: [`${storage.table.tableArn}/stream/*`],
    }),
  );
  functions.deliverer.addEventSource(
    new eventSources.SqsEventSource(storage.queue, { batchSize: props.deliveryBatchSize, reportBatchItemFailures: true }),
  );
}

/**
 * Only what each handler calls: no Scan or streams, no reads for ingest, no deletes or
 * listings for the deliverer, no receives for the prober.
 */
function grantAccess(storage: Storage, scheduling: ProbeScheduling, functions: SluiceFunctions): void {
  const { table, queue, bucket, eventBus, credentialsKey } = storage;
  const { ingest, operator, deliverer, prober, aggregator } = functions;
  for (const fn of [ingest, operator, deliverer, prober]) table.grant(fn, ...TABLE_ACTIONS);
  // The aggregator's writes: the flow's counts item (ADD) and listing pages (Put).
  table.grant(aggregator, 'dynamodb:UpdateItem', 'dynamodb:PutItem');
  const objects = (prefix: string) => bucket.arnForObjects(`${prefix}*`);
  const allowObjects = (fn: lambda.IFunction, actions: string[], resources: string[]) =>
    fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));

  // Ingest: records and queues messages; large payloads go to the bucket as claim checks.
  queue.grantSendMessages(ingest);
  allowObjects(ingest, ['s3:PutObject'], [objects(BUCKET.prefixes.payloads)]);
  eventBus.grantPutEventsTo(ingest);

  // Operator: repairs and restarts. Presigned URLs are signed with this role, so it
  // may read and write every object; it removes refused corrections and lists uploads.
  queue.grantSendMessages(operator);
  // resume, online, reauthorize and recover wake held deliveries by changing their visibility.
  queue.grant(operator, 'sqs:ChangeMessageVisibility');
  allowObjects(operator, ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], [objects('')]);
  allowObjects(operator, ['s3:ListBucket'], [bucket.bucketArn]);
  eventBus.grantPutEventsTo(operator);
  // Envelope encryption: a data key per seal, and decryption to open.
  credentialsKey.grant(operator, 'kms:GenerateDataKey', 'kms:Decrypt');

  // Deliverer: consumes the queue (the event source needs receive and delete), reads
  // payloads (claim checks and corrections) and keeps failed payloads for operators. It
  // sends too: the next round of a parked lane's release (SPEC semantics 15).
  queue.grantConsumeMessages(deliverer);
  queue.grantSendMessages(deliverer);
  allowObjects(deliverer, ['s3:GetObject'], [objects('')]);
  allowObjects(deliverer, ['s3:PutObject'], [objects(BUCKET.prefixes.failed)]);
  eventBus.grantPutEventsTo(deliverer);
  credentialsKey.grantDecrypt(deliverer);

  // Aggregator: tags a final message's payloads for expiry by retention class, and untags
  // them when a replay takes the message up again (BUCKET in adapters/aws/definitions.ts).
  allowObjects(aggregator, ['s3:PutObjectTagging', 's3:DeleteObjectTagging'], [objects('')]);

  // Prober: re-queues missed messages (sweeps) and wakes held deliveries (visibility).
  queue.grantSendMessages(prober);
  queue.grant(prober, 'sqs:ChangeMessageVisibility');
  eventBus.grantPutEventsTo(prober);
  credentialsKey.grantDecrypt(prober);

  allowOneTimeProbes(scheduling, [prober, deliverer, operator]);
}
