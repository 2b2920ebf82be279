import { countDeltas } from './message-status';
import type { Delivery, DeliveryError, DeliveryStatus, FailureType, FlowCounts, Message, MessageDestination, ReportEntry } from './model';

/**
 * The delivery lifecycle as data (SPEC delivery semantics 3-17 and the failed-event
 * manager). Every way a delivery changes state, the operator's included, is one pure
 * function here: it returns the new status, the fields set and cleared, the execution
 * report entries and the flow-count delta. Stores apply a `Step` as one conditional
 * write and derive index entries from the new status; services only pick the step.
 */

/** Delivery fields a step may set or clear (identity fields never change). */
export type DeliveryFields = Omit<Delivery, 'flowId' | 'messageId' | 'connectionId' | 'lane' | 'chainId'>;
export type DeliveryField = keyof DeliveryFields;

export interface Step {
  /** Which transition this is (a key of RETENTION_EFFECTS). */
  transition: Transition;
  /** The status after the step (may equal the current one). */
  status: DeliveryStatus;
  set: Partial<DeliveryFields>;
  clear: DeliveryField[];
  report: ReportEntry[];
  /** Flow-count delta of the step (empty when the count bucket does not change). */
  counts: Partial<FlowCounts>;
  /** What the step does to its message's retention (RETENTION_EFFECTS). */
  retention: RetentionEffect;
}

// ---------------------------------------------------------------------------
// Retention (SPEC semantics 16)

/** Every transition a delivery can take: the names of the step functions below. */
export type Transition =
  | 'attemptStarted'
  | 'delivered'
  | 'retrying'
  | 'failed'
  | 'inError'
  | 'held'
  | 'suspended'
  | 'internalErrorNoted'
  | 'restarted'
  | 'recovered'
  | 'discarded'
  | 'chainReleased'
  | 'replayed'
  | 'requeueSeen';

/**
 * What a transition does to how long its message is kept:
 * - `final`: the delivery reaches a final state; when every delivery of the message is
 *   final, the message (record, spilled report, payloads) expires `retentionDays` later;
 * - `keep`: the delivery is acted on again (restart, recovery, chain release, replay): the
 *   message is kept, and an expiry it had is cleared;
 * - `none`: the expiry stays as it is. Failed, in-error and suspended deliveries never
 *   start one, so their messages are kept until an operator acts on them.
 */
export type RetentionEffect = 'final' | 'keep' | 'none';

export const RETENTION_EFFECTS = {
  attemptStarted: 'none',
  delivered: 'final',
  retrying: 'none',
  failed: 'none',
  inError: 'none',
  held: 'none',
  suspended: 'none',
  internalErrorNoted: 'none',
  restarted: 'keep',
  recovered: 'keep',
  discarded: 'final',
  chainReleased: 'keep',
  replayed: 'keep',
  requeueSeen: 'none',
} as const satisfies Record<Transition, RetentionEffect>;

/** Statuses a delivery stays in unless an operator replays it: its message may expire. */
export const FINAL_STATUSES: readonly DeliveryStatus[] = ['delivered', 'discarded'];

