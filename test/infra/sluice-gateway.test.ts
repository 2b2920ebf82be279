// Synthesizes the SluiceGateway construct (bundling the five functions with local
// esbuild) and checks the template: shapes from adapters/aws/definitions.ts, wiring,
// least-privilege IAM, a clean cdk-nag AwsSolutions run and a clean run of
// cfn-guard's Control Tower rules.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  App,
  type CfnElement,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
  aws_ec2 as ec2,
  aws_logs as logs,
  aws_s3 as s3,
  aws_sns as sns,
} from 'aws-cdk-lib';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import cdkNag from 'cdk-nag'; // CommonJS: Node's ESM loader sees only its default export
import type { IConstruct } from 'constructs';
import {
  BUCKET,
  DEAD_LETTER_QUEUE,
  DELIVERY_QUEUE,
  ENVIRONMENT,
  RETENTION_CLASS_DAYS,
  retentionClass,
  TABLE,
} from '../../adapters/aws/definitions';
import { SluiceGateway } from '../../infra/sluice-gateway';
import { HELD_DELIVERY_AGE_METRIC } from '../../services/prober';

type Resource = {
  Type: string;
  Properties?: Record<string, any>;
  DependsOn?: string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

// Synthesized once per file: bundling five functions takes a moment.
const app = new App();
const stack = new Stack(app, 'SluiceTest');
const gateway = new SluiceGateway(stack, 'Gateway');
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, Resource>;

const logicalId = (construct: IConstruct): string =>
  stack.resolve(((construct.node.defaultChild ?? construct) as CfnElement).logicalId) as string;
const ofType = (type: string): Array<[string, Resource]> => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Every statement of every identity policy (inline role policies, AWS::IAM::Policy, managed policies). */
function identityStatements(res: Record<string, Resource>): Array<{ owner: string; statement: any }> {
  const out: Array<{ owner: string; statement: any }> = [];
  for (const [id, resource] of Object.entries(res)) {
    const documents: any[] = [];
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      documents.push(resource.Properties?.PolicyDocument);
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of resource.Properties?.Policies ?? []) documents.push(policy.PolicyDocument);
    }
    for (const document of documents) {
      for (const statement of asArray(document?.Statement)) out.push({ owner: id, statement });
    }
  }
  return out;
}

function nagViolations(scope: IConstruct) {
  return new cdkNag.AwsSolutionsChecks(app, { verbose: true }).validateScope(scope).violations;
}

