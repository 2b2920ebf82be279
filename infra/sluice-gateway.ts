/**
 * `SluiceGateway`: the whole Sluice gateway as one CDK construct.
 *
 * Every storage and queue shape (keys, indexes, TTL attribute, queue attributes,
 * lifecycle rules, environment variable names) comes from `./definitions.ts`,
 * the single source of truth shared with local mode. Nothing here restates them.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArnFormat,
  Aws,
  CfnOutput,
  Duration,
  Names,
  RemovalPolicy,
  Stack,
  Annotations,
  CfnElement,
  Validations,
  cx_api as cxapi,
  aws_apigateway as apigateway,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  aws_dynamodb as dynamodb,
  aws_ec2 as ec2,
  aws_events as events,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_lambda_event_sources as eventSources,
  aws_lambda_nodejs as nodejs,
  aws_logs as logs,
  aws_s3 as s3,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  aws_sns as sns,
  aws_sqs as sqs,
  aws_wafv2 as wafv2,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { problemOf, type ProblemCode } from '../core/problems';
import {
  BUCKET,
  DEAD_LETTER_QUEUE,
  DELIVERY_QUEUE,
  ENVIRONMENT,
  TABLE,
  type AttributeType,
  type QueueDefinition,
} from '../adapters/aws/definitions';
import { SluiceAlerts, type AlertsOptions } from './alerts';
import { functionBundling } from './function-bundling';

/** API Gateway's own answers mapped to the product's problem codes (SPEC "Errors"). */
const GATEWAY_PROBLEMS: [apigateway.ResponseType, ProblemCode][] = [
  [apigateway.ResponseType.THROTTLED, 'throttled'],
  [apigateway.ResponseType.QUOTA_EXCEEDED, 'throttled'],
  [apigateway.ResponseType.ACCESS_DENIED, 'forbidden'],
  [apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, 'forbidden'],
  [apigateway.ResponseType.INVALID_SIGNATURE, 'forbidden'],
  [apigateway.ResponseType.EXPIRED_TOKEN, 'forbidden'],
  [apigateway.ResponseType.UNAUTHORIZED, 'unauthenticated'],
  [apigateway.ResponseType.REQUEST_TOO_LARGE, 'payload-too-large'],
  [apigateway.ResponseType.DEFAULT_5XX, 'internal'],
];

/** Repository root: this file lives in `<root>/infra/`. Independent of `process.cwd()`. */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Throttling of one REST API stage. */
export interface ApiThrottling {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Burst bucket size. */
  readonly burstLimit: number;
}

/** Options of {@link SluiceGateway}. Every option has a working default. */
export interface SluiceGatewayProps {
  /**
   * Largest batch of SQS messages handed to one deliverer invocation.
   * Between 1 and 10 (FIFO queues allow at most 10).
   * @default 10
   */
  readonly deliveryBatchSize?: number;

  /**
   * Memory of the deliverer function, in MiB.
   * @default 512
   */
  readonly delivererMemorySize?: number;

  /**
   * Timeout of the deliverer function. Must not exceed one sixth of the delivery
   * queue's visibility timeout (AWS guidance for SQS event sources), i.e. 150 s
   * with the 900 s visibility timeout from `DELIVERY_QUEUE`.
   * @default Duration.seconds(150)
   */
  readonly delivererTimeout?: Duration;

  /**
   * Memory of the ingest, operator and prober functions, in MiB.
   * @default 256
   */
  readonly functionMemorySize?: number;

  /**
   * How often connections that are not online are probed.
   * @default ScheduleExpression.rate(Duration.hours(1)) — `rate(1 hour)`
   */
  readonly probeSchedule?: scheduler.ScheduleExpression;

  /**
   * Allow connection URLs that resolve to private address ranges (RFC 1918, ULA).
   * Only meaningful with a `vpc` through which such targets are reachable.
   * Loopback, link-local and unspecified addresses are always refused.
   * @default false
   */
  readonly allowPrivateTargets?: boolean;

  /**
   * VPC to attach the functions that call connection endpoints to: the deliverer,
   * the prober and the operator (probe, reauthorize). The subnets need egress to AWS
   * service endpoints.
   * @default - functions are not attached to a VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Subnets of `vpc` for the deliverer, the prober and the operator.
   * @default - private subnets with egress (`SubnetType.PRIVATE_WITH_EGRESS`)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * SNS topic notified when an alarm changes to ALARM or back to OK.
   * @default - no topic
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Further actions run when an alarm goes into ALARM state.
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];

  /**
   * Alarm threshold on the age of the oldest message in the delivery queue.
   * Held deliveries (offline or unauthorized connections) legitimately wait for
   * the hourly probe, so the default is one probe period plus 30 minutes of margin:
   * the alarm means "a connection has been down for more than one probe cycle".
   * @default Duration.minutes(90)
   */
  readonly oldestMessageAgeThreshold?: Duration;

