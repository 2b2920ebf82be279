/**
 * The options of `SluiceGateway`, their defaults, and `checkProps()`, which validates
 * them and fills in every default once, before anything is built (as the
 * aws-solutions-constructs helpers do), so the builders never see an optional.
 */
import {
  Annotations,
  Duration,
  RemovalPolicy,
  type aws_cloudwatch as cloudwatch,
  type aws_ec2 as ec2,
  aws_logs as logs,
  aws_scheduler as scheduler,
  type aws_sns as sns,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DELIVERY_QUEUE } from '../adapters/aws/definitions';
import type { AlertsOptions } from './alerts';

/** Throttling of one API stage (REST: the stage's method settings; HTTP: the stage's default route settings). */
export interface ApiThrottling {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Burst bucket size. */
  readonly burstLimit: number;
}

/**
 * Which kind of API Gateway API serves partners.
 * - `'http'`: an HTTP API (API Gateway v2, payload format 2.0), $1.00 per million requests.
 * - `'rest'`: a REST API, $3.50 per million, for teams that need a WAF web ACL
 *   (`partnerWebAclArn`), usage plans, or API Gateway's own rejections as problem+json.
 */
export type PartnerApiKind = 'http' | 'rest';

/** Options of `SluiceGateway`. Every option has a working default. */
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
   * The kind of API that serves partners. Both route the same partner resources to the
   * ingest function, throttle their stage and write access logs. Only a REST API can
   * take a WAF web ACL or usage plans, and answer API Gateway's own rejections
   * (throttling, unknown routes) as problem+json; an HTTP API answers those with its
   * fixed `{"message": …}` bodies (429 "Too Many Requests", 413 "Request Entity Too Large").
   * @default 'http'
   */
  readonly partnerApi?: PartnerApiKind;

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
   * that REST API access and execution logging needs. Set to `false` when the account
   * already has one configured in this region (the setting is one per account and region).
   * @default true
   */
  readonly createApiGatewayCloudWatchRole?: boolean;

  /**
   * ARN of a WAFv2 web ACL (scope REGIONAL) to associate with the partner API stage.
   * Needs `partnerApi: 'rest'`: HTTP APIs cannot be associated with a web ACL.
   * @default - no web ACL
   */
  readonly partnerWebAclArn?: string;

  /**
   * Operational events (connection offline/unauthorized, flow paused, message failed…)
   * to e-mail addresses or an existing SNS topic. See `SluiceAlerts`.
   * @default - no alerts
   */
  readonly alerts?: AlertsOptions;

  /**
   * X-Ray active tracing of every function (with subsegments for each AWS and HTTP
   * call) and of a REST partner API's stage. Sampled by X-Ray's default rule, it costs
   * about $0.28 per million messages posted one by one (`npm run bench`); `false` turns it off.
   * @default true
   */
  readonly tracing?: boolean;
}

/** The defaults of `SluiceGatewayProps` (the cost model in `bench/` reads them too). */
export const DEFAULTS = {
  deliveryBatchSize: 10,
  delivererMemorySize: 512,
  delivererTimeout: Duration.seconds(150),
  functionMemorySize: 256,
  probeSchedule: scheduler.ScheduleExpression.rate(Duration.hours(1)),
  allowPrivateTargets: false,
  oldestMessageAgeThreshold: Duration.minutes(90),
  logRetention: logs.RetentionDays.ONE_YEAR,
  removalPolicy: RemovalPolicy.RETAIN,
  partnerApi: 'http',
  partnerApiThrottling: { rateLimit: 500, burstLimit: 1000 },
  operatorApiThrottling: { rateLimit: 50, burstLimit: 100 },
  createApiGatewayCloudWatchRole: true,
  tracing: true,
} as const;

/** The props with every default applied: what the builders read. */
export interface ResolvedProps
  extends Required<
    Pick<
      SluiceGatewayProps,
      | 'deliveryBatchSize'
      | 'delivererMemorySize'
      | 'delivererTimeout'
      | 'functionMemorySize'
      | 'probeSchedule'
      | 'allowPrivateTargets'
      | 'oldestMessageAgeThreshold'
      | 'logRetention'
      | 'removalPolicy'
      | 'partnerApi'
      | 'partnerApiThrottling'
      | 'operatorApiThrottling'
      | 'createApiGatewayCloudWatchRole'
      | 'tracing'
    >
  > {
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly alarmTopic?: sns.ITopic;
  readonly alarmActions: cloudwatch.IAlarmAction[];
  readonly partnerWebAclArn?: string;
  readonly alerts?: AlertsOptions;
  /** `removalPolicy` is DESTROY: buckets are emptied on deletion, the table is unprotected. */
  readonly destroy: boolean;
}