const describeViolations = (violations: ReturnType<typeof nagViolations>): string =>
  violations.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`).join('\n');

describe('SluiceGateway: the local table, queue and bucket come from the same definitions the CDK stack uses', () => {
  test('table keys, TTL attribute and indexes are those of TABLE', () => {
    const table = resources[logicalId(gateway.table)]!.Properties!;
    assert.deepEqual(table.KeySchema, [
      { AttributeName: TABLE.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey.name, KeyType: 'RANGE' },
    ]);
    assert.deepEqual(table.TimeToLiveSpecification, { AttributeName: TABLE.timeToLiveAttribute, Enabled: true });
    assert.deepEqual(
      table.GlobalSecondaryIndexes,
      TABLE.globalSecondaryIndexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    );
    const keys = [TABLE.partitionKey, TABLE.sortKey, ...TABLE.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey])];
    assert.deepEqual(
      [...table.AttributeDefinitions].sort((a: any, b: any) => a.AttributeName.localeCompare(b.AttributeName)),
      keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type })).sort((a, b) => a.AttributeName.localeCompare(b.AttributeName)),
    );
  });

  test('delivery queue attributes are those of DELIVERY_QUEUE, dead-letter queue those of DEAD_LETTER_QUEUE', () => {
    const queue = resources[logicalId(gateway.queue)]!.Properties!;
    assert.equal(queue.FifoQueue, DELIVERY_QUEUE.fifo);
    assert.equal(queue.ContentBasedDeduplication, DELIVERY_QUEUE.contentBasedDeduplication);
    assert.equal(queue.DeduplicationScope, DELIVERY_QUEUE.deduplicationScope);
    assert.equal(queue.FifoThroughputLimit, DELIVERY_QUEUE.fifoThroughputLimit);
    assert.equal(queue.VisibilityTimeout, DELIVERY_QUEUE.visibilityTimeoutSeconds);
    assert.equal(queue.MessageRetentionPeriod, DELIVERY_QUEUE.retentionPeriodSeconds);
    assert.ok((queue.QueueName as string).endsWith(`-${DELIVERY_QUEUE.nameSuffix}`), queue.QueueName);
    assert.deepEqual(queue.RedrivePolicy, {
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(gateway.deadLetterQueue), 'Arn'] },
      maxReceiveCount: DEAD_LETTER_QUEUE.maxReceiveCount,
    });

    const dlq = resources[logicalId(gateway.deadLetterQueue)]!.Properties!;
    assert.equal(dlq.FifoQueue, DEAD_LETTER_QUEUE.fifo);
    assert.equal(dlq.MessageRetentionPeriod, DEAD_LETTER_QUEUE.retentionPeriodSeconds);
    assert.ok((dlq.QueueName as string).endsWith(`-${DEAD_LETTER_QUEUE.nameSuffix}`), dlq.QueueName);
  });

  test('bucket lifecycle rules are those of BUCKET: payloads expire by retention tag only, never by age alone', () => {
    const bucket = resources[logicalId(gateway.bucket)]!.Properties!;
    const rules = bucket.LifecycleConfiguration.Rules as Record<string, any>[];
    assert.deepEqual(
      [...rules],
      BUCKET.lifecycleRules.map((rule) =>
        rule.tag
          ? {
              Id: rule.id,
              TagFilters: [{ Key: rule.tag.key, Value: rule.tag.value }],
              ExpirationInDays: rule.expirationDays,
              Status: 'Enabled',
            }
          : { Id: rule.id, NoncurrentVersionExpiration: { NoncurrentDays: 30 }, ExpiredObjectDeleteMarker: true, Status: 'Enabled' },
      ),
    );
    // A suspended delivery's payload must outlive any age: no rule expires current objects without the tag.
    for (const rule of rules) {
      if (rule.ExpirationInDays !== undefined) assert.equal(rule.TagFilters?.[0]?.Key, BUCKET.retentionTag, rule.Id);
      assert.equal(rule.Prefix, undefined, rule.Id);
    }
    // One rule per retention class, each expiring after as many days as its tag says.
    const classes = rules.filter((rule) => rule.TagFilters).map((rule) => [Number(rule.TagFilters[0].Value), rule.ExpirationInDays]);
    assert.deepEqual(
      classes,
      RETENTION_CLASS_DAYS.map((days) => [days, days]),
    );
    assert.ok(rules.length <= 1000, 'S3 allows 1,000 lifecycle rules per bucket');
    // Every retentionDays a flow may have (1-3650 days) has a class a few days longer, for a message that waited before it became final.
    for (const days of [1, 7, 30, 31, 90, 365, 3650]) assert.ok(retentionClass(days + 3)! >= days + 3, String(days));
  });

  test("only the aggregator tags payloads for expiry, on the payload bucket's objects", () => {
    const tagging = ['s3:PutObjectTagging', 's3:DeleteObjectTagging'];
    const holders = identityStatements(resources).filter(({ statement }) =>
      asArray<string>(statement.Action).some((a) => tagging.includes(a)),
    );
    assert.ok(holders.length > 0);
    const aggregatorRole = logicalId(gateway.functions.aggregator.role!).replace(/[0-9A-F]{8}$/, '');
    for (const { owner, statement } of holders) {
      assert.ok(owner.startsWith(aggregatorRole), `${owner} may tag objects`);
      assert.deepEqual([...asArray<string>(statement.Action)].sort(), [...tagging].sort());
      assert.deepEqual(statement.Resource, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(gateway.bucket), 'Arn'] }, '/*']] });
    }
  });

  test('every function learns its resources through the ENVIRONMENT variable names', () => {
    const expected = {
      [ENVIRONMENT.tableName]: { Ref: logicalId(gateway.table) },
      [ENVIRONMENT.queueUrl]: { Ref: logicalId(gateway.queue) },
      [ENVIRONMENT.bucketName]: { Ref: logicalId(gateway.bucket) },
      [ENVIRONMENT.eventBusName]: { Ref: logicalId(gateway.eventBus) },
      [ENVIRONMENT.credentialsKeyId]: { 'Fn::GetAtt': [logicalId(gateway.credentialsKey), 'Arn'] },
      [ENVIRONMENT.schedulerRoleArn]: { 'Fn::GetAtt': [logicalId(gateway.schedulerRole), 'Arn'] },
      [ENVIRONMENT.scheduleGroupName]: stack.resolve(gateway.probeScheduleGroup.scheduleGroupName),
      [ENVIRONMENT.allowPrivateTargets]: 'false',
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: Match.anyValue(),
      [ENVIRONMENT.probeFunctionArn]: Match.anyValue(),
    };
    for (const fn of Object.values(gateway.functions)) {
      const variables = resources[logicalId(fn)]!.Properties!.Environment.Variables;
      assert.ok(!(ENVIRONMENT.localMode in variables), 'local mode flag must not be set on AWS');
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: resources[logicalId(fn)]!.Properties!.FunctionName ?? Match.absent(),
        Environment: { Variables: Match.objectLike(expected) },
      });
    }
    // The prober ARN handed to every function is the prober's real ARN.
    const prober = resources[logicalId(gateway.functions.prober)]!.Properties!;
    const arn = JSON.stringify(
      resources[logicalId(gateway.functions.ingest)]!.Properties!.Environment.Variables[ENVIRONMENT.probeFunctionArn],
    );
    assert.ok(arn.includes(`:function:${prober.FunctionName}`), arn);
  });
});

describe('SluiceGateway template', () => {
  test('delivery queue is FIFO with explicit deduplication ids and a dead-letter redrive', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: false,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: Match.anyValue() },
    });
    for (const queue of [gateway.queue, gateway.deadLetterQueue]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalId(queue) }],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    }
  });

  test('deliverer consumes the queue with partial batch responses; its timeout fits the visibility timeout', () => {
    // The deliverer's on the queue, the aggregator's on the table stream.
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(gateway.queue), 'Arn'] },
      FunctionName: { Ref: logicalId(gateway.functions.deliverer) },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const timeout = resources[logicalId(gateway.functions.deliverer)]!.Properties!.Timeout as number;
    assert.ok(timeout * 6 <= DELIVERY_QUEUE.visibilityTimeoutSeconds, `deliverer timeout ${timeout}s`);
  });

  test('table is on-demand, point-in-time recoverable, encrypted, with TTL and three GSIs', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: Match.anyValue(), Enabled: true },
      GlobalSecondaryIndexes: Match.arrayWith([Match.objectLike({ Projection: { ProjectionType: 'ALL' } })]),
      DeletionProtectionEnabled: true,
    });
    assert.equal(resources[logicalId(gateway.table)]!.Properties!.GlobalSecondaryIndexes.length, 3);
  });

  test('payload bucket blocks public access, requires TLS, expires objects and logs access', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: Match.anyValue(),
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: Match.anyValue() })]) },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(gateway.accessLogsBucket) }, LogFilePrefix: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(gateway.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    // Stateful resources are retained by default, and nothing empties the buckets.
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  test('payloads are encrypted with KMS (bucket keys); both buckets are versioned, old versions expire', () => {
    const payloads = resources[logicalId(gateway.bucket)]!.Properties!;
    assert.deepEqual(payloads.BucketEncryption, {
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' }, BucketKeyEnabled: true }],
    });
    for (const bucket of [gateway.bucket, gateway.accessLogsBucket]) {
      const properties = resources[logicalId(bucket)]!.Properties!;
      assert.deepEqual(properties.VersioningConfiguration, { Status: 'Enabled' }, bucket.node.id);
      // A rule over every object lets replaced and deleted versions go.
      const everyObject = (properties.LifecycleConfiguration.Rules as Record<string, any>[]).filter(
        (rule) => !rule.Prefix && !rule.TagFilters,
      );
      assert.ok(
        everyObject.some((rule) => rule.NoncurrentVersionExpiration?.NoncurrentDays > 0),
        bucket.node.id,
      );
    }
  });

  test('the delivery queue and its dead-letter queue are retained with the stack, like the table', () => {
    for (const queue of [gateway.queue, gateway.deadLetterQueue]) {
      const resource = resources[logicalId(queue)]!;
      assert.equal(resource.DeletionPolicy, 'Retain', queue.node.id);
      assert.equal(resource.UpdateReplacePolicy, 'Retain', queue.node.id);
    }
  });

  test('hourly schedule invokes the prober through the scheduler role, with {"kind":"hourly"}', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [logicalId(gateway.functions.prober), 'Arn'] },
        RoleArn: { 'Fn::GetAtt': [logicalId(gateway.schedulerRole), 'Arn'] },
        Input: JSON.stringify({ kind: 'hourly' }),
      },
    });
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
          }),
        ],
      },
    });
  });

  for (const name of ['prober', 'deliverer', 'operator'] as const) {
    test(`${name} may pass the scheduler role and manage one-time probes only inside the probe schedule group`, () => {
      const statements = identityStatements(resources)
        .filter(({ owner }) => owner.startsWith(logicalId(gateway.functions[name].role!).replace(/[0-9A-F]{8}$/, '')))
        .map(({ statement }) => statement);
      const scheduler = statements.find((s) => asArray(s.Action).includes('scheduler:CreateSchedule'));
      assert.ok(scheduler, `${name} has a scheduler statement`);
      assert.deepEqual([...asArray(scheduler.Action)].sort(), ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule']);
      const resource = JSON.stringify(scheduler.Resource);
      const group = stack.resolve(gateway.probeScheduleGroup.scheduleGroupName) as string;
      assert.ok(resource.includes(`:schedule/${group}/*`), resource);
      const passRole = statements.find((s) => asArray(s.Action).includes('iam:PassRole'));
      assert.deepEqual(passRole?.Resource, { 'Fn::GetAtt': [logicalId(gateway.schedulerRole), 'Arn'] });
      // Nobody else may touch schedules or pass roles.
      for (const { owner, statement } of identityStatements(resources)) {
        const actions = asArray<string>(statement.Action);
        if (actions.some((a) => a.startsWith('scheduler:') || a === 'iam:PassRole')) {
          assert.ok(/Prober|Deliverer|Operator/.test(owner), `${owner} has ${actions.join(', ')}`);
        }
      }
    });
  }

  test('the table streams old and new images to the aggregator, filtered to message records', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(gateway.functions.aggregator) },
      EventSourceArn: { 'Fn::GetAtt': [logicalId(gateway.table), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ dynamodb: { Keys: { sk: { S: ['MESSAGE'] } } } }) }] },
    });
  });

  test('every function is Node.js 22 on arm64 with its own log group', () => {
    const functions = ofType('AWS::Lambda::Function');
    assert.equal(functions.length, 5);
    for (const [id, fn] of functions) {
      assert.equal(fn.Properties!.Runtime, 'nodejs22.x', id);
      assert.deepEqual(fn.Properties!.Architectures, ['arm64'], id);
      assert.equal(fn.Properties!.Handler, 'index.handler', id);
      assert.ok(fn.Properties!.LoggingConfig?.LogGroup, `${id} has its own log group`);
      assert.deepEqual(fn.Properties!.TracingConfig, { Mode: 'Active' }, `${id} is traced`);
    }
    // Five function log groups, two access log groups, the operator API's execution log group
    // (HTTP APIs have no execution logs): a year each.
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 365 }, 8);
    template.resourceCountIs('AWS::Logs::LogGroup', 8);
  });

  test('API Gateway execution logs go to groups of their own naming, with retention, created before the stages', () => {
    for (const api of [gateway.operatorApi]) {
      const [groupId] =
        ofType('AWS::Logs::LogGroup').find(([, group]) =>
          JSON.stringify(group.Properties!.LogGroupName ?? '').includes(
            `"API-Gateway-Execution-Logs_",{"Ref":"${logicalId(api)}"},"/prod"`,
          ),
        ) ?? [];
      assert.ok(groupId, `${api.node.id} execution log group`);
      assert.equal(resources[groupId]!.Properties!.RetentionInDays, 365);
      const stage = resources[logicalId(api.deploymentStage)]!;
      assert.equal(stage.Properties!.StageName, 'prod');
      assert.ok(stage.DependsOn?.includes(groupId), `${api.node.id} stage waits for ${groupId}`);
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        RestApiId: { Ref: logicalId(api) },
        MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR', DataTraceEnabled: false })],
      });
    }
  });

  test('no API Gateway request validator is left unattached (the handlers validate)', () => {
    template.resourceCountIs('AWS::ApiGateway::RequestValidator', 0);
  });

  test('operator API requires IAM on every method except GET /health', () => {
    const operatorApi = logicalId(gateway.operatorApi);
    const methods = ofType('AWS::ApiGateway::Method').map(([, m]) => m.Properties!);
    const operatorMethods = methods.filter((m) => m.RestApiId.Ref === operatorApi);
    assert.ok(operatorMethods.length >= 2);
    for (const method of operatorMethods) {
      const isHealth = JSON.stringify(method.ResourceId).includes('health');
      assert.equal(method.AuthorizationType, isHealth ? 'NONE' : 'AWS_IAM', JSON.stringify(method.ResourceId));
    }
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'health' });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['*/*'] });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      RestApiId: { Ref: operatorApi },
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
      MethodSettings: [Match.objectLike({ MetricsEnabled: true, ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 })],
    });
    // The partner API is the HTTP API (test/infra/partner-api.test.ts): the only REST API is the operator's.
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
  });

  test('alarms watch deliverer errors, the age of the oldest delivery and the dead-letter queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(gateway.functions.deliverer) } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(gateway.queue), 'QueueName'] } }],
      Threshold: Duration.minutes(90).toSeconds(),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(gateway.deadLetterQueue), 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  test("an alarm watches the age of held deliveries, as the prober publishes it (not SQS's age, which skips them)", () => {
    const prober = readFileSync(new URL('../../functions/prober/index.ts', import.meta.url), 'utf8');
    assert.match(prober, /serviceName = 'sluice-prober'/, "the metric carries the prober function's service name");
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: HELD_DELIVERY_AGE_METRIC,
      Namespace: 'Sluice',
      Dimensions: [{ Name: 'service', Value: 'sluice-prober' }],
      Statistic: 'Maximum',
      Period: 3600,
      Threshold: Duration.minutes(90).toSeconds(),
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  test('alarms watch ingest and operator errors, 5XX answers of both APIs and throttled table requests', () => {
    for (const fn of [gateway.functions.ingest, gateway.functions.operator]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(fn) } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
    const apiNames = ofType('AWS::CloudWatch::Alarm')
      .filter(([, alarm]) => alarm.Properties!.MetricName === '5XXError' && alarm.Properties!.Namespace === 'AWS/ApiGateway')
      .map(([, alarm]) => alarm.Properties!.Dimensions.find((d: any) => d.Name === 'ApiName').Value);
    assert.deepEqual(apiNames, [resources[logicalId(gateway.operatorApi)]!.Properties!.Name]);
    // HTTP APIs publish `5xx` by ApiId.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: '5xx',
      Namespace: 'AWS/ApiGateway',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: logicalId(gateway.partnerApi) } }],
      Threshold: 0,
    });
    const throttles = ofType('AWS::CloudWatch::Alarm').find(([, alarm]) =>
      (alarm.Properties!.Metrics ?? []).some((m: any) => m.MetricStat?.Metric?.MetricName === 'ThrottledRequests'),
    );
    assert.ok(throttles, 'a throttle alarm');
    const metrics = throttles[1].Properties!.Metrics as any[];
    const operations = metrics
      .filter((m) => m.MetricStat)
      .map((m) => {
        assert.deepEqual(m.MetricStat.Metric.Dimensions.find((d: any) => d.Name === 'TableName').Value, { Ref: logicalId(gateway.table) });
        return m.MetricStat.Metric.Dimensions.find((d: any) => d.Name === 'Operation').Value;
      })
      .sort();
    assert.deepEqual(operations, [
      'BatchGetItem',
      'BatchWriteItem',
      'DeleteItem',
      'GetItem',
      'PutItem',
      'Query',
      'TransactWriteItems',
      'UpdateItem',
    ]);
    assert.equal(throttles[1].Properties!.Threshold, 0);
  });

  test('credentials key rotates; data keys (envelope encryption) only for the operator, decrypt for deliverer and prober', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const key = { 'Fn::GetAtt': [logicalId(gateway.credentialsKey), 'Arn'] };
    const kmsUsers = identityStatements(resources)
      .filter(({ statement }) => JSON.stringify(statement.Resource) === JSON.stringify(key))
      .map(
        ({ owner, statement }) =>
          `${owner.replace(/ServiceRole.*$/, '').replace(/^Gateway/, '')}:${[...asArray<string>(statement.Action)].sort().join('+')}`,
      )
      .sort();
    assert.deepEqual(kmsUsers, ['Deliverer:kms:Decrypt', 'Operator:kms:Decrypt+kms:GenerateDataKey', 'Prober:kms:Decrypt']);
  });

  test('the key policy refuses grants except to AWS services acting for a principal', () => {
    const statements = resources[logicalId(gateway.credentialsKey)]!.Properties!.KeyPolicy.Statement as any[];
    assert.ok(
      statements.some(
        (s) =>
          s.Effect === 'Deny' &&
          JSON.stringify(s.Principal) === JSON.stringify({ AWS: '*' }) &&
          s.Action === 'kms:CreateGrant' &&
          s.Resource === '*' &&
          JSON.stringify(s.Condition) ===
            JSON.stringify({ BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } }),
      ),
      JSON.stringify(statements),
    );
  });

  describe('each function may call exactly what its code calls', () => {
    const actionsOf = (name: keyof typeof gateway.functions, resourceFilter: (resource: string) => boolean = () => true): string[] => {
      const role = logicalId(gateway.functions[name].role!).replace(/[0-9A-F]{8}$/, '');
      return [
        ...new Set(
          identityStatements(resources)
            .filter(({ owner }) => owner.startsWith(role))
            .filter(({ statement }) => asArray<unknown>(statement.Resource).some((r) => resourceFilter(JSON.stringify(r))))
            .flatMap(({ statement }) => asArray<string>(statement.Action)),
        ),
      ].sort();
    };
    const table = logicalId(gateway.table);
    const bucket = logicalId(gateway.bucket);
    const queue = logicalId(gateway.queue);
    const onTable = (r: string) => r.includes(table);
    const onBucket = (r: string) => r.includes(bucket);
    const onQueue = (r: string) => r.includes(queue);
    const tableActions = [
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ];

    test('table: items, queries and transactions; no Scan, no stream actions, for every function', () => {
      for (const name of ['ingest', 'operator', 'deliverer', 'prober'] as const) {
        assert.deepEqual(actionsOf(name, onTable), tableActions, name);
      }
    });

    test('bucket: ingest only writes claim checks; the deliverer reads and writes failed payloads; only the operator deletes and lists', () => {
      assert.deepEqual(actionsOf('ingest', onBucket), ['s3:PutObject']);
      assert.deepEqual(actionsOf('deliverer', onBucket), ['s3:GetObject', 's3:PutObject']);
      assert.deepEqual(actionsOf('operator', onBucket), ['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
      assert.deepEqual(actionsOf('prober', onBucket), []);
      const objectResources = (name: keyof typeof gateway.functions, action: string) =>
        identityStatements(resources)
          .filter(({ owner }) => owner.startsWith(logicalId(gateway.functions[name].role!).replace(/[0-9A-F]{8}$/, '')))
          .filter(({ statement }) => asArray(statement.Action).includes(action))
          .flatMap(({ statement }) => asArray(statement.Resource).map((r) => JSON.stringify(r)));
      assert.deepEqual(objectResources('ingest', 's3:PutObject'), [
        JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/${BUCKET.prefixes.payloads}*`]] }),
      ]);
      assert.deepEqual(objectResources('deliverer', 's3:PutObject'), [
        JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/${BUCKET.prefixes.failed}*`]] }),
      ]);
    });

    test('queue: the prober sends and wakes held messages but never receives or deletes', () => {
      assert.deepEqual(actionsOf('prober', onQueue), [
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
      ]);
      assert.deepEqual(actionsOf('operator', onQueue), [
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
      ]);
      assert.deepEqual(actionsOf('ingest', onQueue), ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
      assert.deepEqual(actionsOf('deliverer', onQueue), [
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
        'sqs:SendMessage',
      ]);
    });
  });

  test('outputs name the two API URLs, the table, the queue and the bucket', () => {
    const outputs = Object.keys(template.toJSON().Outputs ?? {});
    for (const name of ['PartnerApiUrl', 'OperatorApiUrl', 'TableName', 'QueueName', 'BucketName']) {
      assert.ok(
        outputs.some((o) => o.includes(name)),
        `${name} in ${outputs.join(', ')}`,
      );
    }
  });

  test('no identity policy statement grants Action "*" or Resource "*"', () => {
    const statements = identityStatements(resources);
    assert.ok(statements.length > 10);
    for (const { owner, statement } of statements) {
      for (const action of asArray<unknown>(statement.Action)) {
        assert.notEqual(action, '*', `${owner}: Action "*"`);
        assert.ok(typeof action !== 'string' || !/^[a-z0-9-]+:\*$/.test(action), `${owner}: service-wide action ${action}`);
      }
      // X-Ray's two write actions support no resource-level permissions: the only exception.
      const xrayOnly =
        JSON.stringify([...asArray<string>(statement.Action)].sort()) ===
        JSON.stringify(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
      for (const resource of asArray<unknown>(statement.Resource)) {
        if (xrayOnly) continue;
        assert.notEqual(resource, '*', `${owner}: Resource "*" for ${JSON.stringify(statement.Action)}`);
      }
      assert.equal(statement.NotAction, undefined, `${owner}: NotAction`);
      assert.equal(statement.NotResource, undefined, `${owner}: NotResource`);
    }
  });

  test('cdk-nag check is live: an unprotected bucket is reported', () => {
    const scratch = new Stack(new App(), 'NagControl');
    new s3.Bucket(scratch, 'Plain');
    const rules = nagViolations(scratch).map((v) => v.ruleName);
    assert.ok(rules.includes('AwsSolutions-S1') && rules.includes('AwsSolutions-S10'), rules.join(', '));
  });

  test('cdk-nag AwsSolutions: no unacknowledged errors or warnings', () => {
    const violations = nagViolations(stack);
    assert.equal(violations.length, 0, describeViolations(violations));
    // Nothing else complained during synthesis either.
    assert.deepEqual(Annotations.fromStack(stack).findError('*', Match.anyValue()), []);
    assert.deepEqual(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')), []);
  });
});

