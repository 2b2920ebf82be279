// Alerts: operational events on the gateway's bus → EventBridge rule → SNS → e-mail.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Stack, aws_events as events, aws_sns as sns } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import cdkNag from 'cdk-nag'; // CommonJS: Node's ESM loader sees only its default export
import { eventBridgeService } from '../../adapters/aws/protocol/event-bridge';
import { AwsEndpoint } from '../helpers/aws-endpoint';
import type { IConstruct } from 'constructs';
import { EventBridgePublisher } from '../../adapters/aws/event-publisher';
import { OPERATIONAL_EVENT_TYPES, SluiceAlerts } from '../../infra/alerts';
import { SluiceGateway } from '../../infra/sluice-gateway';

function nagViolations(app: App, scope: IConstruct) {
  return new cdkNag.AwsSolutionsChecks(app, { verbose: true })
    .validateScope(scope)
    .violations.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
}

function standalone(props: Omit<ConstructorParameters<typeof SluiceAlerts>[2], 'eventBus'>) {
  const app = new App();
  const stack = new Stack(app, 'AlertsTest', { env: { account: '111122223333', region: 'eu-west-1' } });
  const eventBus = new events.EventBus(stack, 'Bus');
  const alerts = new SluiceAlerts(stack, 'Alerts', { eventBus, ...props });
  return { app, stack, alerts, eventBus, template: Template.fromStack(stack) };
}

describe('SluiceAlerts', () => {
  test('subscribes e-mail addresses to a new encrypted topic that every operational event reaches', () => {
    const { app, stack, template, eventBus } = standalone({ emails: ['ops@example.com', 'oncall@example.com'] });
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    for (const email of ['ops@example.com', 'oncall@example.com']) {
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: email,
        TopicArn: { Ref: Match.stringLikeRegexp('AlertsTopic') },
      });
    }
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: stack.resolve(eventBus.eventBusName),
      EventPattern: { source: ['sluice'], 'detail-type': [...OPERATIONAL_EVENT_TYPES] },
      Targets: [
        Match.objectLike({
          Arn: { Ref: Match.stringLikeRegexp('AlertsTopic') },
          InputTransformer: Match.objectLike({ InputPathsMap: Match.objectLike({ 'detail-type': '$.detail-type', detail: '$.detail' }) }),
        }),
      ],
    });
    // EventBridge may publish to the topic and use its key.
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'sns:Publish', Principal: { Service: 'events.amazonaws.com' } })]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Principal: { Service: 'events.amazonaws.com' } }),
        ]),
      },
    });
    assert.deepEqual(nagViolations(app, stack), []);
  });

  test('publishes to an existing topic instead, creating no topic or key of its own', () => {
    const app = new App();
    const stack = new Stack(app, 'ExistingTopic', { env: { account: '111122223333', region: 'eu-west-1' } });
    const topic = sns.Topic.fromTopicArn(stack, 'Existing', 'arn:aws:sns:eu-west-1:111122223333:ops-pager');
    new SluiceAlerts(stack, 'Alerts', {
      eventBus: new events.EventBus(stack, 'Bus'),
      topic,
      eventTypes: ['message.failed', 'connection.offline'],
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['sluice'], 'detail-type': ['message.failed', 'connection.offline'] },
      Targets: [Match.objectLike({ Arn: 'arn:aws:sns:eu-west-1:111122223333:ops-pager' })],
    });
    assert.deepEqual(nagViolations(app, stack), []);
  });

  test('matches exactly what the gateway publishes (source and detail type of PutEvents)', async () => {
    const bus = await AwsEndpoint.start();
    bus.on('PutEvents', { body: { FailedEntryCount: 0, Entries: [{ EventId: '1' }] } });
    const publisher = new EventBridgePublisher(bus.client(eventBridgeService), 'bus');
    const { template } = standalone({});
    const pattern = Object.values(template.findResources('AWS::Events::Rule'))[0]!.Properties.EventPattern;
    for (const type of OPERATIONAL_EVENT_TYPES) {
      await publisher.publish({ type, at: '2026-01-01T00:00:00.000Z', detail: {} } as never);
      const entry = bus.of('PutEvents').at(-1)!.body.Entries[0];
      assert.ok(pattern.source.includes(entry.Source), `source ${entry.Source}`);
      assert.ok(pattern['detail-type'].includes(entry.DetailType), `detail type ${entry.DetailType}`);
    }
    await bus.close();
  });

  test('SluiceGateway `alerts` wires its own event bus to the alerts', () => {
    const app = new App();
    const stack = new Stack(app, 'GatewayAlerts');
    const gateway = new SluiceGateway(stack, 'Gateway', { alerts: { emails: ['ops@example.com'] } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: stack.resolve(gateway.eventBus.eventBusName),
      EventPattern: { source: ['sluice'] },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    assert.deepEqual(nagViolations(app, gateway.node.findChild('Alerts')), []);
  });
});
