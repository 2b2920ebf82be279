import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countBucket, countDeltas, messageStatus } from '../../core/message-status';
import type { DeliveryStatus } from '../../core/model';

const ALL: DeliveryStatus[] = ['queued', 'retrying', 'paused', 'inError', 'delivered', 'failed', 'suspended', 'discarded'];

describe('countDeltas', () => {
  it('a new delivery adds one to its bucket', () => {
    assert.deepEqual(countDeltas(undefined, 'queued'), { queued: 1 });
  });

  it('moves exactly one count between buckets', () => {
    assert.deepEqual(countDeltas('queued', 'delivered'), { queued: -1, delivered: 1 });
    assert.deepEqual(countDeltas('retrying', 'failed'), { queued: -1, failed: 1 });
    assert.deepEqual(countDeltas('failed', 'queued'), { failed: -1, queued: 1 });
    assert.deepEqual(countDeltas('queued', 'inError'), { queued: -1, inError: 1 });
    assert.deepEqual(countDeltas('queued', 'suspended'), { queued: -1, suspended: 1 });
  });

  it('is empty for moves within the queued bucket (queued, retrying, paused)', () => {
    assert.deepEqual(countDeltas('queued', 'retrying'), {});
    assert.deepEqual(countDeltas('retrying', 'paused'), {});
    assert.deepEqual(countDeltas('paused', 'queued'), {});
    assert.deepEqual(countDeltas('failed', 'failed'), {});
  });

  it('discarding only removes the count', () => {
    assert.deepEqual(countDeltas('failed', 'discarded'), { failed: -1 });
    assert.deepEqual(countDeltas('suspended', 'discarded'), { suspended: -1 });
  });

  it('every transition nets to zero or moves at most one count in and one out', () => {
    for (const from of [undefined, ...ALL]) {
      for (const to of ALL) {
        const deltas = countDeltas(from, to);
        const values = Object.values(deltas);
        assert.ok(
          values.every((v) => v === 1 || v === -1),
          `${from}->${to}`,
        );
        assert.ok(values.filter((v) => v === 1).length <= 1 && values.filter((v) => v === -1).length <= 1, `${from}->${to}`);
        if (from && countBucket(from) === countBucket(to)) assert.deepEqual(deltas, {}, `${from}->${to}`);
      }
    }
  });

  it('never touches the accepted counter', () => {
    for (const from of [undefined, ...ALL]) for (const to of ALL) assert.equal('accepted' in countDeltas(from, to), false);
  });
});

describe('messageStatus', () => {
  const d = (...statuses: DeliveryStatus[]) => statuses.map((status) => ({ status }));

  it('is accepted while the enqueue is pending, whatever the deliveries say', () => {
    assert.equal(messageStatus('pending', d('delivered')), 'accepted');
    assert.equal(messageStatus('pending', []), 'accepted');
  });

  it('is accepted with no deliveries', () => {
    assert.equal(messageStatus('done', []), 'accepted');
  });

  it('is delivered only when every destination is delivered', () => {
    assert.equal(messageStatus('done', d('delivered', 'delivered')), 'delivered');
    assert.equal(messageStatus('done', d('delivered', 'queued')), 'queued');
  });

  it('inError beats failed beats suspended beats the in-progress states', () => {
    assert.equal(messageStatus('done', d('failed', 'inError', 'delivered')), 'inError');
    assert.equal(messageStatus('done', d('suspended', 'failed', 'queued')), 'failed');
    assert.equal(messageStatus('done', d('retrying', 'suspended')), 'suspended');
    assert.equal(messageStatus('done', d('queued', 'paused', 'retrying')), 'paused');
    assert.equal(messageStatus('done', d('queued', 'retrying')), 'retrying');
    assert.equal(messageStatus('done', d('delivered', 'queued')), 'queued');
  });

  it('a single delivery gives its own status', () => {
    for (const status of ALL) assert.equal(messageStatus('done', d(status)), status);
  });
});
