import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseRetryAfter, retryDelaySeconds } from '../../core/retry';
import type { RetryPolicy } from '../../core/model';

const fixed: RetryPolicy = { count: 5, intervalSeconds: 60, backoff: 'fixed', maxIntervalSeconds: 3600 };
const exponential: RetryPolicy = { count: 10, intervalSeconds: 10, backoff: 'exponential', maxIntervalSeconds: 100 };
const low = () => 0;
const high = () => 1;

describe('retryDelaySeconds', () => {
  it('fixed back-off waits the interval on every retry, whatever the random source', () => {
    for (const retry of [1, 2, 5, 10]) {
      assert.equal(retryDelaySeconds(fixed, retry, undefined, low), 60);
      assert.equal(retryDelaySeconds(fixed, retry, undefined, high), 60);
    }
  });

  it('exponential back-off doubles per retry (upper bound with random = 1)', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((retry) => retryDelaySeconds(exponential, retry, undefined, high)),
      [10, 20, 40, 80],
    );
  });

  it('exponential back-off is capped at maxIntervalSeconds', () => {
    assert.equal(retryDelaySeconds(exponential, 5, undefined, high), 100); // 160 capped
    assert.equal(retryDelaySeconds(exponential, 30, undefined, high), 100);
    assert.equal(retryDelaySeconds(exponential, 5, undefined, low), 50);
  });

  it('jitter keeps half fixed: random = 0 gives half the step, random = 1 the full step', () => {
    assert.equal(retryDelaySeconds(exponential, 3, undefined, low), 20); // 40 / 2
    assert.equal(retryDelaySeconds(exponential, 3, undefined, high), 40);
    assert.equal(
      retryDelaySeconds(exponential, 3, undefined, () => 0.5),
      30,
    );
  });

  it('jittered delays always stay within [step/2, step]', () => {
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let i = 0; i < 200; i++) {
      const delay = retryDelaySeconds(exponential, 4, undefined, random); // step 80
      assert.ok(delay >= 40 && delay <= 80, `delay ${delay}`);
    }
  });

  it('returns whole seconds', () => {
    const delay = retryDelaySeconds({ ...exponential, intervalSeconds: 3 }, 1, undefined, () => 0.3);
    assert.equal(delay, 2); // 1.5 + 0.45 = 1.95 -> 2
    assert.ok(Number.isInteger(delay));
  });

  it('honours Retry-After when it asks for longer', () => {
    assert.equal(retryDelaySeconds(fixed, 1, 120, low), 120);
    assert.equal(retryDelaySeconds(exponential, 1, 300, high), 300);
  });

  it('ignores Retry-After when it asks for less than the policy', () => {
    assert.equal(retryDelaySeconds(fixed, 1, 5, low), 60);
    assert.equal(retryDelaySeconds(fixed, 1, 0, low), 60);
    assert.equal(retryDelaySeconds(exponential, 4, 10, high), 80);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-01-31T12:00:00Z');

  it('reads delta-seconds', () => {
    assert.equal(parseRetryAfter('120', now), 120);
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter(' 30 ', now), 30);
  });

  it('reads an HTTP date relative to the given now', () => {
    assert.equal(parseRetryAfter('Sat, 31 Jan 2026 12:02:00 GMT', now), 120);
    assert.equal(parseRetryAfter('Sat, 31 Jan 2026 12:02:00 GMT', new Date('2026-01-31T12:01:00Z')), 60);
  });

  it('rounds a partial second of an HTTP date up', () => {
    assert.equal(parseRetryAfter('Sat, 31 Jan 2026 12:00:10 GMT', new Date('2026-01-31T11:59:59.500Z')), 11);
  });

  it('a date in the past means no wait (0), never negative', () => {
    assert.equal(parseRetryAfter('Fri, 30 Jan 2026 12:00:00 GMT', now), 0);
  });

  it('missing or garbage values give undefined', () => {
    for (const value of [undefined, '', 'soon', '10s', 'abc', 'next tuesday-ish']) {
      assert.equal(parseRetryAfter(value, now), undefined, JSON.stringify(value));
    }
  });
});
