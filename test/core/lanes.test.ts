import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deliveryDeduplicationId, laneFor, laneGroupId, parseLaneGroupId } from '../../core/lanes';

describe('laneFor (SPEC delivery semantics 5)', () => {
  it('is stable: pinned lanes, so an upgrade never moves queued messages to another lane', () => {
    // sha256(id), first four bytes big-endian, modulo 8: fixed values, not recomputed here.
    const pinned = { a: 2, 'msg-1': 1, 'ORDER:2026-01-31:0001': 4 };
    for (const [messageId, lane] of Object.entries(pinned)) assert.equal(laneFor({ messageId }, 8), lane, messageId);
  });

  it('stays in [0, threads)', () => {
    for (const threads of [2, 3, 4, 7, 16]) {
      for (let i = 0; i < 200; i++) {
        const lane = laneFor({ messageId: `m-${i}` }, threads);
        assert.ok(Number.isInteger(lane) && lane >= 0 && lane < threads, `lane ${lane} of ${threads}`);
      }
    }
  });

  it('one thread (or fewer) is always lane 0', () => {
    for (let i = 0; i < 50; i++) {
      assert.equal(laneFor({ messageId: `m-${i}`, chainId: `c-${i}` }, 1), 0);
      assert.equal(laneFor({ messageId: `m-${i}` }, 0), 0);
    }
  });

  it('the chain id decides the lane: same chain, same lane, whatever the GUID', () => {
    for (const chainId of ['chain-a', 'chain-b', 'customer:42']) {
      const lanes = new Set(Array.from({ length: 100 }, (_, i) => laneFor({ chainId, messageId: `guid-${i}` }, 8)));
      assert.equal(lanes.size, 1, chainId);
    }
  });

  it('without a chain the GUID picks the lane: the GUIDs spread over several lanes', () => {
    const lanes = new Set(Array.from({ length: 100 }, (_, i) => laneFor({ messageId: `guid-${i}` }, 8)));
    assert.ok(lanes.size > 1);
  });

  it('distributes 1000 GUIDs roughly evenly over 4 lanes', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 1000; i++) counts[laneFor({ messageId: `guid-${i}-${i * 7919}` }, 4)]!++;
    for (const [lane, count] of counts.entries()) assert.ok(count > 150, `lane ${lane} got ${count}: ${counts.join(',')}`);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      1000,
    );
  });
});

describe('lane group ids', () => {
  it('round-trip connection id and lane', () => {
    for (const [connectionId, lane] of [
      ['conn-1', 0],
      ['erp.prod_2', 3],
      ['A', 15],
      ['x'.repeat(64), 127],
    ] as const) {
      const groupId = laneGroupId(connectionId, lane);
      assert.deepEqual(parseLaneGroupId(groupId), { connectionId, lane });
    }
  });

  it('differ per lane and per connection', () => {
    assert.notEqual(laneGroupId('conn-1', 0), laneGroupId('conn-1', 1));
    assert.notEqual(laneGroupId('conn-1', 0), laneGroupId('conn-2', 0));
  });

  it('fit an SQS message group id (≤ 128 characters) for the longest connection id', () => {
    assert.ok(laneGroupId('x'.repeat(64), 999).length <= 128);
  });
});

describe('deliveryDeduplicationId', () => {
  it('is deterministic: a pinned value, so an enqueue retried by another process or release dedupes', () => {
    // sha256 of "f\nm\nc\n0", fixed here rather than recomputed.
    assert.equal(deliveryDeduplicationId('f', 'm', 'c', 0), 'e4d441c928b4c48db03854a9415a798e7254e9aecbb124c6783128feac73fa45');
  });

  it('is at most 128 characters from the SQS-allowed set', () => {
    const id = deliveryDeduplicationId('f'.repeat(64), 'm'.repeat(128), 'c'.repeat(64), 12345);
    assert.ok(id.length >= 1 && id.length <= 128, `length ${id.length}`);
    assert.match(id, /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]+$/);
  });

  it('differs per restart', () => {
    const ids = new Set([0, 1, 2, 3].map((r) => deliveryDeduplicationId('f', 'm', 'c', r)));
    assert.equal(ids.size, 4);
  });

  it('differs per release round of a parked lane, and is unchanged for first tickets (epoch 0)', () => {
    assert.equal(deliveryDeduplicationId('f', 'm', 'c', 0, 0, 0), deliveryDeduplicationId('f', 'm', 'c', 0));
    const ids = new Set(
      [
        [1, 1],
        [1, 2],
        [2, 3],
        [0, 0],
      ].map(([epoch, round]) => deliveryDeduplicationId('f', 'm', 'c', 0, epoch, round)),
    );
    assert.equal(ids.size, 4);
  });

  it('differs per connection, message and flow', () => {
    const base = deliveryDeduplicationId('f', 'm', 'c1', 0);
    assert.notEqual(base, deliveryDeduplicationId('f', 'm', 'c2', 0));
    assert.notEqual(base, deliveryDeduplicationId('f', 'm2', 'c1', 0));
    assert.notEqual(base, deliveryDeduplicationId('f2', 'm', 'c1', 0));
  });

  it('does not collide when characters move between fields', () => {
    assert.notEqual(deliveryDeduplicationId('ab', 'c', 'd', 0), deliveryDeduplicationId('a', 'bc', 'd', 0));
  });
});
