/**
 * The cdk-nag (AwsSolutions) and cfn-guard (Control Tower) findings that are by design,
 * acknowledged one by one with their reasons, on the constructs concerned only. Anything
 * else those rules ask for is built in; a new finding fails `cdk synth` and the tests.
 */
import { type CfnElement, Stack, Validations, aws_logs as logs } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { BUCKET } from '../adapters/aws/definitions';
import type { Alarms } from './alarms';
import type { Apis } from './apis';
import type { SluiceFunctions } from './functions';
import type { ResolvedProps } from './props';
import type { ProbeScheduling } from './schedules';
import type { Storage } from './storage';

/** Name of the cfn-guard policy validation plugin: the namespace of its rule ids. */
const GUARD_PLUGIN = 'cdk-validator-cfnguard';

export interface GatewayParts {
  readonly scope: Construct;
  readonly storage: Storage;
  readonly functions: SluiceFunctions;
  readonly scheduling: ProbeScheduling;
  readonly apis: Apis;
  readonly alarms: Alarms;
}

const ack = (scope: Construct, id: string, reason: string): void => Validations.of(scope).acknowledge({ id, reason });

/** Control Tower rules of cfn-guard (`@cdklabs/cdk-validator-cfnguard`) that Sluice does not follow. */
export function acknowledgeGuardFindings(parts: GatewayParts, props: ResolvedProps): void {
  const guard = (scope: Construct, rule: string, reason: string): void => ack(scope, `${GUARD_PLUGIN}::${rule}`, reason);
  const { storage, functions, apis, alarms, scope } = parts;

  if (!alarms.haveActions) {
    for (const alarm of alarms.alarms) {
      guard(
        alarm,
        'cloudwatch_alarm_action_check',
        'No alarmTopic or alarmActions given: the alarms are for dashboards until the deployer wires a topic.',
      );
    }
  }
  const logGroups = scope.node.findAll().filter((c): c is logs.LogGroup => c instanceof logs.LogGroup);
  for (const group of logGroups) {
    if (props.logRetention < 365) {
      guard(group, 'cloudwatch_log_group_retention_period_check', 'The deployer chose a retention below a year (logRetention).');
    }
    guard(
      group,
      'cloudwatch_log_group_encrypted_check',
      'CloudWatch Logs encrypts every log group at rest with service keys; Sluice never logs payloads or credentials, so a customer key adds cost and key policy without protecting anything more.',
    );
  }
  for (const api of [apis.partner.api, apis.operator]) {
    guard(
      api,
      'lambda_function_public_access_prohibited_check',
      "The API Gateway invoke permissions are scoped by SourceArn to this API's own routes; the rule cannot evaluate a SourceArn built with Fn::Join.",
    );
  }
  if (apis.partner.kind === 'http') {
    guard(
      apis.partner.api,
      'api_gw_v2_authorization_type_configured_check',
      "Partner API keys are verified inside the ingest handler (hashed, constant-time), because rejections on an existing flow must be written to that flow's log.",
    );
  }
  for (const fn of [functions.ingest, functions.aggregator]) {
    guard(
      fn,
      'lambda_inside_vpc_check',
      'Calls only AWS APIs over TLS with IAM; it never reaches partner or connection endpoints, which is what the vpc option is for.',
    );
  }
  if (!props.vpc) {
    for (const fn of [functions.operator, functions.deliverer, functions.prober]) {
      guard(
        fn,
        'lambda_inside_vpc_check',
        'No vpc given: connection endpoints are public HTTPS URLs, checked against private ranges before every call.',
      );
    }
  }
  guard(
    storage.accessLogsBucket,
    's3_bucket_default_encryption_kms_check',
    'S3 server access logs can only be delivered to a bucket encrypted with SSE-S3.',
  );
  guard(
    storage.accessLogsBucket,
    's3_bucket_logging_enabled_check',
    'This bucket is the server access log destination; logging it to itself would loop.',
  );
  for (const bucket of [storage.bucket, storage.accessLogsBucket]) {
    guard(
      bucket,
      's3_event_notifications_enabled_check',
      'Nothing reacts to object events: the handlers write and read the objects themselves and publish operational events on the event bus.',
    );
    guard(
      bucket,
      's3_bucket_object_lock_enabled_check',
      'Objects must expire by lifecycle and be replaced or removed during repair; object lock would forbid both.',
    );
  }
  // With RemovalPolicy.DESTROY, CDK's stack-wide provider empties the buckets on deletion.
  const autoDelete = Stack.of(scope).node.tryFindChild('Custom::S3AutoDeleteObjectsCustomResourceProvider');
  if (autoDelete) {
    guard(
      autoDelete,
      'lambda_inside_vpc_check',
      "CDK's provider that empties the buckets on stack deletion (RemovalPolicy.DESTROY) calls only S3.",
    );
  }
  guard(
    storage.deadLetterQueue,
    'sqs_dlq_check',
    'This is the dead-letter queue of the delivery queue, the last resort; it is alarmed and keeps messages for 14 days.',
  );
}