export function isFinal(status: DeliveryStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** The message record as a step of one of its deliveries found it. */
export interface RecordRetention {
  /** The other deliveries of the message, by connection, as read. */
  others: Record<string, DeliveryStatus>;
  /** The record's expiry as read (epoch seconds), if it has one. */
  expiresAt?: number;
}

/**
 * The message record's expiry after a step, and what must still hold when it is written
 * (the branches of a fan-out are written independently, so the one that finishes last must
 * see the others finished; the conditions make a concurrent finish retry with fresh state):
 * - `set`: every delivery is final now: expire at `expiresAt`, provided `othersFinal` still are;
 * - `open`: another delivery is still open: no expiry, provided one of `othersOpen` still is;
 * - `clear`: kept again: remove the expiry the record had (`expected`), provided it is unchanged;
 * - `absent`: kept again and the record had no expiry, provided it still has none;
 * - `unchanged`: the step does not touch the expiry.
 */
export type ExpiryPlan =
  | { kind: 'set'; expiresAt: number; othersFinal: string[] }
  | { kind: 'open'; othersOpen: string[] }
  | { kind: 'clear'; expected: number }
  | { kind: 'absent' }
  | { kind: 'unchanged' };

/** Epoch seconds `retentionDays` after `at`: the TTL of a message that became final at `at`. */
export function expiryAfter(at: string, retentionDays: number): number {
  return Math.floor(Date.parse(at) / 1000) + retentionDays * 24 * 3600;
}

/**
 * Whether a step makes its message final: only a `final` transition can, and only when
 * every other delivery already is. `retentionDays` is the flow's setting when the step
 * commits, so a change of it applies to messages that become final afterwards.
 */
export function expiryPlan(s: Pick<Step, 'retention' | 'status' | 'set'>, record: RecordRetention, retentionDays: number): ExpiryPlan {
  const others = Object.entries(record.others);
  switch (s.retention) {
    case 'final': {
      if (!isFinal(s.status)) return { kind: 'unchanged' };
      const open = others.filter(([, status]) => !isFinal(status)).map(([connectionId]) => connectionId);
      if (open.length > 0) return { kind: 'open', othersOpen: open };
      return {
        kind: 'set',
        expiresAt: expiryAfter(s.set.updatedAt!, retentionDays),
        othersFinal: others.map(([connectionId]) => connectionId),
      };
    }
    case 'keep':
      return record.expiresAt !== undefined ? { kind: 'clear', expected: record.expiresAt } : { kind: 'absent' };
    case 'none':
      return { kind: 'unchanged' };
  }
}

/** What the stream does to a message's payload objects when its record's expiry changes. */
export type PayloadRetention = { action: 'expire'; at: number } | { action: 'keep' } | undefined;

/**
 * The payload objects follow the record: tagged for expiry when the record gets one
 * (`at`, epoch seconds), untagged when it loses it. A record that is removed (expired)
 * leaves its objects to their own expiry.
 */
export function payloadRetention(before: { expiresAt?: number } | undefined, after: { expiresAt?: number } | undefined): PayloadRetention {
  if (!after) return undefined;
  if (after.expiresAt !== undefined) return after.expiresAt !== before?.expiresAt ? { action: 'expire', at: after.expiresAt } : undefined;
  return before?.expiresAt !== undefined ? { action: 'keep' } : undefined;
}

/** Fields that only mean something while a delivery waits in a given state. */
const TRANSIENT: DeliveryField[] = ['attemptInFlight', 'nextAttemptAt', 'heldReceipt', 'heldTicketAt', 'debugNextAttempt', 'requeuedAt'];

function step(
  transition: Transition,
  d: Pick<Delivery, 'status'>,
  status: DeliveryStatus,
  at: string,
  set: Partial<DeliveryFields>,
  clear: DeliveryField[],
  report: ReportEntry[],
): Step {
  const setNames = new Set(Object.keys(set));
  return {
    transition,
    status,
    set: { ...set, status, updatedAt: at },
    clear: [...new Set(clear)].filter((name) => !setNames.has(name) && name !== 'status'),
    report: withResumed(d, report),
    counts: countDeltas(d.status, status),
    retention: RETENTION_EFFECTS[transition],
  };
}

/**
 * The first attempt after a hold (flow paused, connection offline or unauthorized) opens
 * with `resumed` in the execution report, so the report shows where the hold ended. It
 * rides on the attempt's own write.
 */
function withResumed(d: Pick<Delivery, 'status'>, report: ReportEntry[]): ReportEntry[] {
  const attempt = report.find((entry) => entry.event === 'attempt');
  if (d.status !== 'paused' || !attempt) return report;
  const resumed: ReportEntry = {
    at: attempt.at,
    event: 'resumed',
    level: 'info',
    detail: 'the hold ended: delivery resumed',
    ...(attempt.connectionId ? { connectionId: attempt.connectionId } : {}),
  };
  return [resumed, ...report];
}

/** The next state of a delivery after a step, as the store will have written it. */
export function applyStep(d: Delivery, s: Step): Delivery {
  const next: Record<string, unknown> = { ...d, ...s.set };
  for (const name of s.clear) delete next[name];
  return next as unknown as Delivery;
}

// ---------------------------------------------------------------------------
// Acceptance

/**
 * The deliveries of a newly accepted message and its counts. Its first report entries
 * (received, queued) are not stored: `acceptanceReport` derives them from the message,
 * which keeps the record, and every later write of it, one write unit smaller.
 */
export function accepted(
  message: Pick<Message, 'flowId' | 'messageId' | 'chainId' | 'receivedAt'> & {
    destinations: MessageDestination[];
  },
): { deliveries: Delivery[]; counts: Partial<FlowCounts> } {
  const at = message.receivedAt;
  return {
    deliveries: message.destinations.map((destination) => ({
      flowId: message.flowId,
      messageId: message.messageId,
      connectionId: destination.connectionId,
      lane: destination.lane,
      ...(message.chainId ? { chainId: message.chainId } : {}),
      status: 'queued',
      attempts: 0,
      possibleDuplicate: false,
      restarts: 0,
      version: 0,
      updatedAt: at,
    })),
    counts: { accepted: 1, queued: message.destinations.length },
  };
}

/**
 * The report entries of acceptance, derived from the message: `received`, and `queued`
 * unless the first send failed (then the stored report says when it was queued).
 */
export function acceptanceReport(
  message: Pick<Message, 'receivedAt' | 'bytes' | 'contentType' | 'partnerId' | 'destinations'>,
  stored: ReportEntry[],
): ReportEntry[] {
  const at = message.receivedAt;
  const entries: ReportEntry[] = [
    {
      at,
      event: 'received',
      level: 'info',
      detail: `received ${message.bytes} bytes of ${message.contentType} from partner ${message.partnerId}`,
    },
  ];
  const sendFailed = stored.some((e) => e.event === 'error' && e.at >= at && e.detail.startsWith('the queue send failed'));
  if (!sendFailed) {
    entries.push({
      at,
      event: 'queued',
      level: 'info',
      detail: `queued for ${message.destinations.map((d) => `${d.connectionId} lane ${d.lane}`).join(', ')}`,
    });
  }
  return entries;
}

// ---------------------------------------------------------------------------
// The deliverer's steps

/**
 * The attempt marker: written before a request leaves when a crash could otherwise go
 * unnoticed, so the next attempt is numbered on and flagged possible-duplicate.
 */
export function attemptStarted(d: Delivery, at: string, request: number, possibleDuplicate: boolean): Step {
  return step(
    'attemptStarted',
    d,
    d.status,
    at,
    { attemptInFlight: request, requests: request, possibleDuplicate },
    ['heldReceipt', 'heldTicketAt', 'requeuedAt'],
    [],
  );
}

export interface AttemptFacts {
  at: string;
  /** Budgeted attempts including this one. */
  attempts: number;
  /** Request number of the attempt (`x-sluice-attempt`). */
  request: number;
  possibleDuplicate: boolean;
  /** The attempt's own report entries (attempt, warnings). */
  report: ReportEntry[];
}

/** Fields every recorded attempt sets: the marker is resolved by its outcome. */
function attemptFields(f: AttemptFacts): Partial<DeliveryFields> {
  return { attempts: f.attempts, requests: f.request, possibleDuplicate: f.possibleDuplicate };
}

export function delivered(d: Delivery, f: AttemptFacts): Step {
  return step(
    'delivered',
    d,
    'delivered',
    f.at,
    { ...attemptFields(f), deliveredAt: f.at },
    [...TRANSIENT, 'lastError', 'failureType'],
    [...f.report, { at: f.at, event: 'delivered', level: 'info', detail: `delivered to ${d.connectionId}`, connectionId: d.connectionId }],
  );
}

export function retrying(d: Delivery, f: AttemptFacts & { error: DeliveryError; delaySeconds: number; retryCount: number }): Step {
  const nextAttemptAt = new Date(Date.parse(f.at) + f.delaySeconds * 1000).toISOString();
  return step(
    'retrying',
    d,
    'retrying',
    f.at,
    { ...attemptFields(f), lastError: f.error, nextAttemptAt },
    ['attemptInFlight', 'heldReceipt', 'heldTicketAt', 'debugNextAttempt', 'requeuedAt'],
    [
      ...f.report,
      {
        at: f.at,
        event: 'retrying',
        level: 'warning',
        detail: `retry ${f.attempts} of ${f.retryCount} in ${f.delaySeconds} s`,
        connectionId: d.connectionId,
      },
    ],
  );
}

export interface FailedPayload {
  key: string;
  bytes: number;
  contentType: string;
  sha256: string;
}

/** Failed for good: the payload copy is in the failed store; the lane moves on. */
export function failed(
  d: Delivery,
  f: {
    at: string;
    type: FailureType;
    error: DeliveryError;
    payload: FailedPayload;
    report?: ReportEntry[];
    attempts?: number;
    request?: number;
    possibleDuplicate?: boolean;
  },
): Step {
  return step(
    'failed',
    d,
    'failed',
    f.at,
    {
      ...(f.attempts !== undefined ? { attempts: f.attempts } : {}),
      ...(f.request !== undefined ? { requests: f.request } : {}),
      ...(f.possibleDuplicate !== undefined ? { possibleDuplicate: f.possibleDuplicate } : {}),
      failureType: f.type,
      failedAt: f.at,
      lastError: f.error,
      failedPayload: { ...f.payload, corrected: false },
    },
    TRANSIENT,
    [
      ...(f.report ?? []),
      { at: f.at, event: 'failed', level: 'error', detail: `failed as ${f.type}: ${f.error.message}`, connectionId: d.connectionId },
    ],
  );
}

/** `autoRetry: false`: a transient failure blocks the lane until an operator recovers it. */
export function inError(
  d: Delivery,
  f: AttemptFacts & { error: DeliveryError; type: FailureType; receipt: string; ticketAt: string },
): Step {
  return step(
    'inError',
    d,
    'inError',
    f.at,
    { ...attemptFields(f), failureType: f.type, failedAt: f.at, lastError: f.error, heldReceipt: f.receipt, heldTicketAt: f.ticketAt },
    ['attemptInFlight', 'nextAttemptAt', 'debugNextAttempt', 'requeuedAt'],
    [
      ...f.report,
      {
        at: f.at,
        event: 'held',
        level: 'error',
        detail: 'in error until an operator recovers it (autoRetry is off)',
        connectionId: d.connectionId,
      },
    ],
  );
}

/**
 * The lane is held in flight (paused flow, connection down, in error): the ticket's
 * receipt is kept so a resume can wake it, and when the ticket was sent (`ticketAt`), so
 * its lane is parked before the queue drops it. `report` replaces the default entry.
 */
export function held(
  d: Delivery,
  f: {
    at: string;
    status: 'paused' | 'inError';
    receipt: string;
    ticketAt: string;
    reason: string;
    report?: ReportEntry[];
    attempt?: AttemptFacts & { error?: DeliveryError };
  },
): Step {
  // An attempt after a hold opened with `resumed`: holding again is reported again.
  const entering = d.status !== f.status || f.attempt !== undefined;
  const report =
    f.report ??
    (entering
      ? [
          {
            at: f.at,
            event: f.status === 'paused' ? 'paused' : 'held',
            level: 'warning',
            detail: f.reason,
            connectionId: d.connectionId,
          } as ReportEntry,
        ]
      : []);
  return step(
    'held',
    d,
    f.status,
    f.at,
    {
      heldReceipt: f.receipt,
      heldTicketAt: f.ticketAt,
      ...(f.attempt ? { ...attemptFields(f.attempt), ...(f.attempt.error ? { lastError: f.attempt.error } : {}) } : {}),
    },
    f.attempt ? ['attemptInFlight', 'nextAttemptAt', 'debugNextAttempt', 'requeuedAt'] : ['debugNextAttempt', 'requeuedAt'],
    f.attempt ? [...f.attempt.report, ...report] : report,
  );
}

/** Semantics 11: an earlier message of the chain failed on this connection. */
export function suspended(d: Delivery, at: string, reason: string): Step {
  return step('suspended', d, 'suspended', at, {}, TRANSIENT, [
    { at, event: 'suspended', level: 'warning', detail: reason, connectionId: d.connectionId },
  ]);
}

/**
 * An internal error hit the last try: the next one logs at debug level (`debug`), and a
 * request that had left without its outcome recorded is recorded in flight.
 */
export function internalErrorNoted(d: Delivery, at: string, request?: number, debug = true): Step {
  return step(
    'internalErrorNoted',
    d,
    d.status,
    at,
    { ...(debug ? { debugNextAttempt: true } : {}), ...(request !== undefined ? { attemptInFlight: request, requests: request } : {}) },
    [],
    [],
  );
}

// ---------------------------------------------------------------------------
// Operator steps

export interface Correction {
  key: string;
  bytes: number;
  contentType: string;
  sha256: string;
}

/** Restart: a new restart generation and a fresh retry budget, with the operator's correction if any. */
export function restarted(d: Delivery, f: { at: string; by: string; how: string; correction?: Correction; chainId?: string }): Step {
  const report: ReportEntry[] = [];
  if (f.correction) {
    const previous = d.failedPayload?.sha256 ?? '';
    report.push(
      Object.assign(
        {
          at: f.at,
          event: 'payload-uploaded',
          level: 'info',
          detail: `corrected payload applied by ${f.by}: sha256 ${previous} -> ${f.correction.sha256} (${f.correction.bytes} bytes, ${f.correction.contentType})`,
          connectionId: d.connectionId,
        } as ReportEntry,
        { by: f.by, previousSha256: previous, sha256: f.correction.sha256, bytes: f.correction.bytes },
      ),
    );
  }
  report.push({
    at: f.at,
    event: 'restarted',
    level: 'info',
    detail: `${f.how} by ${f.by}${f.correction ? ' with the corrected payload' : ''}${f.chainId ? `; releases chain ${f.chainId}` : ''}`,
    connectionId: d.connectionId,
    by: f.by,
  });
  return step(
    'restarted',
    d,
    'queued',
    f.at,
    {
      restarts: d.restarts + 1,
      possibleDuplicate: true,
      // A fresh retry budget: the failure that used it up has been dealt with. The requests
      // the target saw keep counting; the view reports those since this restart apart.
      attempts: 0,
      requestsBeforeRestart: d.requests ?? 0,
      requeuedAt: f.at,
      ...(f.correction
        ? {
            payloadOverride: { ...f.correction },
            ...(d.failedPayload ? { failedPayload: { ...d.failedPayload, corrected: true } } : {}),
          }
        : {}),
    },
    TRANSIENT,
    report,
  );
}

/** Recover (semantics 13): the in-error delivery is attempted again first. */
export function recovered(d: Delivery, f: { at: string; by: string }): Step {
  return step('recovered', d, 'queued', f.at, {}, TRANSIENT, [
    {
      at: f.at,
      event: 'recovered',
      level: 'info',
      detail: `recovered by ${f.by}; the held delivery is attempted again`,
      connectionId: d.connectionId,
      by: f.by,
    },
  ]);
}

export function discarded(d: Delivery, f: { at: string; by: string; chainId?: string }): Step {
  return step('discarded', d, 'discarded', f.at, {}, TRANSIENT, [
    {
      at: f.at,
      event: 'discarded',
      level: 'warning',
      detail: `discarded by ${f.by}; kept for audit, never delivered${f.chainId ? `; releases chain ${f.chainId}` : ''}`,
      connectionId: d.connectionId,
      by: f.by,
    },
  ]);
}

/** A suspended delivery released with its chain: queued again under a new restart generation. */
export function chainReleased(d: Delivery, f: { at: string; by: string; chainId: string; why: string }): Step {
  return step(
    'chainReleased',
    d,
    'queued',
    f.at,
    { restarts: d.restarts + 1, possibleDuplicate: d.possibleDuplicate || (d.requests ?? 0) > 0, requeuedAt: f.at },
    TRANSIENT,
    [
      {
        at: f.at,
        event: 'restarted',
        level: 'info',
        detail: `released with chain ${f.chainId}: ${f.why}`,
        connectionId: d.connectionId,
        by: f.by,
      },
    ],
  );
}

/**
 * Replay (semantics 17): a delivered delivery is queued again under a new restart
 * generation (a new queue deduplication id) with a fresh retry budget; every attempt
 * is flagged possible-duplicate. `why` says which window it was replayed for.
 */
export function replayed(d: Delivery, f: { at: string; by: string; why?: string }): Step {
  return step(
    'replayed',
    d,
    'queued',
    f.at,
    { restarts: d.restarts + 1, possibleDuplicate: true, attempts: 0, requeuedAt: f.at },
    [...TRANSIENT, 'deliveredAt'],
    [
      {
        at: f.at,
        event: 'replayed',
        level: 'info',
        detail: `replayed to ${d.connectionId} by ${f.by}${f.why ? `, ${f.why}` : ''}; delivered again after what is already queued, flagged possible-duplicate`,
        connectionId: d.connectionId,
        by: f.by,
      },
    ],
  );
}

/** The deliverer saw a re-queued delivery: the operator's re-queue no longer needs the sweep. */
export function requeueSeen(d: Delivery, at: string): Step {
  return step('requeueSeen', d, d.status, at, {}, ['requeuedAt'], []);
}

// ---------------------------------------------------------------------------
// Where a delivery must be findable

/** An operator-facing listing a delivery belongs to while it is in a given state. */
export type Listing =
  | { kind: 'failed'; failedAt: string; type: FailureType }
  | { kind: 'held' }
  | { kind: 'suspended' }
  | { kind: 'requeued'; at: string };

/**
 * The listings a delivery is in, from its state alone: failed and in-error ones are
 * failed events, held ones carry a receipt to wake, suspended ones wait for their chain,
 * operator re-queues wait for the deliverer to see them. Happy-path states are in none.
 */
export function listingsOf(d: Pick<Delivery, 'status' | 'failedAt' | 'failureType' | 'heldReceipt' | 'requeuedAt'>): Listing[] {
  const listings: Listing[] = [];
  if ((d.status === 'failed' || d.status === 'inError') && d.failedAt && d.failureType) {
    listings.push({ kind: 'failed', failedAt: d.failedAt, type: d.failureType });
  }
  if (d.heldReceipt && (d.status === 'paused' || d.status === 'inError')) listings.push({ kind: 'held' });
  if (d.status === 'suspended') listings.push({ kind: 'suspended' });
  if (d.requeuedAt && d.status === 'queued') listings.push({ kind: 'requeued', at: d.requeuedAt });
  return listings;
}
