import {
  Duration,
  RemovalPolicy,
  aws_events as events,
  aws_events_targets as targets,
  aws_iam as iam,
  aws_kms as kms,
  aws_sns as sns,
  aws_sns_subscriptions as subscriptions,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EVENT_SOURCE } from '../adapters/aws/event-publisher';
import type { OperationalEventType } from '../core/ports';

/** Every operational event the gateway publishes. */
export const OPERATIONAL_EVENT_TYPES: readonly OperationalEventType[] = [
  'connection.offline',
  'connection.online',
  'connection.unauthorized',
  'flow.paused',
  'flow.resumed',
  'flow.stopped',
  'message.failed',
];

/** `SluiceGatewayProps.alerts`: who hears about operational events. */
export interface AlertsOptions {
  /**
   * E-mail addresses subscribed to the alerts (each confirms once, by mail).
   * @default - none
   */
  readonly emails?: string[];
  /**
   * An existing SNS topic to publish to instead of a new one. Its access policy must let
   * `events.amazonaws.com` publish (and, if it is encrypted, its key let that service use it).
   * @default - a new topic, encrypted with its own key
   */
  readonly topic?: sns.ITopic;
  /**
   * Which operational events alert.
   * @default - all of them (OPERATIONAL_EVENT_TYPES)
   */
  readonly eventTypes?: OperationalEventType[];
}

export interface SluiceAlertsProps extends AlertsOptions {
  /** The bus the gateway publishes its operational events on. */
  readonly eventBus: events.IEventBus;
  /** @default RemovalPolicy.RETAIN (for the topic's key) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Operational events (connection offline/unauthorized/online, flow paused/resumed/stopped,
 * message failed) to people: an EventBridge rule on the gateway's bus publishes each one,
 * as a readable message, to an SNS topic that e-mail addresses subscribe to.
 */
export class SluiceAlerts extends Construct {
  public readonly topic: sns.ITopic;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: SluiceAlertsProps) {
    super(scope, id);
    if (props.topic) {
      this.topic = props.topic;
    } else {
      const key = new kms.Key(this, 'TopicKey', {
        description: 'Sluice: encrypts the alerts topic',
        enableKeyRotation: true,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
      // EventBridge publishes to an encrypted topic only if it may use the topic's key.
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
        }),
      );
      this.topic = new sns.Topic(this, 'Topic', { displayName: 'Sluice alerts', masterKey: key, enforceSSL: true });
    }
    for (const email of props.emails ?? []) this.topic.addSubscription(new subscriptions.EmailSubscription(email));

    const types = props.eventTypes ?? [...OPERATIONAL_EVENT_TYPES];
    this.rule = new events.Rule(this, 'Rule', {
      description: `Sluice operational events to the alerts topic: ${types.join(', ')}`,
      eventBus: props.eventBus,
      eventPattern: { source: [EVENT_SOURCE], detailType: types },
    });
    this.rule.addTarget(
      new targets.SnsTopic(this.topic, {
        message: events.RuleTargetInput.fromMultilineText(
          `Sluice: ${events.EventField.detailType} at ${events.EventField.time} (account ${events.EventField.account}, ${events.EventField.region})\n` +
            `${events.EventField.fromPath('$.detail')}`,
        ),
        retryAttempts: 185,
        maxEventAge: Duration.hours(24),
      }),
    );
  }
}
