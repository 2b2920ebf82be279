import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptancePosition,
  ageSeconds,
  endsRound,
  laneVerdict,
  needsTicket,
  parkAfterSeconds,
  ticketSentAt,
  type LaneState,
} from '../../core/parking';

const lane = (over: Partial<LaneState>): LaneState => ({
  connectionId: 'erp',
  lane: 0,
  mode: 'parked',
  epoch: 2,
  round: 3,
  parks: 5,
  ...over,
});

describe('lane parking (SPEC delivery semantics 15)', () => {
  it('an open lane (or none recorded) delivers every ticket', () => {
    assert.equal(laneVerdict(undefined, undefined), 'deliver');
    assert.equal(laneVerdict(lane({ mode: 'open' }), 0), 'deliver');
  });

  it('a parked lane takes in every ticket, even one of its own epoch', () => {
    for (const epoch of [undefined, 0, 1, 2, 3]) assert.equal(laneVerdict(lane({ mode: 'parked' }), epoch), 'park');
  });

  it('a releasing lane delivers only the tickets its release sent; older ones (newcomers included) are parked behind them', () => {
    assert.equal(laneVerdict(lane({ mode: 'releasing' }), 2), 'deliver');
    assert.equal(laneVerdict(lane({ mode: 'releasing' }), 1), 'park');
    assert.equal(laneVerdict(lane({ mode: 'releasing' }), undefined), 'park');
  });

  it('a round ends with the ticket of its last delivery, in its epoch only', () => {
    const position = acceptancePosition({ receivedAt: '2026-01-31T12:00:00.000Z', flowId: 'orders', messageId: 'm-9' });
    assert.equal(position, '2026-01-31T12:00:00.000Z#orders#m-9');
    const releasing = lane({ mode: 'releasing', through: position });
    assert.equal(endsRound(releasing, 2, position), true);
    assert.equal(endsRound(releasing, 1, position), false, 'a stale ticket of the same delivery');
    assert.equal(endsRound(releasing, 2, `${position}0`), false);
    assert.equal(endsRound(lane({ mode: 'parked', through: position }), 2, position), false);
    assert.equal(endsRound(undefined, 2, position), false);
  });

  it('acceptance positions sort in acceptance order', () => {
    const positions = [
      { receivedAt: '2026-01-31T12:00:00.001Z', flowId: 'a', messageId: 'z' },
      { receivedAt: '2026-01-31T12:00:00.000Z', flowId: 'b', messageId: 'y' },
      { receivedAt: '2026-01-31T12:00:00.000Z', flowId: 'a', messageId: 'x' },
    ].map(acceptancePosition);
    assert.deepEqual([...positions].sort(), [positions[2], positions[1], positions[0]]);
  });

  it('parks two days before the queue would drop a ticket (SQS: 14 days)', () => {
    assert.equal(parkAfterSeconds(14 * 86_400), 12 * 86_400);
    assert.equal(parkAfterSeconds(86_400), 0);
  });

  it('a ticket without a stamp is as old as its message', () => {
    assert.equal(ticketSentAt({}, '2026-01-01T00:00:00.000Z'), '2026-01-01T00:00:00.000Z');
    assert.equal(ticketSentAt({ sentAt: '2026-01-05T00:00:00.000Z' }, '2026-01-01T00:00:00.000Z'), '2026-01-05T00:00:00.000Z');
    assert.equal(ageSeconds('2026-01-01T00:00:00.000Z', new Date('2026-01-02T00:00:00.000Z')), 86_400);
    assert.equal(ageSeconds('not a time', new Date()), Number.POSITIVE_INFINITY);
  });

  it('queued, retrying, paused and in-error deliveries need a ticket; final and suspended ones do not', () => {
    assert.deepEqual(
      (['queued', 'retrying', 'paused', 'inError', 'delivered', 'failed', 'suspended', 'discarded'] as const).filter(needsTicket),
      ['queued', 'retrying', 'paused', 'inError'],
    );
  });
});
