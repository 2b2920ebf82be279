import type { Verdict } from './classify';
import type { Connection, Delivery, FailureType, Flow } from './model';
import { retryDelaySeconds } from './retry';

/**
 * The delivery state machine (SPEC delivery semantics 3-13), as pure decisions.
 * The deliverer loads a snapshot, asks `decide` what to do with a queued ticket,
 * performs at most one HTTP attempt, and asks `afterAttempt` where that leaves the
 * delivery. Every effect (writes, queue visibility, events) is the worker's job.
 */

/** How long a held lane sleeps before it looks again when nothing will wake it sooner. */
export const HOLD_RECHECK_SECONDS = 3600;

/**
 * How long a lane held by a down connection sleeps when its probe is overdue (the prober is
 * late or failing). Coming online wakes held lanes at once, so this only bounds how often a
 * held message is received meanwhile: at one second, a stalled prober would burn the
 * dead-letter redrive count (1000 receives) in minutes.
 */
export const OVERDUE_PROBE_RECHECK_SECONDS = 60;

export interface DecisionInput {
  now: Date;
  /** The restart generation the queued ticket was sent with. */
  ticketRestarts: number;
  delivery?: Delivery;
  message?: { expiresAt?: string; chainId?: string };
  flow?: Pick<Flow, 'status' | 'onFailure' | 'autoRetry'>;
  connection?: Pick<Connection, 'status' | 'onError' | 'nextProbeAt'> & { holdUntil?: string; heldBy?: string };
  /** This delivery's key, to tell its own connection hold from another lane's. */
  deliveryKey: string;
  /** An earlier delivery of the same chain and connection failed and is not yet restarted or discarded. */
  chainBlocked: boolean;
}

export type Decision =
  /** Nothing to do: the ticket is stale or the delivery already finished. The queue message is deleted. */
  | { action: 'ack'; reason: string }
  /** The lane is blocked until something wakes it (resume, probe, recover); the ticket stays in flight. */
  | { action: 'hold'; status: 'paused' | 'inError'; seconds: number; reason: string }
  /** Not yet: a retry interval or another lane's hold; the ticket comes back after `seconds`. */
  | { action: 'wait'; seconds: number; reason: string }
  | { action: 'fail'; failureType: FailureType; reason: string }
  | { action: 'suspend'; reason: string }
  | { action: 'attempt'; request: number; possibleDuplicate: boolean };

const FINISHED = new Set(['delivered', 'failed', 'discarded', 'suspended']);

function secondsUntil(iso: string | undefined, now: Date, fallback: number): number {
  if (!iso) return fallback;
  return Math.max(1, Math.ceil((Date.parse(iso) - now.getTime()) / 1000));
}

export function decide(input: DecisionInput): Decision {
  const { delivery, flow, connection, now } = input;
  if (!delivery || !input.message) return { action: 'ack', reason: 'no delivery recorded for this ticket' };
  if (input.ticketRestarts < delivery.restarts) return { action: 'ack', reason: 'ticket from before a restart' };
  if (FINISHED.has(delivery.status)) return { action: 'ack', reason: `delivery already ${delivery.status}` };
  if (!flow) return { action: 'fail', failureType: 'configuration', reason: 'the flow no longer exists' };
  if (!connection) return { action: 'fail', failureType: 'configuration', reason: 'the connection does not exist' };

  if (flow.status === 'paused' || flow.status === 'stopped') {
    return { action: 'hold', status: 'paused', seconds: HOLD_RECHECK_SECONDS, reason: `flow is ${flow.status}` };
  }
  if (connection.status !== 'online') {
    return {
      action: 'hold',
      status: 'paused',
      seconds:
        connection.nextProbeAt && Date.parse(connection.nextProbeAt) <= now.getTime()
          ? OVERDUE_PROBE_RECHECK_SECONDS
          : secondsUntil(connection.nextProbeAt, now, HOLD_RECHECK_SECONDS),
      reason: `connection is ${connection.status}`,
    };
  }
  if (delivery.status === 'inError') {
    return { action: 'hold', status: 'inError', seconds: HOLD_RECHECK_SECONDS, reason: 'in error until an operator recovers it' };
  }
  if (input.chainBlocked) {
    return { action: 'suspend', reason: `an earlier message of chain ${input.message.chainId} failed` };
  }
  if (input.message.expiresAt && Date.parse(input.message.expiresAt) <= now.getTime()) {
    return { action: 'fail', failureType: 'expired', reason: `expired at ${input.message.expiresAt}` };
  }
  if (
    connection.onError === 'hold-all' &&
    connection.heldBy &&
    connection.heldBy !== input.deliveryKey &&
    connection.holdUntil &&
    Date.parse(connection.holdUntil) > now.getTime()
  ) {
    return { action: 'wait', seconds: secondsUntil(connection.holdUntil, now, 1), reason: 'another lane of this connection is retrying' };
  }
  if (delivery.nextAttemptAt && Date.parse(delivery.nextAttemptAt) > now.getTime()) {
    return { action: 'wait', seconds: secondsUntil(delivery.nextAttemptAt, now, 1), reason: 'retry interval not over' };
  }
  const requests = delivery.requests ?? 0;
  return {
    action: 'attempt',
    request: requests + 1,
    possibleDuplicate: requests > 0 || delivery.restarts > 0 || delivery.attemptInFlight !== undefined || delivery.possibleDuplicate,
  };
}

