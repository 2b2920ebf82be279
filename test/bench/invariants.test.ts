import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkInvariants, type AcceptedMessage, type ObservedRequest } from '../../bench/invariants';

const accepted = (seq: number, connectionId = 'c1'): AcceptedMessage => ({
  messageId: `m${seq}`,
  flowId: 'f1',
  connectionId,
  seq,
  lane: connectionId,
  postedAt: 0,
  acceptedAt: 1,
});
const request = (seq: number, at: number, status: number | undefined, possibleDuplicate = false, connectionId = 'c1'): ObservedRequest => ({
  connectionId,
  messageId: `m${seq}`,
  possibleDuplicate,
  at,
  ...(status !== undefined ? { status, answeredAt: at + 1 } : {}),
});

describe('delivery invariants', () => {
  it('a clean run: everything delivered once, in order', () => {
    const report = checkInvariants([accepted(0), accepted(1)], [request(0, 10, 200), request(1, 20, 200)], new Map());
    assert.equal(report.ok, true);
    assert.equal(report.delivered, 2);
    assert.equal(report.lost, 0);
  });

  it('a failed delivery in the failed store is not lost; one with no trace is', () => {
    const report = checkInvariants(
      [accepted(0), accepted(1), accepted(2)],
      [request(0, 10, 503)],
      new Map([
        ['c1/m0', 'failed'],
        ['c1/m1', 'queued'],
      ]),
      { requireSettled: true },
    );
    assert.equal(report.failed, 1);
    assert.equal(report.pending, 1);
    assert.equal(report.lost, 1);
    assert.equal(report.ok, false);
  });

  it('a repeat after delivery needs the possible-duplicate flag; so does any retry', () => {
    const flagged = checkInvariants([accepted(0)], [request(0, 10, 200), request(0, 20, 200, true)], new Map());
    assert.equal(flagged.ok, true);
    assert.equal(flagged.flaggedDuplicates, 1);
    const unflagged = checkInvariants([accepted(0)], [request(0, 10, 200), request(0, 20, 200, false)], new Map());
    assert.equal(unflagged.duplicatesWithoutFlag, 1);
    assert.equal(unflagged.ok, false);
    const retry = checkInvariants([accepted(0)], [request(0, 10, 503), request(0, 20, 200, false)], new Map());
    assert.equal(retry.repeatsWithoutFlag, 1);
    assert.equal(retry.ok, false);
  });

  it('order: a later message sent before an earlier one of its lane was delivered is a violation', () => {
    const report = checkInvariants(
      [accepted(0), accepted(1)],
      [request(0, 10, 503), request(1, 15, 200), request(0, 20, 200, true)],
      new Map(),
    );
    assert.equal(report.orderViolations, 1);
    assert.equal(report.ok, false);
    // Other lanes do not constrain each other.
    const lanes = checkInvariants(
      [accepted(0, 'a'), accepted(1, 'b')],
      [request(1, 5, 200, false, 'b'), request(0, 10, 200, false, 'a')],
      new Map(),
    );
    assert.equal(lanes.orderViolations, 0);
  });

  it('after an earlier message failed for good the lane moves on', () => {
    const report = checkInvariants(
      [accepted(0), accepted(1)],
      [request(0, 10, 503), request(0, 20, 503, true), request(1, 30, 200)],
      new Map([['c1/m0', 'failed']]),
    );
    assert.equal(report.ok, true);
    assert.equal(report.failed, 1);
  });
});
