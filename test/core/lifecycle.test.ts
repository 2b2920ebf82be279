import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as lifecycle from '../../core/lifecycle';
import { decide, needsAttemptMarker, unrecordedAttemptPossible } from '../../core/delivery-machine';
import { deliveryDeduplicationId } from '../../core/lanes';
import { aggregateCounts, newMessages, recordCounts } from '../../core/message-status';
import type { Delivery } from '../../core/model';

const AT = '2026-01-01T00:00:00.000Z';
const LATER = '2026-01-01T00:01:00.000Z';

function delivery(overrides: Partial<Delivery> = {}): Delivery {
  return {
    flowId: 'orders',
    messageId: 'm1',
    connectionId: 'erp',
    lane: 0,
    status: 'queued',
    attempts: 0,
    possibleDuplicate: false,
    restarts: 0,
    version: 0,
    updatedAt: AT,
    ...overrides,
  };
}

const attempt = (over: Partial<lifecycle.AttemptFacts> = {}): lifecycle.AttemptFacts => ({
  at: LATER,
  attempts: 1,
  request: 1,
  possibleDuplicate: false,
  report: [{ at: LATER, event: 'attempt', level: 'info', detail: 'delivered with HTTP 200', connectionId: 'erp', attempt: 1 }],
  ...over,
});

describe('lifecycle: acceptance', () => {
  it('queues one delivery per destination and counts the message once', () => {
    const { deliveries, counts } = lifecycle.accepted({
      flowId: 'orders',
      messageId: 'm1',
      chainId: 'c1',
      receivedAt: AT,
      destinations: [
        { connectionId: 'erp', lane: 0 },
        { connectionId: 'crm', lane: 3 },
      ],
    });
    assert.deepEqual(
      deliveries.map((d) => [d.connectionId, d.lane, d.status, d.chainId, d.version, d.attempts]),
      [
        ['erp', 0, 'queued', 'c1', 0, 0],
        ['crm', 3, 'queued', 'c1', 0, 0],
      ],
    );
    assert.deepEqual(counts, { accepted: 1, queued: 2 });
  });

  it('derives received and queued report entries; a failed first send leaves queued to the stored report', () => {
    const message = {
      receivedAt: AT,
      bytes: 4,
      contentType: 'text/plain',
      partnerId: 'acme',
      destinations: [{ connectionId: 'erp', lane: 1 }],
    };
    assert.deepEqual(
      lifecycle.acceptanceReport(message, []).map((e) => [e.event, e.detail]),
      [
        ['received', 'received 4 bytes of text/plain from partner acme'],
        ['queued', 'queued for erp lane 1'],
      ],
    );
    const failed = [
      {
        at: LATER,
        event: 'error' as const,
        level: 'error' as const,
        detail: 'the queue send failed; a repeated post of this id or the sweep queues it',
      },
    ];
    assert.deepEqual(
      lifecycle.acceptanceReport(message, failed).map((e) => e.event),
      ['received'],
    );
  });
});

