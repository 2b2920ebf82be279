import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { afterAttempt, decide, HOLD_RECHECK_SECONDS, OVERDUE_PROBE_RECHECK_SECONDS, type DecisionInput } from '../../core/delivery-machine';
import type { Verdict } from '../../core/classify';
import type { Delivery, DeliveryStatus, RetryPolicy } from '../../core/model';

const NOW = new Date('2026-01-31T12:00:00Z');
const KEY = 'flow-1#msg-1#conn-1';

function at(offsetSeconds: number): string {
  return new Date(NOW.getTime() + offsetSeconds * 1000).toISOString();
}

function delivery(overrides: Partial<Delivery> = {}): Delivery {
  return {
    flowId: 'flow-1',
    messageId: 'msg-1',
    connectionId: 'conn-1',
    lane: 0,
    status: 'queued',
    attempts: 0,
    possibleDuplicate: false,
    restarts: 0,
    updatedAt: at(-60),
    ...overrides,
  };
}

type Conn = NonNullable<DecisionInput['connection']>;
type FlowPick = NonNullable<DecisionInput['flow']>;

function input(
  overrides: {
    delivery?: Partial<Delivery> | null;
    message?: DecisionInput['message'] | null;
    flow?: Partial<FlowPick> | null;
    connection?: Partial<Conn> | null;
    ticketRestarts?: number;
    chainBlocked?: boolean;
  } = {},
): DecisionInput {
  const result: DecisionInput = {
    now: NOW,
    ticketRestarts: overrides.ticketRestarts ?? 0,
    deliveryKey: KEY,
    chainBlocked: overrides.chainBlocked ?? false,
  };
  if (overrides.delivery !== null) result.delivery = delivery(overrides.delivery ?? {});
  if (overrides.message !== null) result.message = overrides.message ?? {};
  if (overrides.flow !== null) result.flow = { status: 'enabled', onFailure: 'continue', autoRetry: true, ...overrides.flow };
  if (overrides.connection !== null) result.connection = { status: 'online', onError: 'hold-all', ...overrides.connection };
  return result;
}

describe('decide: stale and finished tickets are acknowledged', () => {
  it('acks when no delivery is recorded', () => {
    assert.equal(decide(input({ delivery: null })).action, 'ack');
  });

  it('acks when the message record is missing', () => {
    assert.equal(decide(input({ message: null })).action, 'ack');
  });

  it('acks a ticket sent before a restart', () => {
    const d = decide(input({ ticketRestarts: 0, delivery: { restarts: 1 } }));
    assert.equal(d.action, 'ack');
  });

  it('a ticket of the current restart generation is not stale', () => {
    assert.equal(decide(input({ ticketRestarts: 2, delivery: { restarts: 2 } })).action, 'attempt');
  });

  it('acks a delivery that is already delivered, failed, discarded or suspended', () => {
    for (const status of ['delivered', 'failed', 'discarded', 'suspended'] as DeliveryStatus[]) {
      assert.equal(decide(input({ delivery: { status } })).action, 'ack', status);
    }
  });

  it('does not ack the unfinished statuses', () => {
    for (const status of ['queued', 'retrying', 'paused'] as DeliveryStatus[]) {
      assert.equal(decide(input({ delivery: { status } })).action, 'attempt', status);
    }
  });

  it('a finished delivery is acked even when its flow and connection are gone', () => {
    assert.equal(decide(input({ delivery: { status: 'delivered' }, flow: null, connection: null })).action, 'ack');
  });
});