describe('SluiceGateway options', () => {
  // Bundling is already exercised by the default stack above; skip it here to keep the file fast.
  const optionsApp = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const optionsStack = new Stack(optionsApp, 'SluiceOptions');
  const vpc = new ec2.Vpc(optionsStack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  Validations.of(vpc).acknowledge({ id: 'AwsSolutions-VPC7', reason: 'Test VPC only.' });
  const topic = new sns.Topic(optionsStack, 'Alarms', { enforceSSL: true });
  Validations.of(topic).acknowledge({ id: 'AwsSolutions-SNS2', reason: 'Test topic only.' });
  const custom = new SluiceGateway(optionsStack, 'Gateway', {
    deliveryBatchSize: 5,
    delivererMemorySize: 1024,
    functionMemorySize: 384,
    allowPrivateTargets: true,
    vpc,
    alarmTopic: topic,
    removalPolicy: RemovalPolicy.DESTROY,
    logRetention: logs.RetentionDays.ONE_WEEK,
  });
  const optionsTemplate = Template.fromStack(optionsStack);
  const optionsResources = optionsTemplate.toJSON().Resources as Record<string, Resource>;
  const idIn = (construct: IConstruct): string =>
    optionsStack.resolve(((construct.node.defaultChild ?? construct) as CfnElement).logicalId) as string;

  test('batch size, memory sizes and private targets follow the props', () => {
    optionsTemplate.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 5 });
    assert.equal(optionsResources[idIn(custom.functions.deliverer)]!.Properties!.MemorySize, 1024);
    assert.equal(optionsResources[idIn(custom.functions.ingest)]!.Properties!.MemorySize, 384);
    for (const fn of Object.values(custom.functions)) {
      assert.equal(optionsResources[idIn(fn)]!.Properties!.Environment.Variables[ENVIRONMENT.allowPrivateTargets], 'true');
    }
  });

  test('the functions that call connection endpoints (deliverer, prober, operator for probe and reauthorize) are in the VPC; ingest is not', () => {
    const { ingest, operator, deliverer, prober } = custom.functions;
    for (const fn of [deliverer, prober, operator]) assert.ok(optionsResources[idIn(fn)]!.Properties!.VpcConfig, fn.node.id);
    assert.equal(optionsResources[idIn(ingest)]!.Properties!.VpcConfig, undefined, ingest.node.id);
  });

  test('DESTROY empties and deletes the buckets, deletes the queues and lifts table deletion protection', () => {
    optionsTemplate.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    optionsTemplate.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    optionsTemplate.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    for (const queue of [custom.queue, custom.deadLetterQueue]) {
      assert.equal(optionsResources[idIn(queue)]!.DeletionPolicy, 'Delete', queue.node.id);
    }
  });

  test('log groups keep the chosen retention', () => {
    for (const [, group] of Object.entries(optionsResources).filter(([, r]) => r.Type === 'AWS::Logs::LogGroup')) {
      assert.equal(group.Properties!.RetentionInDays, 7);
    }
  });

  test('alarms notify the topic', () => {
    const alarms = Object.values(optionsResources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    assert.equal(alarms.length, 10);
    for (const alarm of alarms) assert.deepEqual(alarm.Properties!.AlarmActions, [{ Ref: idIn(topic) }]);
  });

  test('cdk-nag AwsSolutions stays clean with a VPC and DESTROY', () => {
    const violations = nagViolations(optionsStack);
    assert.equal(violations.length, 0, describeViolations(violations));
  });

  test('invalid props are refused before anything is built', () => {
    const scratch = new Stack(new App(), 'Scratch');
    assert.throws(() => new SluiceGateway(scratch, 'A', { deliveryBatchSize: 11 }), /deliveryBatchSize/);
    assert.throws(() => new SluiceGateway(scratch, 'B', { delivererTimeout: Duration.seconds(151) }), /delivererTimeout/);
    // A WAF web ACL cannot be associated with an HTTP API.
    assert.throws(
      () => new SluiceGateway(scratch, 'C', { partnerWebAclArn: 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/x/y' }),
      /partnerApi: 'rest'/,
    );
    assert.throws(() => new SluiceGateway(scratch, 'D', { partnerApi: 'soap' as never }), /partnerApi/);
    assert.throws(
      () => new SluiceGateway(scratch, 'E', { partnerApiThrottling: { rateLimit: 0, burstLimit: 10 } }),
      /partnerApiThrottling/,
    );
    assert.throws(
      () => new SluiceGateway(scratch, 'F', { operatorApiThrottling: { rateLimit: 5, burstLimit: 1.5 } }),
      /operatorApiThrottling/,
    );
    for (const refused of scratch.node.children) assert.equal(refused.node.children.length, 0, `${refused.node.id} built nothing`);
  });
});

describe('SluiceGateway error answers', () => {
  test("API Gateway's own rejections are RFC 9457 problems with the SPEC's codes on the operator API (REST partner API: partner-api.test.ts)", () => {
    const responses = ofType('AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties!);
    for (const api of [gateway.operatorApi]) {
      const mine = responses.filter((r) => r.RestApiId.Ref === logicalId(api));
      const byType = Object.fromEntries(mine.map((r) => [r.ResponseType, r]));
      for (const [type, status, code] of [
        ['THROTTLED', '429', 'throttled'],
        ['ACCESS_DENIED', '403', 'forbidden'],
        ['MISSING_AUTHENTICATION_TOKEN', '403', 'forbidden'],
        ['DEFAULT_5XX', '500', 'internal'],
      ] as const) {
        const response = byType[type];
        assert.ok(response, `${type} is mapped`);
        assert.equal(response.StatusCode, status);
        assert.equal(response.ResponseParameters['gatewayresponse.header.Content-Type'], "'application/problem+json'");
        const body = JSON.parse(response.ResponseTemplates['application/json']);
        assert.deepEqual(Object.keys(body).sort(), ['code', 'detail', 'status', 'title', 'type']);
        assert.equal(body.code, code);
        assert.equal(body.status, Number(status));
      }
    }
  });
});

describe("cfn-guard's Control Tower rules", () => {
  const outdirs: string[] = [];
  after(() => {
    for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
  });

  type Report = {
    pluginName: string;
    conclusion: string;
    violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }>;
  };

  /** Synthesizes stacks as `cdk synth` would with the cfn-guard plugin, and returns the validation reports. */
  function validate(build: (app: App) => void): Report[] {
    const outdir = mkdtempSync(join(tmpdir(), 'sluice-guard-'));
    outdirs.push(outdir);
    const guardApp = new App({
      outdir,
      // Bundling is exercised by the default stack above; the report is what matters here.
      context: { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:failSynthOnValidationErrors': false },
    });
    Validations.of(guardApp).addPlugins(new CfnGuardValidator());
    build(guardApp);
    const assembly = guardApp.synth();
    return JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')).pluginReports;
  }

  const findingsOf = (reports: Report[]): string[] =>
    reports
      .flatMap((r) => r.violations.flatMap((v) => v.violatingConstructs.map((c) => `${r.pluginName} ${v.ruleName} ${c.constructPath}`)))
      .sort();

  // One synthesis, two stacks: the defaults, and every option that changes the template.
  let gatewayReports: Report[] | undefined;
  const gatewayFindings = (): { reports: Report[]; findings: string[] } => {
    gatewayReports ??= validate((guardApp) => {
      new SluiceGateway(new Stack(guardApp, 'Defaults'), 'Gateway');
      new SluiceGateway(new Stack(guardApp, 'Rest'), 'Gateway', { partnerApi: 'rest' });
      const options = new Stack(guardApp, 'Options');
      const vpc = new ec2.Vpc(options, 'Vpc', { maxAzs: 2, natGateways: 1 });
      const topic = new sns.Topic(options, 'Alarms', { enforceSSL: true });
      const gw = new SluiceGateway(options, 'Gateway', {
        vpc,
        alarmTopic: topic,
        removalPolicy: RemovalPolicy.DESTROY,
        logRetention: logs.RetentionDays.ONE_WEEK,
      });
      // The gateway's exceptions are scoped to its own constructs: this bucket gets none.
      new s3.Bucket(options, 'Other', {
        versioned: true,
        encryption: s3.BucketEncryption.KMS_MANAGED,
        serverAccessLogsBucket: gw.accessLogsBucket,
        serverAccessLogsPrefix: 'other/',
      });
    });
    return { reports: gatewayReports, findings: findingsOf(gatewayReports) };
  };

  test('the check is live: a plain bucket is reported', () => {
    const reports = validate((guardApp) => {
      new s3.Bucket(new Stack(guardApp, 'Scratch'), 'Plain');
    });
    const guard = reports.find((r) => r.pluginName === 'cdk-validator-cfnguard');
    assert.equal(guard?.conclusion, 'failure');
    const rules = guard!.violations.map((v) => v.ruleName);
    for (const rule of [
      's3_bucket_versioning_enabled_check',
      's3_bucket_default_encryption_kms_check',
      's3_bucket_logging_enabled_check',
    ]) {
      assert.ok(rules.includes(rule), `${rule} in ${rules.join(', ')}`);
    }
  });

  test('the default gateway has no unacknowledged finding (and CloudFormation validation finds nothing)', () => {
    const { reports, findings } = gatewayFindings();
    assert.ok(
      reports.some((r) => r.pluginName === 'cdk-validator-cfnguard'),
      'the guard ran',
    );
    assert.deepEqual(
      findings.filter((f) => f.includes(' Defaults/')),
      [],
    );
  });

  test("with partnerApi: 'rest', no unacknowledged finding either", () => {
    const { findings } = gatewayFindings();
    assert.deepEqual(
      findings.filter((f) => f.includes(' Rest/')),
      [],
    );
  });

  test('with a VPC, an alarm topic, DESTROY and a short retention, only constructs the gateway does not own are reported', () => {
    const { findings } = gatewayFindings();
    assert.deepEqual(
      findings.filter((f) => f.includes(' Options/') && !f.includes(' Options/Other/')),
      [
        'cdk-validator-cfnguard subnet_auto_assign_public_ip_disabled_check Options/Vpc/PublicSubnet1/Subnet',
        'cdk-validator-cfnguard subnet_auto_assign_public_ip_disabled_check Options/Vpc/PublicSubnet2/Subnet',
      ],
    );
    const other = findings.filter((f) => f.includes(' Options/Other/'));
    for (const rule of ['s3_bucket_object_lock_enabled_check', 's3_event_notifications_enabled_check']) {
      assert.ok(
        other.some((f) => f.includes(` ${rule} `)),
        `${rule} is reported for a bucket the gateway does not own: ${other.join(', ')}`,
      );
    }
    assert.deepEqual(
      findings.filter((f) => !f.includes(' Options/') && !f.includes(' Defaults/') && !f.includes(' Rest/')),
      [],
    );
  });
});