export type Transition =
  | { to: 'delivered' }
  | { to: 'retrying'; delaySeconds: number; failureType: 'timeout' | 'unavailable' }
  | { to: 'failed'; failureType: FailureType; warning?: string }
  | { to: 'inError'; failureType: 'timeout' | 'unavailable' }
  /** 401/403: held without spending budget; the connection becomes unauthorized. */
  | { to: 'unauthorized' };

export interface AfterAttemptInput {
  verdict: Verdict;
  /** Budgeted attempts including this one. */
  attempts: number;
  retry: Connection['retry'];
  autoRetry: boolean;
  retryAfterSeconds?: number;
  random?: () => number;
}

export function afterAttempt(input: AfterAttemptInput): Transition {
  const { verdict } = input;
  switch (verdict.verdict) {
    case 'delivered':
      return { to: 'delivered' };
    case 'unauthorized':
      return { to: 'unauthorized' };
    case 'permanent':
      return { to: 'failed', failureType: verdict.failureType, ...(verdict.warning ? { warning: verdict.warning } : {}) };
    case 'transient':
      if (!input.autoRetry) return { to: 'inError', failureType: verdict.failureType };
      if (input.attempts > input.retry.count) return { to: 'failed', failureType: verdict.failureType };
      return {
        to: 'retrying',
        failureType: verdict.failureType,
        delaySeconds: retryDelaySeconds(input.retry, input.attempts, input.retryAfterSeconds, input.random),
      };
  }
}

/** What the queue says about the receive of a ticket (SQS system attributes). */
export interface ReceiptFacts {
  /** `ApproximateReceiveCount`: 1 on a ticket's first receive. */
  receiveCount: number;
  /** `ApproximateFirstReceiveTimestamp`, epoch ms. */
  firstReceivedAtMs?: number;
  /** The queue's visibility timeout: a receive that died comes back no sooner. */
  visibilityTimeoutSeconds: number;
}

/**
 * The attempt marker (a write before the request leaves) is skipped only on a fresh
 * ticket's first receive of a never-attempted delivery: the happy path. Everywhere
 * else it is written, so a crash after the request is always known.
 */
export function needsAttemptMarker(delivery: Pick<Delivery, 'requests' | 'attemptInFlight'>, receipt: ReceiptFacts): boolean {
  return receipt.receiveCount > 1 || (delivery.requests ?? 0) > 0 || delivery.attemptInFlight !== undefined;
}

/**
 * Whether an earlier receive may have sent a request it never recorded: only a first
 * receive attempts without a marker, and only a receive that died (returning the ticket
 * no sooner than the visibility timeout) leaves its request unrecorded. A ticket given
 * back on purpose (lane order, time budget) usually comes back sooner and is not
 * suspected; one that then waits longer than the timeout behind its lane is flagged
 * possible-duplicate on its first request, which errs on the safe side.
 */
export function unrecordedAttemptPossible(
  delivery: Pick<Delivery, 'requests' | 'attemptInFlight' | 'version'>,
  receipt: ReceiptFacts,
  now: Date,
): boolean {
  if ((delivery.requests ?? 0) > 0 || delivery.attemptInFlight !== undefined || receipt.receiveCount <= 1) return false;
  // Any write since acceptance (a hold, a suspension) came from a receive that did not attempt unmarked.
  if ((delivery.version ?? 0) > 0) return false;
  if (receipt.firstReceivedAtMs === undefined || Number.isNaN(receipt.firstReceivedAtMs)) return true;
  return now.getTime() - receipt.firstReceivedAtMs >= receipt.visibilityTimeoutSeconds * 1000;
}