describe('decide: configuration, holds and suspension', () => {
  it('fails as configuration when the flow no longer exists', () => {
    const d = decide(input({ flow: null }));
    assert.ok(d.action === 'fail');
    assert.equal(d.failureType, 'configuration');
  });

  it('fails as configuration when the connection does not exist', () => {
    const d = decide(input({ connection: null }));
    assert.ok(d.action === 'fail');
    assert.equal(d.failureType, 'configuration');
  });

  for (const status of ['paused', 'stopped'] as const) {
    it(`holds (paused) for HOLD_RECHECK_SECONDS while the flow is ${status}`, () => {
      const d = decide(input({ flow: { status } }));
      assert.ok(d.action === 'hold');
      assert.equal(d.status, 'paused');
      assert.equal(d.seconds, HOLD_RECHECK_SECONDS);
    });
  }

  it('HOLD_RECHECK_SECONDS is an hour', () => {
    assert.equal(HOLD_RECHECK_SECONDS, 3600);
  });

  it('a paused flow holds even a delivery whose retry is due and whose connection is offline', () => {
    const d = decide(input({ flow: { status: 'paused' }, connection: { status: 'offline', nextProbeAt: at(60) } }));
    assert.ok(d.action === 'hold');
    assert.equal(d.seconds, HOLD_RECHECK_SECONDS);
  });

  for (const status of ['offline', 'unauthorized'] as const) {
    it(`holds (paused) until the next probe while the connection is ${status}`, () => {
      const d = decide(input({ connection: { status, nextProbeAt: at(600) } }));
      assert.ok(d.action === 'hold');
      assert.equal(d.status, 'paused');
      assert.equal(d.seconds, 600);
    });
  }

  it('an offline connection without a next probe holds for HOLD_RECHECK_SECONDS', () => {
    const d = decide(input({ connection: { status: 'offline' } }));
    assert.ok(d.action === 'hold');
    assert.equal(d.seconds, HOLD_RECHECK_SECONDS);
  });

  it('an overdue probe (late or failing prober) holds for OVERDUE_PROBE_RECHECK_SECONDS, not a receive every second', () => {
    for (const overdue of [0, 30, 7200]) {
      const d = decide(input({ connection: { status: 'offline', nextProbeAt: at(-overdue) } }));
      assert.ok(d.action === 'hold');
      assert.equal(d.seconds, OVERDUE_PROBE_RECHECK_SECONDS, `${overdue} s overdue`);
    }
    const soon = decide(input({ connection: { status: 'offline', nextProbeAt: at(0.2) } }));
    assert.ok(soon.action === 'hold');
    assert.equal(soon.seconds, 1, 'a probe due within the second still wakes the lane then');
  });

  it('a connection hold takes precedence over expiry (checked once the connection is back)', () => {
    const d = decide(input({ connection: { status: 'offline', nextProbeAt: at(60) }, message: { expiresAt: at(-1) } }));
    assert.equal(d.action, 'hold');
  });

  it('holds an inError delivery (status inError) until an operator recovers it', () => {
    const d = decide(input({ delivery: { status: 'inError' } }));
    assert.ok(d.action === 'hold');
    assert.equal(d.status, 'inError');
    assert.equal(d.seconds, HOLD_RECHECK_SECONDS);
  });

  it('suspends when an earlier delivery of the chain failed', () => {
    const d = decide(input({ chainBlocked: true, message: { chainId: 'order-7' } }));
    assert.ok(d.action === 'suspend');
    assert.match(d.reason, /order-7/);
  });

  it('suspension takes precedence over expiry', () => {
    const d = decide(input({ chainBlocked: true, message: { chainId: 'c', expiresAt: at(-10) } }));
    assert.equal(d.action, 'suspend');
  });
});

