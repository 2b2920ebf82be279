import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  clampVisibilitySeconds,
  DEFAULT_VISIBILITY_MARGIN_SECONDS,
  SQS_MAX_VISIBILITY_SECONDS,
  visibilityCapSeconds,
} from '../../core/visibility';

/**
 * SQS's documented rule for ChangeMessageVisibility (API reference): the value is
 * 0 to 43,200 s, and a message's total visibility timeout cannot exceed 12 hours
 * counted from its receive: "If you attempt to set the VisibilityTimeout to an
 * amount more than the maximum time left, Amazon SQS returns an error."
 * Written here from the documentation, not from the code under test.
 */
function sqsAccepts(secondsSinceReceive: number, visibilityTimeout: number): boolean {
  return (
    Number.isInteger(visibilityTimeout) &&
    visibilityTimeout >= 0 &&
    visibilityTimeout <= 43_200 &&
    secondsSinceReceive + visibilityTimeout <= 43_200
  );
}

const NOW = Date.parse('2026-11-23T08:00:00.000Z');
const HANDOVER = 1050; // the deliverer queue's visibility timeout (900 s) plus its run time (150 s)

describe('SQS visibility cap', () => {
  it('the documented example holds in the model: 2 h 30 min into a receive, at most 9 h 30 min is left', () => {
    assert.equal(sqsAccepts(2.5 * 3600, 9.5 * 3600), true);
    assert.equal(sqsAccepts(2.5 * 3600, 9.5 * 3600 + 1), false);
  });

  it('the old clamp to exactly 43,200 s is rejected as soon as a message has been in flight at all', () => {
    assert.equal(sqsAccepts(0, SQS_MAX_VISIBILITY_SECONDS), true);
    assert.equal(sqsAccepts(1, SQS_MAX_VISIBILITY_SECONDS), false);
  });

  it('for a first receive, the cap is 12 hours minus the time since that receive, minus the margin', () => {
    for (const since of [0, 1, 59, 600, 1049]) {
      const window = { nowMs: NOW, firstReceiveMs: NOW - since * 1000, maxSinceReceiveSeconds: HANDOVER };
      const cap = visibilityCapSeconds(window);
      assert.equal(cap, 43_200 - since - DEFAULT_VISIBILITY_MARGIN_SECONDS, `${since} s after the receive`);
      assert.equal(sqsAccepts(since, cap), true);
      // The margin absorbs a host clock up to a minute behind SQS's.
      assert.equal(sqsAccepts(since + DEFAULT_VISIBILITY_MARGIN_SECONDS, cap), true);
    }
  });

  it('a message received again long after its first receive is bounded by the hand-over time instead', () => {
    const window = { nowMs: NOW, firstReceiveMs: NOW - 6 * 3600 * 1000, maxSinceReceiveSeconds: HANDOVER };
    const cap = visibilityCapSeconds(window);
    assert.equal(cap, 43_200 - HANDOVER - DEFAULT_VISIBILITY_MARGIN_SECONDS);
    // Whenever within the hand-over time this receive actually happened, SQS accepts the cap.
    for (const actualSince of [0, 300, 900, HANDOVER]) assert.equal(sqsAccepts(actualSince, cap), true);
    // Without the first receive time, the same bound applies.
    assert.equal(visibilityCapSeconds({ nowMs: NOW, maxSinceReceiveSeconds: HANDOVER }), cap);
  });

  it('every requested delay, however long (retry intervals, Retry-After), becomes a value SQS accepts', () => {
    const requests = [0, 0.2, 1, 30, 3600, 43_199, 43_200, 43_201, 86_400, 14 * 86_400, 1e12, Number.POSITIVE_INFINITY];
    for (const since of [0, 1, 600, 1049]) {
      const window = { nowMs: NOW, firstReceiveMs: NOW - since * 1000, maxSinceReceiveSeconds: HANDOVER };
      for (const requested of requests) {
        const visibility = clampVisibilitySeconds(requested, window);
        assert.ok(sqsAccepts(since, visibility), `${requested} s requested ${since} s after the receive gave ${visibility}`);
        assert.ok(
          visibility >= Math.min(Math.ceil(requested), 43_200 - since - DEFAULT_VISIBILITY_MARGIN_SECONDS),
          'never shorter than needed',
        );
      }
    }
  });

  it('short delays pass unchanged (rounded up to whole seconds); nonsense becomes 0', () => {
    const window = { nowMs: NOW, firstReceiveMs: NOW - 5000, maxSinceReceiveSeconds: HANDOVER };
    assert.equal(clampVisibilitySeconds(30, window), 30);
    assert.equal(clampVisibilitySeconds(3600, window), 3600);
    assert.equal(clampVisibilitySeconds(1.2, window), 2);
    assert.equal(clampVisibilitySeconds(0, window), 0);
    assert.equal(clampVisibilitySeconds(-5, window), 0);
    assert.equal(clampVisibilitySeconds(Number.NaN, window), 0);
  });

  it('a first-receive timestamp in the future (clock skew) never lifts the cap above 12 hours less the margin', () => {
    const cap = visibilityCapSeconds({ nowMs: NOW, firstReceiveMs: NOW + 120_000, maxSinceReceiveSeconds: HANDOVER });
    assert.equal(cap, 43_200 - DEFAULT_VISIBILITY_MARGIN_SECONDS);
  });
});
