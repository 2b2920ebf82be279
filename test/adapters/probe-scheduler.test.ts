import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { CreateScheduleCommand, DeleteScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { EventBridgeProbeScheduler } from '../../adapters/aws/probe-scheduler';

const target = {
  groupName: 'sluice-probes',
  roleArn: 'arn:aws:iam::123456789012:role/sluice-scheduler',
  proberArn: 'arn:aws:lambda:us-east-1:123456789012:function:sluice-prober',
};

describe('EventBridge Scheduler one-time probes', () => {
  const scheduler = mockClient(SchedulerClient);
  beforeEach(() => scheduler.reset());

  it('creates one self-deleting at() schedule per fast probe when a connection goes down', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:schedule' });
    const probes = new EventBridgeProbeScheduler(new SchedulerClient({ region: 'us-east-1' }), target);
    await probes.connectionDown('erp', new Date('2026-11-22T10:00:00.000Z'));
    const calls = scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input);
    const expected = (delay: number, at: string) => ({
      Name: EventBridgeProbeScheduler.scheduleName('erp', delay),
      GroupName: 'sluice-probes',
      Description: `Sluice fast probe of connection erp, ${delay} s after it went down`,
      ScheduleExpression: `at(${at})`,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: target.proberArn,
        RoleArn: target.roleArn,
        Input: JSON.stringify({ kind: 'probe', connectionIds: ['erp'] }),
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
      },
    });
    assert.deepEqual(calls, [
      expected(60, '2026-11-22T10:01:00'),
      expected(300, '2026-11-22T10:05:00'),
      expected(900, '2026-11-22T10:15:00'),
    ]);
    for (const call of calls) assert.match(call.Name!, /^[0-9a-zA-Z_.-]{1,64}$/);
    assert.equal(
      probes.nextProbe(new Date('2026-11-22T10:00:00Z'), new Date('2026-11-22T10:02:00Z')).toISOString(),
      '2026-11-22T10:05:00.000Z',
    );
    assert.equal(
      probes.nextProbe(new Date('2026-11-22T10:00:00Z'), new Date('2026-11-22T10:20:00Z')).toISOString(),
      '2026-11-22T11:20:00.000Z',
    );
  });

  it('replaces a schedule left over from an earlier outage', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejectsOnce(Object.assign(new Error('exists'), { name: 'ConflictException' }))
      .resolves({});
    scheduler.on(DeleteScheduleCommand).resolves({});
    await new EventBridgeProbeScheduler(new SchedulerClient({ region: 'us-east-1' }), target, {
      fastProbeDelaysSeconds: [60],
      intervalSeconds: 3600,
    }).connectionDown('erp', new Date('2026-11-22T10:00:00Z'));
    assert.equal(scheduler.commandCalls(CreateScheduleCommand).length, 2);
    assert.deepEqual(
      scheduler.commandCalls(DeleteScheduleCommand).map((c) => c.args[0].input),
      [{ Name: EventBridgeProbeScheduler.scheduleName('erp', 60), GroupName: 'sluice-probes' }],
    );
  });

  it('deletes the pending one-time schedules when the connection is back, ignoring ones already gone', async () => {
    scheduler
      .on(DeleteScheduleCommand)
      .resolvesOnce({})
      .rejectsOnce(Object.assign(new Error('gone'), { name: 'ResourceNotFoundException' }))
      .resolves({});
    await new EventBridgeProbeScheduler(new SchedulerClient({ region: 'us-east-1' }), target).connectionUp('erp');
    assert.deepEqual(
      scheduler.commandCalls(DeleteScheduleCommand).map((c) => c.args[0].input),
      [60, 300, 900].map((delay) => ({ Name: EventBridgeProbeScheduler.scheduleName('erp', delay), GroupName: 'sluice-probes' })),
    );
  });
});