describe('decide: expiry and waits', () => {
  it('fails as expired when expiresAt has passed', () => {
    const d = decide(input({ message: { expiresAt: at(-1) } }));
    assert.ok(d.action === 'fail');
    assert.equal(d.failureType, 'expired');
  });

  it('fails as expired exactly at expiresAt', () => {
    const d = decide(input({ message: { expiresAt: at(0) } }));
    assert.ok(d.action === 'fail');
    assert.equal(d.failureType, 'expired');
  });

  it('attempts a message that expires in the future', () => {
    assert.equal(decide(input({ message: { expiresAt: at(1) } })).action, 'attempt');
  });

  it('hold-all: waits until holdUntil while another delivery holds the connection', () => {
    const d = decide(input({ connection: { onError: 'hold-all', heldBy: 'flow-1#msg-0#conn-1', holdUntil: at(45) } }));
    assert.ok(d.action === 'wait');
    assert.equal(d.seconds, 45);
  });

  it('hold-lane: another lane holding the connection does not make this one wait', () => {
    const d = decide(input({ connection: { onError: 'hold-lane', heldBy: 'flow-1#msg-0#conn-1', holdUntil: at(45) } }));
    assert.equal(d.action, 'attempt');
  });

  it('hold-all: the holder itself is not blocked by its own hold', () => {
    const d = decide(input({ connection: { onError: 'hold-all', heldBy: KEY, holdUntil: at(45) } }));
    assert.equal(d.action, 'attempt');
  });

  it('hold-all: an expired hold no longer blocks', () => {
    const d = decide(input({ connection: { onError: 'hold-all', heldBy: 'other', holdUntil: at(-1) } }));
    assert.equal(d.action, 'attempt');
  });

  it('hold-all: a hold without holdUntil does not block', () => {
    assert.equal(decide(input({ connection: { onError: 'hold-all', heldBy: 'other' } })).action, 'attempt');
  });

  it("expiry takes precedence over another lane's hold", () => {
    const d = decide(input({ message: { expiresAt: at(-1) }, connection: { heldBy: 'other', holdUntil: at(45) } }));
    assert.equal(d.action, 'fail');
  });

  it('waits while the retry interval is not over', () => {
    const d = decide(input({ delivery: { status: 'retrying', attempts: 1, requests: 1, nextAttemptAt: at(30) } }));
    assert.ok(d.action === 'wait');
    assert.equal(d.seconds, 30);
  });

  it('rounds a partial second of waiting up', () => {
    const d = decide(input({ delivery: { status: 'retrying', nextAttemptAt: new Date(NOW.getTime() + 1500).toISOString() } }));
    assert.ok(d.action === 'wait');
    assert.equal(d.seconds, 2);
  });

  it('attempts once nextAttemptAt has passed', () => {
    const d = decide(input({ delivery: { status: 'retrying', attempts: 1, requests: 1, nextAttemptAt: at(-1) } }));
    assert.ok(d.action === 'attempt');
    assert.equal(d.request, 2);
  });
});

describe('decide: attempts and the possible-duplicate flag (SPEC delivery semantics 3)', () => {
  it('the very first attempt is request 1 and not a possible duplicate', () => {
    assert.deepEqual(decide(input()), { action: 'attempt', request: 1, possibleDuplicate: false });
  });

  it('a delivery with no requests field counts from 1', () => {
    const d = decide(input({ delivery: { requests: undefined } }));
    assert.ok(d.action === 'attempt');
    assert.equal(d.request, 1);
  });

  it('any earlier request makes the next one request+1 and a possible duplicate', () => {
    assert.deepEqual(decide(input({ delivery: { status: 'retrying', attempts: 2, requests: 2 } })), {
      action: 'attempt',
      request: 3,
      possibleDuplicate: true,
    });
  });

  it('an unbudgeted earlier request (401 hold) still counts: request numbers follow requests, not attempts', () => {
    const d = decide(input({ delivery: { attempts: 0, requests: 1 } }));
    assert.deepEqual(d, { action: 'attempt', request: 2, possibleDuplicate: true });
  });

  it('after a restart the first request is flagged as a possible duplicate', () => {
    const d = decide(input({ ticketRestarts: 1, delivery: { restarts: 1, requests: 0 } }));
    assert.ok(d.action === 'attempt');
    assert.equal(d.possibleDuplicate, true);
  });

  it('a POST left in flight by a crash makes the next one a possible duplicate', () => {
    const d = decide(input({ delivery: { requests: 0, attemptInFlight: 1 } }));
    assert.ok(d.action === 'attempt');
    assert.equal(d.possibleDuplicate, true);
  });

  it('a delivery already flagged possibleDuplicate stays flagged', () => {
    const d = decide(input({ delivery: { possibleDuplicate: true } }));
    assert.ok(d.action === 'attempt');
    assert.equal(d.possibleDuplicate, true);
  });

  it('a disabled flow still delivers what it already accepted', () => {
    assert.equal(decide(input({ flow: { status: 'disabled' } })).action, 'attempt');
  });
});