describe('lifecycle: the deliverer steps', () => {
  it('delivered: sets the outcome, clears what only mattered while waiting, moves one count', () => {
    const d = delivery({
      status: 'retrying',
      nextAttemptAt: AT,
      lastError: { message: 'x' },
      failureType: 'timeout',
      attemptInFlight: 2,
      debugNextAttempt: true,
    });
    const step = lifecycle.delivered(d, attempt({ attempts: 2, request: 2, possibleDuplicate: true }));
    assert.equal(step.status, 'delivered');
    assert.deepEqual(step.set, {
      attempts: 2,
      requests: 2,
      possibleDuplicate: true,
      deliveredAt: LATER,
      status: 'delivered',
      updatedAt: LATER,
    });
    for (const name of [
      'attemptInFlight',
      'nextAttemptAt',
      'lastError',
      'failureType',
      'debugNextAttempt',
      'heldReceipt',
      'requeuedAt',
    ] as const) {
      assert.ok(step.clear.includes(name), name);
    }
    assert.deepEqual(step.counts, { queued: -1, delivered: 1 });
    assert.deepEqual(
      step.report.map((e) => e.event),
      ['attempt', 'delivered'],
    );
  });

  it('retrying: schedules the next attempt and reports it', () => {
    const step = lifecycle.retrying(delivery(), {
      ...attempt(),
      error: { message: 'HTTP 503', httpStatus: 503 },
      delaySeconds: 30,
      retryCount: 5,
    });
    assert.equal(step.status, 'retrying');
    assert.equal(step.set.nextAttemptAt, '2026-01-01T00:01:30.000Z');
    assert.deepEqual(step.set.lastError, { message: 'HTTP 503', httpStatus: 503 });
    assert.equal(step.report.at(-1)!.detail, 'retry 1 of 5 in 30 s');
    assert.deepEqual(step.counts, {});
  });

  it('failed: records the failure and the failed-store copy, uncorrected', () => {
    const step = lifecycle.failed(delivery(), {
      at: LATER,
      type: 'business',
      error: { message: 'HTTP 422', httpStatus: 422 },
      payload: { key: 'k', bytes: 3, contentType: 'text/plain', sha256: 'abc' },
      attempts: 1,
    });
    assert.equal(step.status, 'failed');
    assert.equal(step.set.failureType, 'business');
    assert.equal(step.set.failedAt, LATER);
    assert.deepEqual(step.set.failedPayload, { key: 'k', bytes: 3, contentType: 'text/plain', sha256: 'abc', corrected: false });
    assert.deepEqual(step.counts, { queued: -1, failed: 1 });
    assert.equal(step.report.at(-1)!.event, 'failed');
  });

  it('held: keeps the receipt, reports only when entering the state', () => {
    const entering = lifecycle.held(delivery(), { at: LATER, status: 'paused', receipt: 'r1', ticketAt: LATER, reason: 'flow is paused' });
    assert.equal(entering.set.heldReceipt, 'r1');
    assert.deepEqual(
      entering.report.map((e) => [e.event, e.detail]),
      [['paused', 'flow is paused']],
    );
    const again = lifecycle.held(delivery({ status: 'paused', heldReceipt: 'r1' }), {
      at: LATER,
      status: 'paused',
      receipt: 'r2',
      ticketAt: LATER,
      reason: 'still',
    });
    assert.equal(again.set.heldReceipt, 'r2');
    assert.deepEqual(again.report, []);
  });

  it('the first attempt after a hold opens with resumed; holding again after it is reported again', () => {
    const events = (step: lifecycle.Step) => step.report.map((e) => e.event);
    assert.deepEqual(events(lifecycle.delivered(delivery(), attempt())), ['attempt', 'delivered']);
    const afterHold = lifecycle.delivered(delivery({ status: 'paused', heldReceipt: 'r1' }), attempt());
    assert.deepEqual(events(afterHold), ['resumed', 'attempt', 'delivered']);
    assert.equal(afterHold.report[0]!.connectionId, 'erp');
    assert.equal(afterHold.report[0]!.at, LATER);
    const heldAgain = lifecycle.held(delivery({ status: 'paused', heldReceipt: 'r1' }), {
      at: LATER,
      status: 'paused',
      receipt: 'r2',
      ticketAt: LATER,
      reason: 'connection erp unauthorized',
      attempt: attempt(),
    });
    assert.deepEqual(events(heldAgain), ['resumed', 'attempt', 'paused']);
  });

  it('inError and suspended move the count to their buckets', () => {
    const inError = lifecycle.inError(delivery(), {
      ...attempt(),
      error: { message: 'timeout' },
      type: 'timeout',
      receipt: 'r',
      ticketAt: LATER,
    });
    assert.deepEqual(inError.counts, { queued: -1, inError: 1 });
    assert.equal(inError.set.heldReceipt, 'r');
    assert.deepEqual(lifecycle.suspended(delivery(), LATER, 'chain').counts, { queued: -1, suspended: 1 });
  });

  it('the attempt marker records the request in flight without changing the status', () => {
    const step = lifecycle.attemptStarted(delivery({ heldReceipt: 'r' }), LATER, 3, true);
    assert.equal(step.status, 'queued');
    assert.deepEqual(step.set, { attemptInFlight: 3, requests: 3, possibleDuplicate: true, status: 'queued', updatedAt: LATER });
    assert.ok(step.clear.includes('heldReceipt'));
    assert.deepEqual(step.counts, {});
  });
});

