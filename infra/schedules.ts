/**
 * Schedules builder: the group of one-time probe schedules the functions create at run
 * time, the role EventBridge Scheduler assumes to invoke the prober, and the recurring
 * (hourly by default) probe of every connection that is not online.
 */
import {
  Aws,
  Duration,
  RemovalPolicy,
  Stack,
  aws_iam as iam,
  type aws_lambda as lambda,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ResolvedProps } from './props';

export interface ProbeScheduling {
  /** Group holding the one-time probe schedules the prober creates at run time. */
  readonly group: scheduler.ScheduleGroup;
  /** Role EventBridge Scheduler assumes to invoke the prober. */
  readonly role: iam.Role;
  /** ARN pattern of the one-time schedules in `group`: the only schedules the functions may manage. */
  readonly oneTimeSchedulesArn: string;
}

/** The group and the role; they exist before the functions, which are told their names. */
export function buildProbeScheduling(scope: Construct): ProbeScheduling {
  const stack = Stack.of(scope);
  const group = new scheduler.ScheduleGroup(scope, 'ProbeScheduleGroup', { removalPolicy: RemovalPolicy.DESTROY });
  const defaultGroupArn = stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default' });
  const role = new iam.Role(scope, 'SchedulerRole', {
    description: 'Assumed by EventBridge Scheduler to invoke the Sluice prober',
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: {
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnEquals: { 'aws:SourceArn': [defaultGroupArn, group.scheduleGroupArn] },
      },
    }),
  });
  const oneTimeSchedulesArn = stack.formatArn({
    service: 'scheduler',
    resource: 'schedule',
    resourceName: `${group.scheduleGroupName}/*`,
  });
  return { group, role, oneTimeSchedulesArn };
}

/**
 * The functions that manage one-time probes (the deliverer when a connection goes down,
 * the operator for manual offline/online and reauthorize, the prober when one comes back)
 * may create and delete them in the group only, and pass the scheduler role.
 */
export function allowOneTimeProbes(scheduling: ProbeScheduling, functions: lambda.IFunction[]): void {
  for (const fn of functions) {
    scheduling.role.grantPassRole(fn.grantPrincipal);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'],
        resources: [scheduling.oneTimeSchedulesArn],
      }),
    );
  }
}

/** The recurring probe: `{"kind":"hourly"}` to the prober through the scheduler role. */
export function buildRecurringProbe(
  scope: Construct,
  scheduling: ProbeScheduling,
  prober: lambda.IFunction,
  props: ResolvedProps,
): scheduler.Schedule {
  return new scheduler.Schedule(scope, 'HourlyProbe', {
    description: 'Sluice: probe every connection that is not online',
    schedule: props.probeSchedule,
    target: new schedulerTargets.LambdaInvoke(prober, {
      role: scheduling.role,
      input: scheduler.ScheduleTargetInput.fromObject({ kind: 'hourly' }),
      // A missed hourly probe is replaced by the next one.
      maxEventAge: Duration.hours(1),
      retryAttempts: 3,
    }),
  });
}