describe('afterAttempt', () => {
  const retry: RetryPolicy = { count: 3, intervalSeconds: 60, backoff: 'fixed', maxIntervalSeconds: 3600 };
  const unavailable: Verdict = { verdict: 'transient', failureType: 'unavailable', connectionLevel: false };
  const timeout: Verdict = { verdict: 'transient', failureType: 'timeout', connectionLevel: true };

  it('delivered', () => {
    assert.deepEqual(afterAttempt({ verdict: { verdict: 'delivered' }, attempts: 1, retry, autoRetry: true }), { to: 'delivered' });
  });

  it('unauthorized is held, whatever the budget', () => {
    assert.deepEqual(afterAttempt({ verdict: { verdict: 'unauthorized' }, attempts: 99, retry, autoRetry: true }), { to: 'unauthorized' });
    assert.deepEqual(afterAttempt({ verdict: { verdict: 'unauthorized' }, attempts: 1, retry, autoRetry: false }), { to: 'unauthorized' });
  });

  it('permanent fails at once with its type and no warning key when there is none', () => {
    const t = afterAttempt({ verdict: { verdict: 'permanent', failureType: 'business' }, attempts: 1, retry, autoRetry: true });
    assert.deepEqual(t, { to: 'failed', failureType: 'business' });
    assert.equal('warning' in t, false);
  });

  it('permanent carries the classifier warning', () => {
    const t = afterAttempt({
      verdict: { verdict: 'permanent', failureType: 'business', warning: 'target answered 301 redirect' },
      attempts: 1,
      retry,
      autoRetry: true,
    });
    assert.deepEqual(t, { to: 'failed', failureType: 'business', warning: 'target answered 301 redirect' });
  });

  it('transient with autoRetry false goes inError (no retry, not failed)', () => {
    assert.deepEqual(afterAttempt({ verdict: timeout, attempts: 1, retry, autoRetry: false }), { to: 'inError', failureType: 'timeout' });
  });

  it('retry.count 3: attempts 1..3 retry, attempt 4 fails with the transient type (count+1 attempts in total)', () => {
    for (const attempts of [1, 2, 3]) {
      const t = afterAttempt({ verdict: unavailable, attempts, retry, autoRetry: true, random: () => 0 });
      assert.deepEqual(t, { to: 'retrying', failureType: 'unavailable', delaySeconds: 60 }, `attempt ${attempts}`);
    }
    assert.deepEqual(afterAttempt({ verdict: unavailable, attempts: 4, retry, autoRetry: true }), {
      to: 'failed',
      failureType: 'unavailable',
    });
    assert.deepEqual(afterAttempt({ verdict: timeout, attempts: 4, retry, autoRetry: true }), { to: 'failed', failureType: 'timeout' });
  });

  it('retry.count 0 fails on the first transient failure', () => {
    assert.deepEqual(afterAttempt({ verdict: timeout, attempts: 1, retry: { ...retry, count: 0 }, autoRetry: true }), {
      to: 'failed',
      failureType: 'timeout',
    });
  });

  it('the retry delay follows the policy (exponential by attempt number)', () => {
    const exp: RetryPolicy = { count: 5, intervalSeconds: 10, backoff: 'exponential', maxIntervalSeconds: 1000 };
    const delays = [1, 2, 3].map((attempts) => {
      const t = afterAttempt({ verdict: unavailable, attempts, retry: exp, autoRetry: true, random: () => 1 });
      assert.ok(t.to === 'retrying');
      return t.delaySeconds;
    });
    assert.deepEqual(delays, [10, 20, 40]);
  });

  it('the retry delay honours a longer Retry-After', () => {
    const t = afterAttempt({ verdict: unavailable, attempts: 1, retry, autoRetry: true, retryAfterSeconds: 300 });
    assert.ok(t.to === 'retrying');
    assert.equal(t.delaySeconds, 300);
  });
});
