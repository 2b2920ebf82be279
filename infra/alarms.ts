/**
 * Alarms builder: the alarms that matter, each with the deployer's actions (and the alarm
 * topic on ALARM and OK). Thresholds are "anything at all" except the age of the oldest
 * delivery, which legitimately waits for the probe while a connection is down.
 */
import { Duration, aws_cloudwatch as cloudwatch, aws_cloudwatch_actions as cwActions, aws_dynamodb as dynamodb } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { partnerServerErrors, type Apis } from './apis';
import type { SluiceFunctions } from './functions';
import type { ResolvedProps } from './props';
import type { Storage } from './storage';

/** The table operations the handlers use, watched for throttling (TransactWriteItems included). */
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

export interface Alarms {
  readonly alarms: cloudwatch.Alarm[];
  /** Whether any alarm has an action (cfn-guard asks for one). */
  readonly haveActions: boolean;
}

export function buildAlarms(scope: Construct, storage: Storage, functions: SluiceFunctions, apis: Apis, props: ResolvedProps): Alarms {
  const alarmActions: cloudwatch.IAlarmAction[] = [...props.alarmActions];
  const okActions: cloudwatch.IAlarmAction[] = [];
  if (props.alarmTopic) {
    alarmActions.push(new cwActions.SnsAction(props.alarmTopic));
    okActions.push(new cwActions.SnsAction(props.alarmTopic));
  }
  const period = Duration.minutes(5);
  const sum = { period, statistic: cloudwatch.Stats.SUM };
  const maximum = { period, statistic: cloudwatch.Stats.MAXIMUM };
  const alarm = (id: string, description: string, metric: cloudwatch.IMetric, threshold: number): cloudwatch.Alarm => {
    const created = new cloudwatch.Alarm(scope, id, {
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
  const { ingest, operator, deliverer, prober } = functions;
  const age = props.oldestMessageAgeThreshold;
  const alarms = [
    alarm(
      'IngestErrorsAlarm',
      'Sluice ingest invocations failed: partners get 500s and their messages are not accepted.',
      ingest.metricErrors(sum),
      0,
    ),
    alarm('OperatorErrorsAlarm', 'Sluice operator API invocations failed (a bug or an internal error).', operator.metricErrors(sum), 0),
    alarm(
      'PartnerApi5xxAlarm',
      'Sluice partner API answered 5XX (handler errors, timeouts or integration failures).',
      partnerServerErrors(apis.partner, sum),
      0,
    ),
    alarm(
      'OperatorApi5xxAlarm',
      'Sluice operator API answered 5XX (handler errors, timeouts or integration failures).',
      apis.operator.metricServerError(sum),
      0,
    ),
    alarm(
      'TableThrottlesAlarm',
      'Sluice table requests were throttled: ingest and delivery slow down or fail with internal errors.',
      storage.table.metricThrottledRequestsForOperations({
        operations: TABLE_OPERATIONS,
        period,
        label: 'Throttled requests (all operations Sluice uses)',
      }),
      0,
    ),
    alarm(
      'DelivererErrorsAlarm',
      'Sluice deliverer invocations failed (a bug or an internal error, not a target failure).',
      deliverer.metricErrors(sum),
      0,
    ),
    alarm('ProberErrorsAlarm', 'Sluice prober invocations failed: offline connections may not be resumed.', prober.metricErrors(sum), 0),
    alarm(
      'OldestDeliveryAgeAlarm',
      `Oldest delivery has waited more than ${age.toHumanString()}: a connection has stayed offline or unauthorized beyond one probe cycle, or delivery is stuck.`,
      storage.queue.metricApproximateAgeOfOldestMessage(maximum),
      age.toSeconds(),
    ),
    // SQS's age leaves out messages received 3+ times, which a held lane's head soon is: the prober's own metric does not.
    alarm(
      'HeldDeliveryAgeAlarm',
      `A delivery has been held (connection offline, unauthorized or in error, flow paused) for more than ${age.toHumanString()}.`,
      new cloudwatch.Metric({
        namespace: 'Sluice',
        // services/prober.ts publishes it (HELD_DELIVERY_AGE_METRIC) from the prober function.
        metricName: 'OldestHeldDeliveryAge',
        dimensionsMap: { service: 'sluice-prober' },
        period: Duration.hours(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      age.toSeconds(),
    ),
    alarm(
      'DeadLetterQueueAlarm',
      'Deliveries reached the dead-letter queue (the deliverer could not process them).',
      storage.deadLetterQueue.metricApproximateNumberOfMessagesVisible(maximum),
      0,
    ),
  ];
  return { alarms, haveActions: alarmActions.length > 0 };
}
