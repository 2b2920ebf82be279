/**
 * How long an in-flight queue message may be hidden, by SQS's documented rule.
 *
 * SQS caps a received message's visibility at 12 hours *counted from the receive*,
 * not from the ChangeMessageVisibility call: after 3 minutes in flight, at most
 * 11 h 57 min can still be requested, and a larger value is rejected (SQS does not
 * shorten it). Asking for the full 43,200 s therefore fails on AWS for every message
 * that has been in flight for even a second (emulators accept it).
 *
 * A Lambda SQS record does not say when *this* receive happened, only when the
 * first one did (`ApproximateFirstReceiveTimestamp`). Two facts bound it:
 * - no receive is earlier than the first one;
 * - the consumer holds the message for at most the queue's visibility timeout before
 *   its handler starts (later, the message is visible again and its receipt is
 *   superseded), plus the handler's own run time.
 */

/** SQS's cap on a message's total visibility in one receive: 12 hours. */
export const SQS_MAX_VISIBILITY_SECONDS = 43_200;

/** Reserve for clock skew between this host and SQS and for the call's own latency. */
export const DEFAULT_VISIBILITY_MARGIN_SECONDS = 60;

/** What is known about when the current receive of a message happened. */
export interface ReceiveWindow {
  /** Now, in epoch milliseconds, on the same clock as `firstReceiveMs`. */
  readonly nowMs: number;
  /** `ApproximateFirstReceiveTimestamp` (epoch ms): no receive of the message is earlier. */
  readonly firstReceiveMs?: number;
  /**
   * The longest the consumer can have had this receive before now: the queue's
   * visibility timeout plus the handler's run time.
   */
  readonly maxSinceReceiveSeconds: number;
  /** @default DEFAULT_VISIBILITY_MARGIN_SECONDS */
  readonly marginSeconds?: number;
}

/** Seconds since the current receive, at most (an upper bound, never negative). */
export function secondsSinceReceive(window: ReceiveWindow): number {
  const sinceFirst =
    window.firstReceiveMs !== undefined && Number.isFinite(window.firstReceiveMs)
      ? Math.max(0, (window.nowMs - window.firstReceiveMs) / 1000)
      : Number.POSITIVE_INFINITY;
  return Math.min(sinceFirst, Math.max(0, window.maxSinceReceiveSeconds));
}

/** The largest visibility timeout SQS will accept now for this receive, less the margin. */
export function visibilityCapSeconds(window: ReceiveWindow): number {
  const margin = window.marginSeconds ?? DEFAULT_VISIBILITY_MARGIN_SECONDS;
  return Math.max(0, Math.floor(SQS_MAX_VISIBILITY_SECONDS - secondsSinceReceive(window) - margin));
}

/**
 * The visibility timeout to request for a wish of `requestedSeconds`: whole seconds,
 * never negative, never beyond what SQS accepts for this receive. A message shown
 * early is harmless: the deliverer sees that its time has not come and hides it again.
 */
export function clampVisibilitySeconds(requestedSeconds: number, window: ReceiveWindow): number {
  const cap = visibilityCapSeconds(window);
  if (Number.isNaN(requestedSeconds) || requestedSeconds <= 0) return 0;
  return Math.min(cap, Math.ceil(requestedSeconds));
}
