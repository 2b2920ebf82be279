import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventBridgeProbeScheduler } from '../../adapters/aws/probe-scheduler';
import { schedulerService } from '../../adapters/aws/protocol/scheduler';
import { AwsEndpoint, type RecordedRequest } from '../helpers/aws-endpoint';

const target = {
  groupName: 'sluice-probes',
  roleArn: 'arn:aws:iam::123456789012:role/sluice-scheduler',
  proberArn: 'arn:aws:lambda:us-east-1:123456789012:function:sluice-prober',
};

const scheduleName = (request: RecordedRequest) => decodeURIComponent(request.path.slice('/schedules/'.length));

describe('EventBridge Scheduler one-time probes (requests to a stand-in Scheduler endpoint)', () => {
  let scheduler: AwsEndpoint;
  before(async () => {
    scheduler = await AwsEndpoint.start();
  });
  beforeEach(() => scheduler.reset());
  after(() => scheduler.close());

  /** CreateSchedule as the adapter asked for it: the name from the path, the rest from the body. */
  const created = () =>
    scheduler.of('CreateSchedule').map((request) => {
      const { ClientToken, ...rest } = request.body;
      assert.match(ClientToken, /^[0-9a-f-]{36}$/, 'an idempotency token');
      return { Name: scheduleName(request), ...rest };
    });
  const deleted = () =>
    scheduler.of('DeleteSchedule').map((request) => ({ Name: scheduleName(request), GroupName: request.query.groupName }));

  it('creates one self-deleting at() schedule per fast probe when a connection goes down', async () => {
    scheduler.on('CreateSchedule', { body: { ScheduleArn: 'arn:schedule' } });
    const probes = new EventBridgeProbeScheduler(scheduler.client(schedulerService), target);
    await probes.connectionDown('erp', new Date('2026-11-22T10:00:00.000Z'));
    const calls = created();
    for (const request of scheduler.of('CreateSchedule')) assert.equal(request.method, 'POST');
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
    scheduler.on('CreateSchedule', { status: 409, errorType: 'ConflictException' }, {});
    await new EventBridgeProbeScheduler(scheduler.client(schedulerService), target, {
      fastProbeDelaysSeconds: [60],
      intervalSeconds: 3600,
    }).connectionDown('erp', new Date('2026-11-22T10:00:00Z'));
    assert.equal(created().length, 2);
    assert.deepEqual(deleted(), [{ Name: EventBridgeProbeScheduler.scheduleName('erp', 60), GroupName: 'sluice-probes' }]);
    assert.deepEqual(
      scheduler.requests.map((r) => r.operation),
      ['CreateSchedule', 'DeleteSchedule', 'CreateSchedule'],
    );
  });

  it('deletes the pending one-time schedules when the connection is back, ignoring ones already gone', async () => {
    scheduler.on('DeleteSchedule', {}, { status: 404, errorType: 'ResourceNotFoundException' }, {});
    await new EventBridgeProbeScheduler(scheduler.client(schedulerService), target).connectionUp('erp');
    assert.deepEqual(
      deleted(),
      [60, 300, 900].map((delay) => ({ Name: EventBridgeProbeScheduler.scheduleName('erp', delay), GroupName: 'sluice-probes' })),
    );
  });
});