describe('lifecycle: operator steps', () => {
  const failedOne = delivery({
    status: 'failed',
    attempts: 6,
    requests: 6,
    failureType: 'business',
    failedAt: AT,
    failedPayload: { key: 'f', bytes: 1, contentType: 'text/plain', sha256: 'old', corrected: false },
  });

  it('restart: a new generation, a fresh budget, flagged, marked for the re-queue sweep', () => {
    const step = lifecycle.restarted(failedOne, { at: LATER, by: 'ops', how: 'restarted' });
    assert.equal(step.status, 'queued');
    assert.equal(step.set.restarts, 1);
    assert.equal(step.set.attempts, 0);
    assert.equal(step.set.possibleDuplicate, true);
    assert.equal(step.set.requeuedAt, LATER);
    assert.deepEqual(step.counts, { failed: -1, queued: 1 });
    assert.deepEqual(
      step.report.map((e) => [e.event, e.by]),
      [['restarted', 'ops']],
    );
  });

  it('restart with a correction: delivers the corrected payload and reports the upload first', () => {
    const correction = { key: 'c@new', bytes: 2, contentType: 'text/plain', sha256: 'new' };
    const step = lifecycle.restarted(failedOne, { at: LATER, by: 'ops', how: 'restarted', correction, chainId: 'c1' });
    assert.deepEqual(step.set.payloadOverride, correction);
    assert.equal(step.set.failedPayload?.corrected, true);
    assert.deepEqual(
      step.report.map((e) => e.event),
      ['payload-uploaded', 'restarted'],
    );
    assert.match(step.report[1]!.detail, /releases chain c1/);
  });

  it('recover, discard, chain release and replay', () => {
    const inError = delivery({ status: 'inError', failureType: 'timeout', failedAt: AT, heldReceipt: 'r' });
    const recovered = lifecycle.recovered(inError, { at: LATER, by: 'ops' });
    assert.equal(recovered.status, 'queued');
    assert.ok(recovered.clear.includes('heldReceipt'));
    assert.deepEqual(recovered.counts, { inError: -1, queued: 1 });

    const discarded = lifecycle.discarded(failedOne, { at: LATER, by: 'ops' });
    assert.equal(discarded.status, 'discarded');
    assert.deepEqual(discarded.counts, { failed: -1 });

    const released = lifecycle.chainReleased(delivery({ status: 'suspended', requests: 1 }), {
      at: LATER,
      by: 'ops',
      chainId: 'c1',
      why: 'restart',
    });
    assert.equal(released.set.restarts, 1);
    assert.equal(released.set.possibleDuplicate, true, 'it was sent before');
    assert.deepEqual(released.counts, { suspended: -1, queued: 1 });

    const replayed = lifecycle.replayed(delivery({ status: 'delivered', deliveredAt: AT, requests: 1, attempts: 1 }), {
      at: LATER,
      by: 'ops',
    });
    assert.equal(replayed.status, 'queued');
    assert.equal(replayed.set.possibleDuplicate, true);
    assert.ok(replayed.clear.includes('deliveredAt'));
    assert.deepEqual(replayed.counts, { delivered: -1, queued: 1 });
    assert.equal(replayed.report[0]!.event, 'replayed');
  });

  it('replay: a delivered delivery is queued again under a new generation, flagged, with a fresh budget and its window in the report', () => {
    const done = delivery({ status: 'delivered', deliveredAt: AT, requests: 2, attempts: 2, restarts: 1, version: 4 });
    const step = lifecycle.replayed(done, {
      at: LATER,
      by: 'ops',
      why: 'received in [2026-01-01T00:00:00.000Z, 2026-01-02T00:00:00.000Z)',
    });
    const next = lifecycle.applyStep(done, step);
    assert.equal(next.status, 'queued');
    assert.equal(next.restarts, 2, 'a new restart generation: a new queue deduplication id');
    assert.notEqual(
      deliveryDeduplicationId('orders', 'm1', 'erp', next.restarts),
      deliveryDeduplicationId('orders', 'm1', 'erp', done.restarts),
    );
    assert.equal(next.attempts, 0, 'a fresh retry budget');
    assert.equal(next.requests, 2, 'requests keep counting: x-sluice-attempt goes on from 3');
    assert.equal(next.deliveredAt, undefined);
    assert.deepEqual(
      lifecycle.listingsOf(next),
      [{ kind: 'requeued', at: LATER }],
      'the re-queue sweep covers a send lost after the write',
    );
    assert.deepEqual(step.counts, { delivered: -1, queued: 1 });
    assert.deepEqual(
      step.report.map((e) => [e.event, e.level, e.connectionId, e.by]),
      [['replayed', 'info', 'erp', 'ops']],
    );
    assert.match(step.report[0]!.detail, /^replayed to erp by ops, received in \[2026-01-01T00:00:00.000Z, 2026-01-02T00:00:00.000Z\)/);
    // The deliverer then attempts it flagged, numbered on, even for a delivery first delivered at once.
    const fresh = lifecycle.applyStep(
      delivery({ status: 'delivered', requests: 1, attempts: 1 }),
      lifecycle.replayed(delivery({ status: 'delivered', requests: 1, attempts: 1 }), { at: LATER, by: 'ops' }),
    );
    const decision = decide({
      now: new Date(LATER),
      ticketRestarts: fresh.restarts,
      delivery: fresh,
      message: {},
      flow: { status: 'enabled', onFailure: 'continue', autoRetry: true },
      connection: { status: 'online', onError: 'hold-all' },
      deliveryKey: 'orders~m1~erp',
      chainBlocked: false,
    });
    assert.deepEqual(decision, { action: 'attempt', request: 2, possibleDuplicate: true });
    assert.deepEqual(
      decide({ now: new Date(LATER), ticketRestarts: 0, delivery: fresh, message: {}, deliveryKey: 'orders~m1~erp', chainBlocked: false }),
      { action: 'ack', reason: 'ticket from before a restart' },
      'a ticket of the first generation, were one still around, does not deliver it again',
    );
  });

  it('applyStep gives the state a store will have written', () => {
    const next = lifecycle.applyStep(failedOne, lifecycle.restarted(failedOne, { at: LATER, by: 'ops', how: 'restarted' }));
    assert.equal(next.status, 'queued');
    assert.equal(next.restarts, 1);
    assert.equal(next.failedPayload?.sha256, 'old', 'the failed-store copy stays for the record');
  });
});

