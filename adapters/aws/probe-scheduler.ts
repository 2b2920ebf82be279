import type { AwsClient } from './protocol/client';
import { createHash } from 'node:crypto';
import { CreateScheduleCommand, DeleteScheduleCommand } from './protocol/scheduler';
import { DEFAULT_PROBE_PLAN, nextProbe, type ProbePlan } from '../../core/probe-plan';
import type { ProbeScheduler } from '../../core/ports';

export interface ProbeTarget {
  /** Schedule group that holds the one-time probe schedules. */
  groupName: string;
  /** Role EventBridge Scheduler assumes to invoke the prober. */
  roleArn: string;
  proberArn: string;
}

/**
 * Fast probes as EventBridge Scheduler one-time schedules (`at(...)`) that delete
 * themselves after running; the hourly schedule in the stack covers the rest.
 */
export class EventBridgeProbeScheduler implements ProbeScheduler {
  constructor(
    private readonly scheduler: AwsClient,
    private readonly target: ProbeTarget,
    private readonly plan: ProbePlan = DEFAULT_PROBE_PLAN,
  ) {}

  /** Schedule names allow 64 characters of [0-9a-zA-Z-_.]: a hash keeps any connection id within that. */
  static scheduleName(connectionId: string, delaySeconds: number): string {
    return `sluice-probe-${createHash('sha256').update(connectionId).digest('hex').slice(0, 24)}-${delaySeconds}s`;
  }

  nextProbe(downSince: Date, now: Date): Date {
    return nextProbe(this.plan, downSince, now);
  }

  private create(connectionId: string, delaySeconds: number, now: Date) {
    const at = new Date(now.getTime() + delaySeconds * 1000);
    return new CreateScheduleCommand({
      Name: EventBridgeProbeScheduler.scheduleName(connectionId, delaySeconds),
      GroupName: this.target.groupName,
      Description: `Sluice fast probe of connection ${connectionId}, ${delaySeconds} s after it went down`,
      ScheduleExpression: `at(${at.toISOString().slice(0, 19)})`,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: this.target.proberArn,
        RoleArn: this.target.roleArn,
        Input: JSON.stringify({ kind: 'probe', connectionIds: [connectionId] }),
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
      },
    });
  }

  async connectionDown(connectionId: string, now: Date): Promise<void> {
    for (const delay of this.plan.fastProbeDelaysSeconds) {
      try {
        await this.scheduler.send(this.create(connectionId, delay, now));
      } catch (error) {
        if ((error as { name?: string }).name !== 'ConflictException') throw error;
        // Left over from an earlier outage that never fired: replace it.
        await this.delete(connectionId, delay);
        await this.scheduler.send(this.create(connectionId, delay, now));
      }
    }
  }

  private async delete(connectionId: string, delay: number): Promise<void> {
    try {
      await this.scheduler.send(
        new DeleteScheduleCommand({ Name: EventBridgeProbeScheduler.scheduleName(connectionId, delay), GroupName: this.target.groupName }),
      );
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
    }
  }

  async connectionUp(connectionId: string): Promise<void> {
    for (const delay of this.plan.fastProbeDelaysSeconds) await this.delete(connectionId, delay);
  }
}
