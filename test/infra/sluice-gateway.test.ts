// Synthesizes the SluiceGateway construct (bundling the five functions with local
// esbuild) and checks the template: shapes from infra/definitions.ts, wiring,
// least-privilege IAM and a clean cdk-nag AwsSolutions run.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, CfnElement, Duration, RemovalPolicy, Stack, Validations, aws_ec2 as ec2, aws_logs as logs, aws_s3 as s3, aws_sns as sns } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import cdkNag from 'cdk-nag'; // CommonJS: Node's ESM loader sees only its default export
import type { IConstruct } from 'constructs';
import { BUCKET, DEAD_LETTER_QUEUE, DELIVERY_QUEUE, ENVIRONMENT, TABLE } from '../../adapters/aws/definitions';
import { SluiceGateway } from '../../infra/sluice-gateway';

type Resource = { Type: string; Properties?: Record<string, any>; DependsOn?: string[] };

// Synthesized once per file: bundling five functions takes a moment.
const app = new App();
const stack = new Stack(app, 'SluiceTest');
const gateway = new SluiceGateway(stack, 'Gateway');
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, Resource>;

const logicalId = (construct: IConstruct): string =>
  stack.resolve(((construct.node.defaultChild ?? construct) as CfnElement).logicalId) as string;
const ofType = (type: string): Array<[string, Resource]> =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);
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

  test('bucket lifecycle rules are those of BUCKET', () => {
    const bucket = resources[logicalId(gateway.bucket)]!.Properties!;
    assert.deepEqual(
      bucket.LifecycleConfiguration.Rules,
      BUCKET.lifecycleRules.map((rule) => ({
        Id: rule.id,
        Prefix: rule.prefix,
        ExpirationInDays: rule.expirationDays,
        Status: 'Enabled',
      })),
    );
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
    const arn = JSON.stringify(resources[logicalId(gateway.functions.ingest)]!.Properties!.Environment.Variables[ENVIRONMENT.probeFunctionArn]);
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
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  test('deliverer consumes the queue with partial batch responses; its timeout fits the visibility timeout', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
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
    }
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: Match.anyValue() }, 7);
  });

  test('operator API requires IAM on every method except GET /health; partner API routes reach ingest', () => {
    const operatorApi = logicalId(gateway.operatorApi);
    const partnerApi = logicalId(gateway.partnerApi);
    const methods = ofType('AWS::ApiGateway::Method').map(([, m]) => m.Properties!);
    const operatorMethods = methods.filter((m) => m.RestApiId.Ref === operatorApi);
    assert.ok(operatorMethods.length >= 2);
    for (const method of operatorMethods) {
      const isHealth = JSON.stringify(method.ResourceId).includes('health');
      assert.equal(method.AuthorizationType, isHealth ? 'NONE' : 'AWS_IAM', JSON.stringify(method.ResourceId));
    }
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'health' });

    const partnerMethods = methods.filter((m) => m.RestApiId.Ref === partnerApi);
    assert.deepEqual(partnerMethods.map((m) => m.HttpMethod).sort(), ['GET', 'POST']);
    for (const method of partnerMethods) {
      assert.equal(method.Integration.Type, 'AWS_PROXY');
      assert.ok(JSON.stringify(method.Integration.Uri).includes(logicalId(gateway.functions.ingest)));
    }
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{flowId}' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{messageId}' });

    for (const api of [operatorApi, partnerApi]) {
      template.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['*/*'] });
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        RestApiId: { Ref: api },
        TracingEnabled: true,
        AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
        MethodSettings: [Match.objectLike({ MetricsEnabled: true, ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() })],
      });
    }
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

  test('credentials key rotates; encrypt+decrypt only for the operator, decrypt for deliverer and prober', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const key = { 'Fn::GetAtt': [logicalId(gateway.credentialsKey), 'Arn'] };
    const kmsUsers = identityStatements(resources)
      .filter(({ statement }) => JSON.stringify(statement.Resource) === JSON.stringify(key))
      .map(({ owner, statement }) => `${owner.replace(/ServiceRole.*$/, '').replace(/^Gateway/, '')}:${asArray(statement.Action).includes('kms:Encrypt') ? 'rw' : 'r'}`)
      .sort();
    assert.deepEqual(kmsUsers, ['Deliverer:r', 'Operator:rw', 'Prober:r']);
  });

  test('outputs name the two API URLs, the table, the queue and the bucket', () => {
    const outputs = Object.keys(template.toJSON().Outputs ?? {});
    for (const name of ['PartnerApiUrl', 'OperatorApiUrl', 'TableName', 'QueueName', 'BucketName']) {
      assert.ok(outputs.some((o) => o.includes(name)), `${name} in ${outputs.join(', ')}`);
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
      for (const resource of asArray<unknown>(statement.Resource)) {
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

  test('DESTROY empties and deletes the buckets and lifts table deletion protection', () => {
    optionsTemplate.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    optionsTemplate.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    optionsTemplate.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  test('alarms notify the topic', () => {
    const alarms = Object.values(optionsResources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    assert.ok(alarms.length >= 3);
    for (const alarm of alarms) assert.deepEqual(alarm.Properties!.AlarmActions, [{ Ref: idIn(topic) }]);
  });

  test('cdk-nag AwsSolutions stays clean with a VPC and DESTROY', () => {
    const violations = nagViolations(optionsStack);
    assert.equal(violations.length, 0, describeViolations(violations));
  });

  test('invalid batch size and deliverer timeout are refused before anything is built', () => {
    const scratch = new Stack(new App(), 'Scratch');
    assert.throws(() => new SluiceGateway(scratch, 'A', { deliveryBatchSize: 11 }), /deliveryBatchSize/);
    assert.throws(() => new SluiceGateway(scratch, 'B', { delivererTimeout: Duration.seconds(151) }), /delivererTimeout/);
  });
});

describe('SluiceGateway error answers', () => {
  test("API Gateway's own rejections are RFC 9457 problems with the SPEC's codes, on both APIs", () => {
    const responses = ofType('AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties!);
    for (const api of [gateway.partnerApi, gateway.operatorApi]) {
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