describe('lifecycle: listings derived from the state', () => {
  it('happy-path states are in no listing', () => {
    for (const status of ['queued', 'retrying', 'delivered', 'discarded'] as const) {
      assert.deepEqual(lifecycle.listingsOf(delivery({ status })), [], status);
    }
  });

  it('failed and in-error deliveries are failed events; held ones are findable by their receipt; suspended and re-queued ones too', () => {
    assert.deepEqual(lifecycle.listingsOf(delivery({ status: 'failed', failedAt: AT, failureType: 'business' })), [
      { kind: 'failed', failedAt: AT, type: 'business' },
    ]);
    assert.deepEqual(lifecycle.listingsOf(delivery({ status: 'inError', failedAt: AT, failureType: 'timeout', heldReceipt: 'r' })), [
      { kind: 'failed', failedAt: AT, type: 'timeout' },
      { kind: 'held' },
    ]);
    assert.deepEqual(lifecycle.listingsOf(delivery({ status: 'paused', heldReceipt: 'r' })), [{ kind: 'held' }]);
    assert.deepEqual(lifecycle.listingsOf(delivery({ status: 'suspended' })), [{ kind: 'suspended' }]);
    assert.deepEqual(lifecycle.listingsOf(delivery({ status: 'queued', requeuedAt: AT })), [{ kind: 'requeued', at: AT }]);
  });
});

describe('the attempt marker and crash detection without it', () => {
  const receipt = (receiveCount: number, firstReceivedAtMs: number) => ({ receiveCount, firstReceivedAtMs, visibilityTimeoutSeconds: 900 });
  const now = new Date(Date.parse(AT) + 1000 * 1000);

  it('is skipped only on the first receive of a never-attempted delivery', () => {
    assert.equal(needsAttemptMarker(delivery(), receipt(1, 0)), false);
    assert.equal(needsAttemptMarker(delivery(), receipt(2, 0)), true);
    assert.equal(needsAttemptMarker(delivery({ requests: 1 }), receipt(1, 0)), true);
    assert.equal(needsAttemptMarker(delivery({ attemptInFlight: 1 }), receipt(1, 0)), true);
  });

  it('suspects an unrecorded request only when the ticket came back no sooner than a lost receive would', () => {
    const first = Date.parse(AT);
    assert.equal(unrecordedAttemptPossible(delivery(), receipt(2, first), now), true, '1000 s after the first receive');
    assert.equal(unrecordedAttemptPossible(delivery(), receipt(2, now.getTime() - 5000), now), false, 'given back on purpose 5 s ago');
    assert.equal(unrecordedAttemptPossible(delivery(), receipt(1, first), now), false, 'first receive');
    assert.equal(unrecordedAttemptPossible(delivery({ requests: 1 }), receipt(2, first), now), false, 'recorded');
    assert.equal(
      unrecordedAttemptPossible(delivery({ version: 1 }), receipt(2, first), now),
      false,
      'a later receive wrote: it did not attempt unmarked',
    );
  });
});