  /**
   * Retention of the function log groups and the API access and execution log groups.
   * A year is the minimum Control Tower expects (CT.CLOUDWATCH.PR.2); a shorter
   * retention is the deployer's documented choice and acknowledged as such.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Removal policy of stateful resources (table, queues, buckets, KMS key, log groups).
   * With `RemovalPolicy.DESTROY` the buckets are also emptied on deletion
   * (`autoDeleteObjects`) and the table's deletion protection is off.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Throttling of the partner API stage.
   * @default { rateLimit: 500, burstLimit: 1000 }
   */
  readonly partnerApiThrottling?: ApiThrottling;

  /**
   * Throttling of the operator API stage.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly operatorApiThrottling?: ApiThrottling;

  /**
   * Create the region-wide API Gateway CloudWatch Logs role (`AWS::ApiGateway::Account`)
   * that access logging needs. Set to `false` when the account already has one
   * configured in this region (the setting is one per account and region).
   * @default true
   */
  readonly createApiGatewayCloudWatchRole?: boolean;

  /**
   * ARN of a WAFv2 web ACL (scope REGIONAL) to associate with the partner API stage.
   * @default - no web ACL
   */
  readonly partnerWebAclArn?: string;

  /**
   * Operational events (connection offline/unauthorized, flow paused, message failed…)
   * to e-mail addresses or an existing SNS topic. See `SluiceAlerts`.
   * @default - no alerts
   */
  readonly alerts?: AlertsOptions;
}

/** The five Lambda functions of the gateway. */
export interface SluiceFunctions {
  readonly ingest: nodejs.NodejsFunction;
  readonly operator: nodejs.NodejsFunction;
  readonly deliverer: nodejs.NodejsFunction;
  readonly prober: nodejs.NodejsFunction;
  /** Derives flow counts from the table's stream, off the write path. */
  readonly aggregator: nodejs.NodejsFunction;
}

/** The one stage of each REST API (a literal: the execution log group's name needs it before the stage exists). */
const STAGE_NAME = 'prod';

/** Name of the cfn-guard policy validation plugin: the namespace of its rule ids. */
const GUARD_PLUGIN = 'cdk-validator-cfnguard';

/** Days a replaced or deleted object version stays in a versioned bucket. */
const NONCURRENT_VERSION_DAYS = 30;

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

/** The table operations behind TABLE_ACTIONS, watched for throttling (TransactWriteItems included). */
const TABLE_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.BATCH_GET_ITEM,
  dynamodb.Operation.QUERY,
  dynamodb.Operation.PUT_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.DELETE_ITEM,
  dynamodb.Operation.BATCH_WRITE_ITEM,
  dynamodb.Operation.TRANSACT_WRITE_ITEMS,
];

const DEFAULTS = {
  deliveryBatchSize: 10,
  delivererMemorySize: 512,
  delivererTimeout: Duration.seconds(150),
  functionMemorySize: 256,
  oldestMessageAgeThreshold: Duration.minutes(90),
  logRetention: logs.RetentionDays.ONE_YEAR,
  removalPolicy: RemovalPolicy.RETAIN,
  partnerApiThrottling: { rateLimit: 500, burstLimit: 1000 },
  operatorApiThrottling: { rateLimit: 50, burstLimit: 100 },
} as const;

/** Service name reported by Powertools (logger, metrics) in every function. */
const SERVICE_NAME = 'sluice';

const ATTRIBUTE_TYPES: Record<AttributeType, dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
};

const DEDUPLICATION_SCOPES: Record<QueueDefinition['deduplicationScope'], sqs.DeduplicationScope> = {
  messageGroup: sqs.DeduplicationScope.MESSAGE_GROUP,
};

const FIFO_THROUGHPUT_LIMITS: Record<QueueDefinition['fifoThroughputLimit'], sqs.FifoThroughputLimit> = {
  perMessageGroupId: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
};

/**
 * The Sluice guaranteed-delivery gateway: partner and operator REST APIs, the
 * ingest / operator / deliverer / prober functions, the single DynamoDB table,
 * the FIFO delivery queue with its dead-letter queue, the payload bucket, the
 * credentials KMS key, the operational event bus, the hourly probe schedule and
 * the alarms that matter.
 */
