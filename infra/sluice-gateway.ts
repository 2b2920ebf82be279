/**
 * `SluiceGateway`: the whole Sluice gateway as one CDK construct. The constructor checks
 * the props once (`checkProps`, which applies the documented defaults) and hands them to
 * the builders: storage, schedules, functions, APIs, alarms. Shapes shared with local mode
 * (keys, indexes, queue attributes, lifecycle rules, environment variable names) come
 * from `adapters/aws/definitions.ts`; nothing here restates them.
 */
import {
  CfnOutput,
  cx_api as cxapi,
  type aws_apigateway as apigateway,
  type aws_apigatewayv2 as apigwv2,
  type aws_cloudwatch as cloudwatch,
  type aws_dynamodb as dynamodb,
  type aws_events as events,
  type aws_iam as iam,
  type aws_kms as kms,
  type aws_s3 as s3,
  type aws_scheduler as scheduler,
  type aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledgeGuardFindings, acknowledgeNagFindings } from './acknowledgements';
import { SluiceAlerts } from './alerts';
import { buildAlarms } from './alarms';
import { buildApis, type PartnerApi } from './apis';
import { buildFunctions, type SluiceFunctions } from './functions';
import { checkProps, type PartnerApiKind, type SluiceGatewayProps } from './props';
import { buildProbeScheduling, buildRecurringProbe } from './schedules';
import { buildStorage } from './storage';

export { DEFAULTS, checkProps, type ApiThrottling, type PartnerApiKind, type SluiceGatewayProps } from './props';
export type { SluiceFunctions } from './functions';

/**
 * The Sluice guaranteed-delivery gateway: the partner API (HTTP API by default, REST on
 * request) and the operator REST API, the ingest / operator / deliverer / prober /
 * aggregator functions, the single DynamoDB table, the FIFO delivery queue with its
 * dead-letter queue, the payload bucket, the credentials KMS key, the operational event
 * bus, the hourly probe schedule and the alarms that matter.
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
  /** Which kind of API serves partners (`partnerApi` prop). */
  public readonly partnerApiKind: PartnerApiKind;
  /** An `HttpApi` by default, a `RestApi` with `partnerApi: 'rest'`. */
  public readonly partnerApi: apigwv2.HttpApi | apigateway.RestApi;
  /** Base URL partners post to. */
  public readonly partnerApiUrl: string;
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
    const resolved = checkProps(this, props);

    const storage = buildStorage(this, resolved);
    const scheduling = buildProbeScheduling(this);
    const functions = buildFunctions(this, storage, scheduling, resolved);
    const probeSchedule = buildRecurringProbe(this, scheduling, functions.prober, resolved);
    const apis = buildApis(this, functions, resolved);
    if (resolved.alerts) {
      new SluiceAlerts(this, 'Alerts', { ...resolved.alerts, eventBus: storage.eventBus, removalPolicy: resolved.removalPolicy });
    }
    const alarms = buildAlarms(this, storage, functions, apis, resolved);

    this.table = storage.table;
    this.queue = storage.queue;
    this.deadLetterQueue = storage.deadLetterQueue;
    this.bucket = storage.bucket;
    this.accessLogsBucket = storage.accessLogsBucket;
    this.eventBus = storage.eventBus;
    this.credentialsKey = storage.credentialsKey;
    this.functions = functions;
    this.probeScheduleGroup = scheduling.group;
    this.schedulerRole = scheduling.role;
    this.probeSchedule = probeSchedule;
    this.partnerApiKind = apis.partner.kind;
    this.partnerApi = apis.partner.api;
    this.partnerApiUrl = apis.partner.url;
    this.operatorApi = apis.operator;
    this.alarms = alarms.alarms;

    this.addOutputs(apis.partner);
    const parts = { scope: this, storage, functions, scheduling, apis, alarms };
    acknowledgeNagFindings(parts, resolved);
    acknowledgeGuardFindings(parts, resolved);
  }

  private addOutputs(partner: PartnerApi): void {
    new CfnOutput(this, 'PartnerApiUrl', {
      value: partner.url,
      description: `Sluice partner API base URL (${partner.kind === 'http' ? 'HTTP' : 'REST'} API)`,
    });
    new CfnOutput(this, 'OperatorApiUrl', { value: this.operatorApi.url, description: 'Sluice operator API base URL (SigV4)' });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'QueueName', { value: this.queue.queueName });
    new CfnOutput(this, 'QueueUrl', { value: this.queue.queueUrl });
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.eventBusName });
  }
}