describe('counts derived from records (the stream aggregator)', () => {
  it('a record counts one accepted and one per delivery in its bucket', () => {
    assert.deepEqual(recordCounts([{ status: 'queued' }, { status: 'retrying' }, { status: 'discarded' }]), { accepted: 1, queued: 2 });
    assert.deepEqual(recordCounts(undefined), {});
  });

  it('sums the changes of a batch per flow and drops what cancels out', () => {
    const perFlow = aggregateCounts([
      { flowId: 'a', messageId: '1', receivedAt: AT, after: [{ status: 'queued' }] },
      { flowId: 'a', messageId: '1', receivedAt: AT, before: [{ status: 'queued' }], after: [{ status: 'delivered' }] },
      { flowId: 'b', messageId: '2', receivedAt: AT, before: [{ status: 'queued' }], after: [{ status: 'retrying' }] },
      { flowId: 'c', messageId: '3', receivedAt: AT, before: [{ status: 'failed' }] },
    ]);
    assert.deepEqual(Object.fromEntries(perFlow), { a: { accepted: 1, delivered: 1 }, c: { accepted: -1, failed: -1 } });
  });

  it("lists each flow's new messages of a batch in acceptance order", () => {
    const pages = newMessages([
      { flowId: 'a', messageId: 'y', receivedAt: LATER, after: [] },
      { flowId: 'a', messageId: 'x', receivedAt: AT, after: [] },
      { flowId: 'a', messageId: 'z', receivedAt: AT, before: [], after: [] },
    ]);
    assert.deepEqual(pages.get('a'), [
      { receivedAt: AT, messageId: 'x' },
      { receivedAt: LATER, messageId: 'y' },
    ]);
  });
});