export class SluiceGateway extends Construct {
  public readonly table: dynamodb.Table;
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly bucket: s3.Bucket;
  /** Receives the server access logs of `bucket`. */
  public readonly accessLogsBucket: s3.Bucket;
  public readonly eventBus: events.EventBus;
  /** Encrypts connection credentials and signing secrets at rest. */
  public readonly credentialsKey: kms.Key;
  public readonly partnerApi: apigateway.RestApi;
  public readonly operatorApi: apigateway.RestApi;
  public readonly functions: SluiceFunctions;
  /** Group holding the one-time probe schedules the prober creates at run time. */
  public readonly probeScheduleGroup: scheduler.ScheduleGroup;
  /** The recurring (hourly) probe schedule. */
  public readonly probeSchedule: scheduler.Schedule;
  /** Role EventBridge Scheduler assumes to invoke the prober. */
  public readonly schedulerRole: iam.Role;
  public readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: SluiceGatewayProps = {}) {
    super(scope, id);
    // Server access log delivery through a bucket policy (not ACLs), whatever the app's flags.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);

    const batchSize = props.deliveryBatchSize ?? DEFAULTS.deliveryBatchSize;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
      throw new Error(`deliveryBatchSize must be an integer from 1 to 10 (FIFO queue limit), got ${batchSize}`);
    }
    const delivererTimeout = props.delivererTimeout ?? DEFAULTS.delivererTimeout;
    if (delivererTimeout.toSeconds() * 6 > DELIVERY_QUEUE.visibilityTimeoutSeconds) {
      throw new Error(
        `delivererTimeout (${delivererTimeout.toSeconds()} s) must be at most one sixth of the queue visibility timeout (${DELIVERY_QUEUE.visibilityTimeoutSeconds} s)`,
      );
    }
    const removalPolicy = props.removalPolicy ?? DEFAULTS.removalPolicy;
    const destroy = removalPolicy === RemovalPolicy.DESTROY;
    const logRetention = props.logRetention ?? DEFAULTS.logRetention;
    const allowPrivateTargets = props.allowPrivateTargets ?? false;
    if (allowPrivateTargets && !props.vpc) {
      Annotations.of(this).addWarningV2(
        'sluice:privateTargetsWithoutVpc',
        'allowPrivateTargets is true but no vpc is given: private targets are only reachable from a VPC-attached deliverer.',
      );
    }
    const stack = Stack.of(this);

    // ---------------------------------------------------------------- storage
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE.partitionKey.name, type: ATTRIBUTE_TYPES[TABLE.partitionKey.type] },
      sortKey: { name: TABLE.sortKey.name, type: ATTRIBUTE_TYPES[TABLE.sortKey.type] },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE.timeToLiveAttribute,
      stream: dynamodb.StreamViewType[TABLE.stream],
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: !destroy,
      removalPolicy,
    });
    for (const index of TABLE.globalSecondaryIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey.name, type: ATTRIBUTE_TYPES[index.partitionKey.type] },
        sortKey: { name: index.sortKey.name, type: ATTRIBUTE_TYPES[index.sortKey.type] },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      queueName: this.queueName(DEAD_LETTER_QUEUE.nameSuffix),
      fifo: DEAD_LETTER_QUEUE.fifo,
      retentionPeriod: Duration.seconds(DEAD_LETTER_QUEUE.retentionPeriodSeconds),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Queued deliveries are accepted messages: they outlive the stack like the table does.
      removalPolicy,
    });
    this.queue = new sqs.Queue(this, 'DeliveryQueue', {
      queueName: this.queueName(DELIVERY_QUEUE.nameSuffix),
      fifo: DELIVERY_QUEUE.fifo,
      contentBasedDeduplication: DELIVERY_QUEUE.contentBasedDeduplication,
      deduplicationScope: DEDUPLICATION_SCOPES[DELIVERY_QUEUE.deduplicationScope],
      fifoThroughputLimit: FIFO_THROUGHPUT_LIMITS[DELIVERY_QUEUE.fifoThroughputLimit],
      visibilityTimeout: Duration.seconds(DELIVERY_QUEUE.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(DELIVERY_QUEUE.retentionPeriodSeconds),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: DEAD_LETTER_QUEUE.maxReceiveCount },
      removalPolicy,
    });

    // Versioned buckets keep a replaced or deleted object for a while, then drop it.
    const noncurrentVersionExpiration = Duration.days(NONCURRENT_VERSION_DAYS);
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // S3 server access logging delivers only to targets encrypted with SSE-S3.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365), noncurrentVersionExpiration }],
      removalPolicy,
      autoDeleteObjects: destroy,
    });
    this.bucket = new s3.Bucket(this, 'PayloadBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // Partner payloads under KMS (the account's aws/s3 key, so presigned URLs signed by
      // the operator need no key grants); bucket keys keep KMS requests per object low.
      encryption: s3.BucketEncryption.KMS_MANAGED,
      bucketKeyEnabled: true,
      enforceSSL: true,
      // An operator's upload or a lifecycle slip can be undone for a while.
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'payload-bucket/',
      lifecycleRules: BUCKET.lifecycleRules.map((rule) => ({
        id: rule.id,
        prefix: rule.prefix,
        expiration: Duration.days(rule.expirationDays),
        noncurrentVersionExpiration,
      })),
      removalPolicy,
      autoDeleteObjects: destroy,
    });

    this.credentialsKey = new kms.Key(this, 'CredentialsKey', {
      description: 'Sluice: encrypts connection credentials and signing secrets at rest',
      enableKeyRotation: true,
      removalPolicy,
    });
    // Nothing creates grants on this key; only AWS services acting for a principal may.
    this.credentialsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyGrantsExceptForAwsServices',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
      }),
    );

    this.eventBus = new events.EventBus(this, 'EventBus', {
      description: 'Sluice operational events (message failed, connection offline/online, flow paused/resumed/stopped)',
    });

    // -------------------------------------------------------------- scheduler
    this.probeScheduleGroup = new scheduler.ScheduleGroup(this, 'ProbeScheduleGroup', {
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const defaultGroupArn = stack.formatArn({
      service: 'scheduler',
      resource: 'schedule-group',
      resourceName: 'default',
    });
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'Assumed by EventBridge Scheduler to invoke the Sluice prober',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnEquals: { 'aws:SourceArn': [defaultGroupArn, this.probeScheduleGroup.scheduleGroupArn] },
        },
      }),
    });

    // -------------------------------------------------------------- functions
    // The prober's name is fixed at synth time so its own ARN can be given to it
    // (for the one-time schedules it creates) without a circular reference.
    const proberFunctionName = `${Names.uniqueResourceName(this, { maxLength: 57, separator: '-' })}-prober`;
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
      [ENVIRONMENT.tableName]: this.table.tableName,
      [ENVIRONMENT.queueUrl]: this.queue.queueUrl,
      [ENVIRONMENT.bucketName]: this.bucket.bucketName,
      [ENVIRONMENT.eventBusName]: this.eventBus.eventBusName,
      [ENVIRONMENT.credentialsKeyId]: this.credentialsKey.keyArn,
      [ENVIRONMENT.probeFunctionArn]: proberArn,
      [ENVIRONMENT.schedulerRoleArn]: this.schedulerRole.roleArn,
      [ENVIRONMENT.scheduleGroupName]: this.probeScheduleGroup.scheduleGroupName,
      [ENVIRONMENT.allowPrivateTargets]: String(allowPrivateTargets),
    };

    const functionMemorySize = props.functionMemorySize ?? DEFAULTS.functionMemorySize;
    let vpcOptions: Pick<nodejs.NodejsFunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'> = {};
    if (props.vpc) {
      const securityGroup = new ec2.SecurityGroup(this, 'OutboundSecurityGroup', {
        vpc: props.vpc,
        description: 'Sluice deliverer and prober: outbound calls to connection endpoints and AWS APIs',
        allowAllOutbound: true,
      });
      vpcOptions = {
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [securityGroup],
      };
    }

    const makeFunction = (
      id: string,
      dir: string,
      options: { description: string; memorySize: number; timeout: Duration; functionName?: string } & Pick<
        nodejs.NodejsFunctionProps,
        'vpc' | 'vpcSubnets' | 'securityGroups'
      >,
    ): nodejs.NodejsFunction => {
      const logGroup = new logs.LogGroup(this, `${id}LogGroup`, { retention: logRetention, removalPolicy });
      return new nodejs.NodejsFunction(this, id, {
        entry: path.join(REPO_ROOT, 'functions', dir, 'index.ts'),
        handler: 'handler',
        projectRoot: REPO_ROOT,
        depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        environment,
        logGroup,
        // Powertools Tracer in the handlers records segments for every AWS call.
        tracing: lambda.Tracing.ACTIVE,
        bundling: functionBundling(),
        ...options,
      });
    };

    const ingest = makeFunction('Ingest', 'ingest', {
      description: 'Sluice partner API: authenticate, validate, record and enqueue messages',
      memorySize: functionMemorySize,
      timeout: Duration.seconds(29),
    });
    const operator = makeFunction('Operator', 'operator', {
      description: 'Sluice operator API',
      memorySize: functionMemorySize,
      timeout: Duration.seconds(29),
      // probe and reauthorize call the connection's endpoint, like the prober.
      ...vpcOptions,
    });
    const deliverer = makeFunction('Deliverer', 'deliverer', {
      description: 'Sluice deliverer: delivers queued messages to connections',
      memorySize: props.delivererMemorySize ?? DEFAULTS.delivererMemorySize,
      timeout: delivererTimeout,
      ...vpcOptions,
    });
    const prober = makeFunction('Prober', 'prober', {
      description: 'Sluice prober: probes connections that are not online and resumes their flows',
      functionName: proberFunctionName,
      memorySize: functionMemorySize,
      timeout: Duration.minutes(5),
      ...vpcOptions,
    });
    const aggregator = makeFunction('Aggregator', 'aggregator', {
      description: 'Sluice aggregator: derives flow counts from the table stream',
      memorySize: functionMemorySize,
      timeout: Duration.seconds(60),
    });
    this.functions = { ingest, operator, deliverer, prober, aggregator };

    // Only message records count; the filter keeps every other write from invoking it. The
    // mapping is built by hand so the role's stream grant names this table's streams only
    // (the L2 event source grants dynamodb:ListStreams on every resource).
    new lambda.EventSourceMapping(this, 'AggregatorStream', {
      target: aggregator,
      eventSourceArn: this.table.tableStreamArn!,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 1000,
      maxBatchingWindow: Duration.seconds(1),
      retryAttempts: 10,
      filters: [lambda.FilterCriteria.filter({ dynamodb: { Keys: { sk: { S: lambda.FilterRule.isEqual('MESSAGE') } } } })],
    });
    aggregator.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
        resources: [`${this.table.tableArn}/stream/*`],
      }),
    );
    // Its writes: the flow's counts item (ADD) and listing pages (Put).
    this.table.grant(aggregator, 'dynamodb:UpdateItem', 'dynamodb:PutItem');

    deliverer.addEventSource(
      new eventSources.SqsEventSource(this.queue, { batchSize, reportBatchItemFailures: true }),
    );

    // ----------------------------------------------------------------- grants
    // Only what each handler calls: no Scan or streams, no reads for ingest, no deletes
    // or listings for the deliverer, no receives for the prober.
    for (const fn of [ingest, operator, deliverer, prober]) this.table.grant(fn, ...TABLE_ACTIONS);
    const objects = (prefix: string) => this.bucket.arnForObjects(`${prefix}*`);
    const allowObjects = (fn: nodejs.NodejsFunction, actions: string[], resources: string[]) =>
      fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));

    // Ingest: records and queues messages; large payloads go to the bucket as claim checks.
    this.queue.grantSendMessages(ingest);
    allowObjects(ingest, ['s3:PutObject'], [objects(BUCKET.prefixes.payloads)]);
    this.eventBus.grantPutEventsTo(ingest);

    // Operator: repairs and restarts. Presigned URLs are signed with this role, so it
    // may read and write every object; it removes refused corrections and lists uploads.
    this.queue.grantSendMessages(operator);
    // resume, online, reauthorize and recover wake held deliveries by changing their visibility.
    this.queue.grant(operator, 'sqs:ChangeMessageVisibility');
    allowObjects(operator, ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], [objects('')]);
    allowObjects(operator, ['s3:ListBucket'], [this.bucket.bucketArn]);
    this.eventBus.grantPutEventsTo(operator);
    // Envelope encryption: a data key per seal, and decryption to open.
    this.credentialsKey.grant(operator, 'kms:GenerateDataKey', 'kms:Decrypt');

    // Deliverer: consumes the queue (the event source needs receive and delete), reads
    // payloads (claim checks and corrections) and keeps failed payloads for operators.
    this.queue.grantConsumeMessages(deliverer);
    allowObjects(deliverer, ['s3:GetObject'], [objects('')]);
    allowObjects(deliverer, ['s3:PutObject'], [objects(BUCKET.prefixes.failed)]);
    this.eventBus.grantPutEventsTo(deliverer);
    this.credentialsKey.grantDecrypt(deliverer);

    // Prober: re-queues missed messages (sweeps) and wakes held deliveries (visibility).
    this.queue.grantSendMessages(prober);
    this.queue.grant(prober, 'sqs:ChangeMessageVisibility');
    this.eventBus.grantPutEventsTo(prober);
    this.credentialsKey.grantDecrypt(prober);
    const oneTimeSchedulesArn = stack.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.probeScheduleGroup.scheduleGroupName}/*`,
    });
    // The deliverer (a connection goes down), the operator (manual offline/online,
    // reauthorize) and the prober (a connection comes back) manage one-time probes.
    for (const fn of [prober, deliverer, operator]) {
      this.schedulerRole.grantPassRole(fn.grantPrincipal);
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'],
          resources: [oneTimeSchedulesArn],
        }),
      );
    }

    this.probeSchedule = new scheduler.Schedule(this, 'HourlyProbe', {
      description: 'Sluice: probe every connection that is not online',
      schedule: props.probeSchedule ?? scheduler.ScheduleExpression.rate(Duration.hours(1)),
      target: new schedulerTargets.LambdaInvoke(prober, {
        role: this.schedulerRole,
        input: scheduler.ScheduleTargetInput.fromObject({ kind: 'hourly' }),
        // A missed hourly probe is replaced by the next one.
        maxEventAge: Duration.hours(1),
        retryAttempts: 3,
      }),
    });

    // ------------------------------------------------------------------- APIs
    let apiGatewayAccount: apigateway.CfnAccount | undefined;
    if (props.createApiGatewayCloudWatchRole ?? true) {
      const role = new iam.Role(this, 'ApiGatewayCloudWatchRole', {
        assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
        managedPolicies: [
          iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs'),
        ],
      });
      role.applyRemovalPolicy(RemovalPolicy.RETAIN);
      apiGatewayAccount = new apigateway.CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
      apiGatewayAccount.applyRemovalPolicy(RemovalPolicy.RETAIN);
      apiGatewayAccount.node.addDependency(role);
    }

    const makeApi = (
      id: string,
      description: string,
      throttling: ApiThrottling,
      defaultMethodOptions: apigateway.MethodOptions,
    ): apigateway.RestApi => {
      const accessLogs = new logs.LogGroup(this, `${id}AccessLogs`, { retention: logRetention, removalPolicy });
      const api = new apigateway.RestApi(this, id, {
        description,
        binaryMediaTypes: ['*/*'],
        endpointTypes: [apigateway.EndpointType.REGIONAL],
        cloudWatchRole: false,
        defaultMethodOptions,
        deployOptions: {
          stageName: STAGE_NAME,
          accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
          accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
          loggingLevel: apigateway.MethodLoggingLevel.ERROR,
          dataTraceEnabled: false,
          tracingEnabled: true,
          metricsEnabled: true,
          throttlingRateLimit: throttling.rateLimit,
          throttlingBurstLimit: throttling.burstLimit,
        },
      });
      // API Gateway writes execution logs to a group of its own naming; created here
      // (before the stage can log) so that it has a retention and goes with the stack.
      // A stage deployed by an earlier version may already have created it: such a
      // stack needs the group imported (or deleted) before this update.
      const executionLogs = new logs.LogGroup(this, `${id}ExecutionLogs`, {
        logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${STAGE_NAME}`,
        retention: logRetention,
        removalPolicy,
      });
      api.deploymentStage.node.addDependency(executionLogs);
      // No API Gateway request validator: requests are validated by the handlers, which
      // answer RFC 9457 problems and write rejections on an existing flow to its log.
      // Answers API Gateway gives itself (throttling, IAM denials, unknown routes) are
      // RFC 9457 problems too, like every answer of the handlers.
      for (const [type, code] of GATEWAY_PROBLEMS) {
        const problem = problemOf(code, '$context.error.message');
        api.addGatewayResponse(`${code}-${type.responseType}`, {
          type,
          statusCode: String(problem.status),
          responseHeaders: { 'Content-Type': "'application/problem+json'" },
          templates: { 'application/json': JSON.stringify(problem) },
        });
      }
      if (apiGatewayAccount) api.deploymentStage.node.addDependency(apiGatewayAccount);
      return api;
    };

    // Partner API: the API key is checked by the ingest handler, not API Gateway,
    // because rejections on an existing flow must be written to that flow's log.
    this.partnerApi = makeApi(
      'PartnerApi',
      'Sluice partner API',
      props.partnerApiThrottling ?? DEFAULTS.partnerApiThrottling,
      { authorizationType: apigateway.AuthorizationType.NONE },
    );
    const ingestIntegration = new apigateway.LambdaIntegration(ingest, { allowTestInvoke: false });
    const messages = this.partnerApi.root
      .addResource('v1')
      .addResource('flows')
      .addResource('{flowId}')
      .addResource('messages');
    messages.addMethod('POST', ingestIntegration);
    messages.addResource('{messageId}').addMethod('GET', ingestIntegration);
    if (props.partnerWebAclArn) {
      new wafv2.CfnWebACLAssociation(this, 'PartnerApiWebAcl', {
        resourceArn: this.partnerApi.deploymentStage.stageArn,
        webAclArn: props.partnerWebAclArn,
      });
    }

    // Operator API: every route requires SigV4 (IAM) except the data-free health check.
    this.operatorApi = makeApi(
      'OperatorApi',
      'Sluice operator API (IAM-authorized)',
      props.operatorApiThrottling ?? DEFAULTS.operatorApiThrottling,
      { authorizationType: apigateway.AuthorizationType.IAM },
    );
    const operatorIntegration = new apigateway.LambdaIntegration(operator, { allowTestInvoke: false });
    this.operatorApi.root.addResource('v1').addProxy({ anyMethod: true, defaultIntegration: operatorIntegration });
    const healthMethod = this.operatorApi.root
      .addResource('health')
      .addMethod('GET', operatorIntegration, { authorizationType: apigateway.AuthorizationType.NONE });

    if (props.alerts) new SluiceAlerts(this, 'Alerts', { ...props.alerts, eventBus: this.eventBus, removalPolicy });

    // ----------------------------------------------------------------- alarms
    const alarmActions: cloudwatch.IAlarmAction[] = [...(props.alarmActions ?? [])];
    const okActions: cloudwatch.IAlarmAction[] = [];
    if (props.alarmTopic) {
      alarmActions.push(new cwActions.SnsAction(props.alarmTopic));
      okActions.push(new cwActions.SnsAction(props.alarmTopic));
    }
    const period = Duration.minutes(5);
    const alarm = (id: string, description: string, metric: cloudwatch.IMetric, threshold: number): cloudwatch.Alarm => {
      const created = new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(...alarmActions);
      created.addOkAction(...okActions);
      return created;
    };
    const ageThreshold = props.oldestMessageAgeThreshold ?? DEFAULTS.oldestMessageAgeThreshold;
    const sum = { period, statistic: cloudwatch.Stats.SUM };
    this.alarms = [
      alarm(
        'IngestErrorsAlarm',
        'Sluice ingest invocations failed: partners get 500s and their messages are not accepted.',
        ingest.metricErrors(sum),
        0,
      ),
      alarm(
        'OperatorErrorsAlarm',
        'Sluice operator API invocations failed (a bug or an internal error).',
        operator.metricErrors(sum),
        0,
      ),
      alarm(
        'PartnerApi5xxAlarm',
        'Sluice partner API answered 5XX (handler errors, timeouts or integration failures).',
        this.partnerApi.metricServerError(sum),
        0,
      ),
      alarm(
        'OperatorApi5xxAlarm',
        'Sluice operator API answered 5XX (handler errors, timeouts or integration failures).',
        this.operatorApi.metricServerError(sum),
        0,
      ),
      alarm(
        'TableThrottlesAlarm',
        'Sluice table requests were throttled: ingest and delivery slow down or fail with internal errors.',
        this.table.metricThrottledRequestsForOperations({
          operations: TABLE_OPERATIONS,
          period,
          label: 'Throttled requests (all operations Sluice uses)',
        }),
        0,
      ),
      alarm(
        'DelivererErrorsAlarm',
        'Sluice deliverer invocations failed (a bug or an internal error, not a target failure).',
        deliverer.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
        0,
      ),
      alarm(
        'ProberErrorsAlarm',
        'Sluice prober invocations failed: offline connections may not be resumed.',
        prober.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
        0,
      ),
      alarm(
        'OldestDeliveryAgeAlarm',
        `Oldest delivery has waited more than ${ageThreshold.toHumanString()}: a connection has stayed offline or unauthorized beyond one probe cycle, or delivery is stuck.`,
        this.queue.metricApproximateAgeOfOldestMessage({ period, statistic: cloudwatch.Stats.MAXIMUM }),
        ageThreshold.toSeconds(),
      ),
      alarm(
        'DeadLetterQueueAlarm',
        'Deliveries reached the dead-letter queue (the deliverer could not process them).',
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM }),
        0,
      ),
    ];

    // ---------------------------------------------------------------- outputs
    new CfnOutput(this, 'PartnerApiUrl', { value: this.partnerApi.url, description: 'Sluice partner API base URL' });
    new CfnOutput(this, 'OperatorApiUrl', { value: this.operatorApi.url, description: 'Sluice operator API base URL (SigV4)' });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'QueueName', { value: this.queue.queueName });
    new CfnOutput(this, 'QueueUrl', { value: this.queue.queueUrl });
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.eventBusName });

    this.acknowledgeNagFindings(healthMethod, !props.partnerWebAclArn);
    this.acknowledgeGuardFindings({
      alarmsHaveActions: alarmActions.length > 0,
      logRetentionDays: logRetention,
      inVpc: props.vpc !== undefined,
    });
  }

  /**
   * Acknowledges the Control Tower rules of cfn-guard (`@cdklabs/cdk-validator-cfnguard`)
   * that Sluice does not follow, each with its reason, on the constructs concerned only.
   * Everything else those rules ask for is built in; a new finding fails the check.
   */
  private acknowledgeGuardFindings(options: { alarmsHaveActions: boolean; logRetentionDays: number; inVpc: boolean }): void {
    const ack = (scope: Construct, rule: string, reason: string): void =>
      Validations.of(scope).acknowledge({ id: `${GUARD_PLUGIN}::${rule}`, reason });

    if (!options.alarmsHaveActions) {
      for (const alarm of this.alarms) {
        ack(alarm, 'cloudwatch_alarm_action_check', 'No alarmTopic or alarmActions given: the alarms are for dashboards until the deployer wires a topic.');
      }
    }
    const logGroups = this.node.findAll().filter((c): c is logs.LogGroup => c instanceof logs.LogGroup);
    for (const group of logGroups) {
      if (options.logRetentionDays < 365) {
        ack(group, 'cloudwatch_log_group_retention_period_check', 'The deployer chose a retention below a year (logRetention).');
      }
      ack(
        group,
        'cloudwatch_log_group_encrypted_check',
        'CloudWatch Logs encrypts every log group at rest with service keys; Sluice never logs payloads or credentials, so a customer key adds cost and key policy without protecting anything more.',
      );
    }
    for (const api of [this.partnerApi, this.operatorApi]) {
      ack(
        api,
        'lambda_function_public_access_prohibited_check',
        'The API Gateway invoke permissions are scoped by SourceArn to this API\'s own methods; the rule cannot evaluate a SourceArn built with Fn::Join.',
      );
    }
    ack(
      this.functions.ingest,
      'lambda_inside_vpc_check',
      'Ingest calls only AWS APIs over TLS with IAM; it never reaches partner or connection endpoints, which is what the vpc option is for.',
    );
    ack(
      this.functions.aggregator,
      'lambda_inside_vpc_check',
      'The aggregator reads the table stream and writes the table over TLS with IAM; it never reaches partner or connection endpoints.',
    );
    if (!options.inVpc) {
      for (const fn of [this.functions.operator, this.functions.deliverer, this.functions.prober]) {
        ack(fn, 'lambda_inside_vpc_check', 'No vpc given: connection endpoints are public HTTPS URLs, checked against private ranges before every call.');
      }
    }
    ack(
      this.accessLogsBucket,
      's3_bucket_default_encryption_kms_check',
      'S3 server access logs can only be delivered to a bucket encrypted with SSE-S3.',
    );
    ack(this.accessLogsBucket, 's3_bucket_logging_enabled_check', 'This bucket is the server access log destination; logging it to itself would loop.');
    for (const bucket of [this.bucket, this.accessLogsBucket]) {
      ack(
        bucket,
        's3_event_notifications_enabled_check',
        'Nothing reacts to object events: the handlers write and read the objects themselves and publish operational events on the event bus.',
      );
      ack(
        bucket,
        's3_bucket_object_lock_enabled_check',
        'Objects must expire by lifecycle and be replaced or removed during repair; object lock would forbid both.',
      );
    }
    // With RemovalPolicy.DESTROY, CDK's stack-wide provider empties the buckets on deletion.
    const autoDelete = Stack.of(this).node.tryFindChild('Custom::S3AutoDeleteObjectsCustomResourceProvider');
    if (autoDelete) {
      ack(autoDelete, 'lambda_inside_vpc_check', 'CDK\'s provider that empties the buckets on stack deletion (RemovalPolicy.DESTROY) calls only S3.');
    }
    ack(
      this.deadLetterQueue,
      'sqs_dlq_check',
      'This is the dead-letter queue of the delivery queue, the last resort; it is alarmed and keeps messages for 14 days.',
    );
  }

  /** A unique, deterministic queue name ending in the suffix from the definitions (SQS names: ≤ 80 chars). */
  private queueName(suffix: string): string {
    const prefix = Names.uniqueResourceName(this, { maxLength: 80 - suffix.length - 1, separator: '-' });
    return `${prefix}-${suffix}`;
  }

  /**
   * Acknowledges (cdk-nag v3: `Validations.acknowledge`) the findings that are by design.
   * IAM5 findings are acknowledged one by one, by their exact finding id, so a new
   * wildcard introduced later still fails the check.
   */
  private acknowledgeNagFindings(healthMethod: apigateway.Method, noPartnerWebAcl: boolean): void {
    const stack = Stack.of(this);
    const ack = (scope: Construct, id: string, reason: string): void => Validations.of(scope).acknowledge({ id, reason });
    const logicalId = (construct: Construct): string =>
      stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
    const { ingest, operator, deliverer, prober, aggregator } = this.functions;
    const functions = [ingest, operator, deliverer, prober, aggregator];

    for (const fn of functions) {
      ack(
        fn,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'AWSLambdaBasicExecutionRole only allows the function to write its own logs.',
      );
      ack(
        fn,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        'AWSLambdaVPCAccessExecutionRole (VPC-attached deliverer and prober only) manages the function\'s network interfaces.',
      );
      ack(
        fn,
        'AwsSolutions-L1',
        'Pinned to nodejs22.x on purpose: bundles target node22 and the code is tested on that major; runtime upgrades are deliberate.',
      );
    }

    // Wildcards produced by the L2 grant methods, each confined to one resource.
    const table = logicalId(this.table);
    const bucket = logicalId(this.bucket);
    // The group name is a generated literal; were it a reference, cdk-nag would print it as <LogicalId>.
    const groupName = stack.resolve(this.probeScheduleGroup.scheduleGroupName) as string | { Ref: string };
    const group = typeof groupName === 'string' ? groupName : `<${groupName.Ref}>`;
    const wildcards: Array<[string, string]> = [
      [`Resource::<${table}.Arn>/index/*`, 'Table.grant: queries on the table\'s own indexes (gsi1–gsi3).'],
      [`Resource::<${table}.Arn>/stream/*`, 'The aggregator reads the table\'s own change stream (the stream ARN ends in a generated label).'],
      [`Resource::<${bucket}.Arn>/*`, 'Object actions (listed one by one) on objects of the payload bucket only.'],
      [`Resource::<${bucket}.Arn>/${BUCKET.prefixes.payloads}*`, 'Ingest writes claim-check payloads under their prefix only.'],
      [`Resource::<${bucket}.Arn>/${BUCKET.prefixes.failed}*`, 'The deliverer writes failed payloads under their prefix only.'],
      [
        'Resource::*',
        'Lambda active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions (the infra test allows Resource "*" for exactly these two actions).',
      ],
      [
        `Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${group}/*`,
        'The prober creates and deletes its one-time probe schedules, and only inside its own schedule group.',
      ],
    ];
    for (const fn of functions) {
      for (const [finding, reason] of wildcards) ack(fn, `AwsSolutions-IAM5[${finding}]`, reason);
    }
    ack(
      this.schedulerRole,
      `AwsSolutions-IAM5[Resource::<${logicalId(prober)}.Arn>:*]`,
      'Function.grantInvoke also covers the prober\'s versions and aliases; the role may invoke nothing else.',
    );

    ack(this.accessLogsBucket, 'AwsSolutions-S1', 'This bucket is the server access log destination; logging it to itself would loop.');

    const cloudWatchRole = this.node.tryFindChild('ApiGatewayCloudWatchRole');
    if (cloudWatchRole) {
      ack(
        cloudWatchRole,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        'AmazonAPIGatewayPushToCloudWatchLogs is the AWS-documented policy of the account-level API Gateway logging role.',
      );
    }

    ack(
      this.partnerApi,
      'AwsSolutions-APIG4',
      'Partner API keys are verified inside the ingest handler (hashed, constant-time), because rejections on an existing flow must be written to that flow\'s log.',
    );
    ack(this.partnerApi, 'AwsSolutions-COG4', 'Partners authenticate with Sluice API keys checked in the ingest handler, not Cognito user pools.');
    if (noPartnerWebAcl) {
      ack(
        this.partnerApi,
        'AwsSolutions-APIG3',
        'A WAFv2 web ACL is optional (partnerWebAclArn): partners are authenticated servers and the stage is throttled.',
      );
    }
    ack(this.operatorApi, 'AwsSolutions-COG4', 'Operator routes use IAM (SigV4) authorization, as the product specifies; /health returns no data.');
    ack(this.operatorApi, 'AwsSolutions-APIG3', 'Every operator route except /health requires SigV4-signed IAM requests, and the stage is throttled.');
    ack(healthMethod, 'AwsSolutions-APIG4', 'GET /health is an unauthenticated liveness check that returns no data.');
    for (const api of [this.partnerApi, this.operatorApi]) {
      ack(
        api,
        'AwsSolutions-APIG2',
        'Requests are validated by the handlers, which answer RFC 9457 problems and write rejections on an existing flow to its log; an API Gateway validator would answer first, in its own format.',
      );
    }
  }
}