function checkThrottling(name: string, throttling: ApiThrottling): void {
  const { rateLimit, burstLimit } = throttling;
  if (!(Number.isFinite(rateLimit) && rateLimit > 0) || !(Number.isInteger(burstLimit) && burstLimit > 0)) {
    throw new Error(`${name} needs a positive rateLimit and a positive integer burstLimit, got ${JSON.stringify(throttling)}`);
  }
}

/**
 * Validates the props and applies the defaults. Throws on a combination that cannot be
 * built or would not work; warns (a synth annotation) on one that works but is probably
 * not what the deployer meant.
 */
export function checkProps(scope: Construct, props: SluiceGatewayProps = {}): ResolvedProps {
  const resolved: ResolvedProps = {
    deliveryBatchSize: props.deliveryBatchSize ?? DEFAULTS.deliveryBatchSize,
    delivererMemorySize: props.delivererMemorySize ?? DEFAULTS.delivererMemorySize,
    delivererTimeout: props.delivererTimeout ?? DEFAULTS.delivererTimeout,
    functionMemorySize: props.functionMemorySize ?? DEFAULTS.functionMemorySize,
    probeSchedule: props.probeSchedule ?? DEFAULTS.probeSchedule,
    allowPrivateTargets: props.allowPrivateTargets ?? DEFAULTS.allowPrivateTargets,
    oldestMessageAgeThreshold: props.oldestMessageAgeThreshold ?? DEFAULTS.oldestMessageAgeThreshold,
    logRetention: props.logRetention ?? DEFAULTS.logRetention,
    removalPolicy: props.removalPolicy ?? DEFAULTS.removalPolicy,
    partnerApi: props.partnerApi ?? DEFAULTS.partnerApi,
    partnerApiThrottling: props.partnerApiThrottling ?? DEFAULTS.partnerApiThrottling,
    operatorApiThrottling: props.operatorApiThrottling ?? DEFAULTS.operatorApiThrottling,
    createApiGatewayCloudWatchRole: props.createApiGatewayCloudWatchRole ?? DEFAULTS.createApiGatewayCloudWatchRole,
    tracing: props.tracing ?? DEFAULTS.tracing,
    alarmActions: [...(props.alarmActions ?? [])],
    destroy: (props.removalPolicy ?? DEFAULTS.removalPolicy) === RemovalPolicy.DESTROY,
    ...(props.vpc ? { vpc: props.vpc } : {}),
    ...(props.vpcSubnets ? { vpcSubnets: props.vpcSubnets } : {}),
    ...(props.alarmTopic ? { alarmTopic: props.alarmTopic } : {}),
    ...(props.partnerWebAclArn ? { partnerWebAclArn: props.partnerWebAclArn } : {}),
    ...(props.alerts ? { alerts: props.alerts } : {}),
  };

  const batchSize = resolved.deliveryBatchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
    throw new Error(`deliveryBatchSize must be an integer from 1 to 10 (FIFO queue limit), got ${batchSize}`);
  }
  const timeout = resolved.delivererTimeout.toSeconds();
  if (timeout * 6 > DELIVERY_QUEUE.visibilityTimeoutSeconds) {
    throw new Error(
      `delivererTimeout (${timeout} s) must be at most one sixth of the queue visibility timeout (${DELIVERY_QUEUE.visibilityTimeoutSeconds} s)`,
    );
  }
  if (resolved.partnerApi !== 'http' && resolved.partnerApi !== 'rest') {
    throw new Error(`partnerApi must be 'http' or 'rest', got ${JSON.stringify(resolved.partnerApi)}`);
  }
  if (resolved.partnerWebAclArn && resolved.partnerApi !== 'rest') {
    throw new Error("partnerWebAclArn needs partnerApi: 'rest' (a WAF web ACL cannot be associated with an HTTP API)");
  }
  checkThrottling('partnerApiThrottling', resolved.partnerApiThrottling);
  checkThrottling('operatorApiThrottling', resolved.operatorApiThrottling);
  if (props.vpcSubnets && !props.vpc) throw new Error('vpcSubnets needs a vpc');
  if (resolved.allowPrivateTargets && !resolved.vpc) {
    Annotations.of(scope).addWarningV2(
      'sluice:privateTargetsWithoutVpc',
      'allowPrivateTargets is true but no vpc is given: private targets are only reachable from a VPC-attached deliverer.',
    );
  }
  return resolved;
}