describe('lifecycle: retention (SPEC semantics 16)', () => {
  const DAY = 24 * 3600;
  const laterSeconds = Date.parse(LATER) / 1000;
  const failedOne = delivery({
    status: 'failed',
    failureType: 'business',
    failedAt: AT,
    failedPayload: { key: 'f', bytes: 1, contentType: 'text/plain', sha256: 'x', corrected: false },
  });
  const facts = { ...attempt(), error: { message: 'HTTP 503' } };
  /** Every transition, as its step function builds it from a delivery in a state it applies to. */
  const steps: Record<lifecycle.Transition, lifecycle.Step> = {
    attemptStarted: lifecycle.attemptStarted(delivery(), LATER, 1, false),
    delivered: lifecycle.delivered(delivery(), attempt()),
    retrying: lifecycle.retrying(delivery(), { ...facts, delaySeconds: 5, retryCount: 3 }),
    failed: lifecycle.failed(delivery(), {
      at: LATER,
      type: 'business',
      error: facts.error,
      payload: { key: 'f', bytes: 1, contentType: 'text/plain', sha256: 'x' },
    }),
    inError: lifecycle.inError(delivery(), { ...facts, type: 'timeout', receipt: 'r', ticketAt: LATER }),
    held: lifecycle.held(delivery(), { at: LATER, status: 'paused', receipt: 'r', ticketAt: LATER, reason: 'paused' }),
    suspended: lifecycle.suspended(delivery(), LATER, 'chain'),
    internalErrorNoted: lifecycle.internalErrorNoted(delivery(), LATER),
    restarted: lifecycle.restarted(failedOne, { at: LATER, by: 'ops', how: 'restarted' }),
    recovered: lifecycle.recovered(delivery({ status: 'inError' }), { at: LATER, by: 'ops' }),
    discarded: lifecycle.discarded(failedOne, { at: LATER, by: 'ops' }),
    chainReleased: lifecycle.chainReleased(delivery({ status: 'suspended' }), { at: LATER, by: 'ops', chainId: 'c', why: 'w' }),
    replayed: lifecycle.replayed(delivery({ status: 'delivered', deliveredAt: AT }), { at: LATER, by: 'ops' }),
    requeueSeen: lifecycle.requeueSeen(delivery({ requeuedAt: AT }), LATER),
  };

  it('only delivered and discarded start an expiry; restart, recover, chain release and replay clear it; the rest leave it', () => {
    const byEffect = (effect: lifecycle.RetentionEffect) =>
      Object.entries(lifecycle.RETENTION_EFFECTS)
        .filter(([, e]) => e === effect)
        .map(([name]) => name)
        .sort();
    assert.deepEqual(byEffect('final'), ['delivered', 'discarded']);
    assert.deepEqual(byEffect('keep'), ['chainReleased', 'recovered', 'replayed', 'restarted']);
    assert.deepEqual(byEffect('none'), [
      'attemptStarted',
      'failed',
      'held',
      'inError',
      'internalErrorNoted',
      'requeueSeen',
      'retrying',
      'suspended',
    ]);
    // Each step function names its transition and carries its effect.
    for (const [name, s] of Object.entries(steps)) {
      assert.equal(s.transition, name);
      assert.equal(s.retention, lifecycle.RETENTION_EFFECTS[name as lifecycle.Transition], name);
    }
    assert.deepEqual([...lifecycle.FINAL_STATUSES].sort(), ['delivered', 'discarded']);
  });

  it('the step that leaves every delivery final sets the expiry, retentionDays after it, on condition the others still are', () => {
    assert.deepEqual(lifecycle.expiryPlan(steps.delivered, { others: {} }, 30), {
      kind: 'set',
      expiresAt: laterSeconds + 30 * DAY,
      othersFinal: [],
    });
    assert.deepEqual(lifecycle.expiryPlan(steps.discarded, { others: { crm: 'delivered', wms: 'discarded' } }, 7), {
      kind: 'set',
      expiresAt: laterSeconds + 7 * DAY,
      othersFinal: ['crm', 'wms'],
    });
    assert.equal(lifecycle.expiryAfter(LATER, 1), laterSeconds + DAY);
  });

  it('a final step while another delivery is open sets nothing, on condition one of the open ones still is', () => {
    assert.deepEqual(lifecycle.expiryPlan(steps.delivered, { others: { crm: 'delivered', wms: 'retrying', ops: 'suspended' } }, 30), {
      kind: 'open',
      othersOpen: ['wms', 'ops'],
    });
    for (const open of ['queued', 'retrying', 'paused', 'inError', 'failed', 'suspended'] as const) {
      assert.equal(lifecycle.expiryPlan(steps.discarded, { others: { crm: open } }, 30).kind, 'open', open);
    }
  });

  it('failed, in-error, suspended and held deliveries start no expiry: their messages are kept until acted on', () => {
    for (const name of [
      'failed',
      'inError',
      'suspended',
      'held',
      'retrying',
      'attemptStarted',
      'internalErrorNoted',
      'requeueSeen',
    ] as const) {
      assert.deepEqual(lifecycle.expiryPlan(steps[name], { others: {} }, 30), { kind: 'unchanged' }, name);
    }
  });

  it('restart, recover, chain release and replay clear an expiry the record had, or require it still has none', () => {
    for (const name of ['restarted', 'recovered', 'chainReleased', 'replayed'] as const) {
      assert.deepEqual(lifecycle.expiryPlan(steps[name], { others: {}, expiresAt: 1234 }, 30), { kind: 'clear', expected: 1234 }, name);
      assert.deepEqual(lifecycle.expiryPlan(steps[name], { others: { crm: 'delivered' } }, 30), { kind: 'absent' }, name);
    }
  });

  it('retentionDays is the one given when the step commits: a changed setting dates messages that become final afterwards', () => {
    const plan = (days: number) => lifecycle.expiryPlan(steps.delivered, { others: {} }, days);
    assert.equal((plan(30) as { expiresAt: number }).expiresAt - laterSeconds, 30 * DAY);
    assert.equal((plan(365) as { expiresAt: number }).expiresAt - laterSeconds, 365 * DAY);
  });

  it('payload objects follow the record: tagged when it gets an expiry, untagged when it loses it, left alone when it goes', () => {
    assert.deepEqual(lifecycle.payloadRetention({}, { expiresAt: 99 }), { action: 'expire', at: 99 });
    assert.deepEqual(lifecycle.payloadRetention(undefined, { expiresAt: 99 }), { action: 'expire', at: 99 });
    assert.deepEqual(lifecycle.payloadRetention({ expiresAt: 99 }, {}), { action: 'keep' });
    assert.equal(lifecycle.payloadRetention({ expiresAt: 99 }, { expiresAt: 99 }), undefined);
    assert.equal(lifecycle.payloadRetention({}, {}), undefined);
    assert.equal(
      lifecycle.payloadRetention({ expiresAt: 99 }, undefined),
      undefined,
      'an expired record leaves its objects to their own expiry',
    );
  });
});