/**
 * AwsSolutions findings that are by design (cdk-nag v3: `Validations.acknowledge`). IAM5
 * findings are acknowledged one by one, by their exact finding id, so a new wildcard
 * introduced later still fails the check.
 */
export function acknowledgeNagFindings(parts: GatewayParts, props: ResolvedProps): void {
  const { scope, storage, functions, scheduling, apis } = parts;
  const stack = Stack.of(scope);
  const logicalId = (construct: Construct): string => stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
  const all = Object.values(functions);

  for (const fn of all) {
    ack(
      fn,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AWSLambdaBasicExecutionRole only allows the function to write its own logs.',
    );
    ack(
      fn,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      "AWSLambdaVPCAccessExecutionRole (VPC-attached deliverer and prober only) manages the function's network interfaces.",
    );
    ack(
      fn,
      'AwsSolutions-L1',
      'Pinned to nodejs22.x on purpose: bundles target node22 and the code is tested on that major; runtime upgrades are deliberate.',
    );
  }

  // Wildcards produced by the L2 grant methods, each confined to one resource.
  const table = logicalId(storage.table);
  const bucket = logicalId(storage.bucket);
  // The group name is a generated literal; were it a reference, cdk-nag would print it as <LogicalId>.
  const groupName = stack.resolve(scheduling.group.scheduleGroupName) as string | { Ref: string };
  const group = typeof groupName === 'string' ? groupName : `<${groupName.Ref}>`;
  const wildcards: Array<[string, string]> = [
    [`Resource::<${table}.Arn>/index/*`, "Table.grant: queries on the table's own indexes (gsi1–gsi3)."],
    [`Resource::<${table}.Arn>/stream/*`, "The aggregator reads the table's own change stream (the stream ARN ends in a generated label)."],
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
  for (const fn of all) {
    for (const [finding, reason] of wildcards) ack(fn, `AwsSolutions-IAM5[${finding}]`, reason);
  }
  ack(
    scheduling.role,
    `AwsSolutions-IAM5[Resource::<${logicalId(functions.prober)}.Arn>:*]`,
    "Function.grantInvoke also covers the prober's versions and aliases; the role may invoke nothing else.",
  );

  ack(storage.accessLogsBucket, 'AwsSolutions-S1', 'This bucket is the server access log destination; logging it to itself would loop.');

  const cloudWatchRole = scope.node.tryFindChild('ApiGatewayCloudWatchRole');
  if (cloudWatchRole) {
    ack(
      cloudWatchRole,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'AmazonAPIGatewayPushToCloudWatchLogs is the AWS-documented policy of the account-level API Gateway logging role.',
    );
  }

  const partner = apis.partner.api;
  ack(
    partner,
    'AwsSolutions-APIG4',
    "Partner API keys are verified inside the ingest handler (hashed, constant-time), because rejections on an existing flow must be written to that flow's log.",
  );
  ack(partner, 'AwsSolutions-COG4', 'Partners authenticate with Sluice API keys checked in the ingest handler, not Cognito user pools.');
  if (apis.partner.kind === 'rest' && !props.partnerWebAclArn) {
    ack(
      partner,
      'AwsSolutions-APIG3',
      'A WAFv2 web ACL is optional (partnerWebAclArn): partners are authenticated servers and the stage is throttled.',
    );
  }
  ack(
    apis.operator,
    'AwsSolutions-COG4',
    'Operator routes use IAM (SigV4) authorization, as the product specifies; /health returns no data.',
  );
  ack(
    apis.operator,
    'AwsSolutions-APIG3',
    'Every operator route except /health requires SigV4-signed IAM requests, and the stage is throttled.',
  );
  ack(apis.operatorHealth, 'AwsSolutions-APIG4', 'GET /health is an unauthenticated liveness check that returns no data.');
  const restApis = apis.partner.kind === 'rest' ? [apis.partner.api, apis.operator] : [apis.operator];
  for (const api of restApis) {
    ack(
      api,
      'AwsSolutions-APIG2',
      'Requests are validated by the handlers, which answer RFC 9457 problems and write rejections on an existing flow to its log; an API Gateway validator would answer first, in its own format.',
    );
  }
}
