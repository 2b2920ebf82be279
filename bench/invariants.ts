/**
 * Delivery invariants of a run, checked from the outside: what the partner was told
 * (accepted messages), what the targets saw (requests) and what the gateway's store says
 * (delivery status). Reusable by the bench, the soak and tests.
 *
 * - every accepted message is delivered (a target answered it with 2xx) or its delivery is
 *   in the failed store; none is lost (neither) or left behind (still queued/retrying);
 * - no message reaches a target again after it was delivered unless that request carries
 *   `x-sluice-possible-duplicate: true`; every request after a message's first must carry it;
 * - order per lane: no request for a message arrives while an earlier accepted message of the
 *   same lane has not been delivered yet (when that earlier message is delivered at all).
 */

/** A message the partner API acknowledged (202, or 200 duplicate). */
export interface AcceptedMessage {
  messageId: string;
  flowId: string;
  /** The destination connection. */
  connectionId: string;
  /** Order key within the lane: acceptance order (posts of one lane are sequential). */
  seq: number;
  /** Delivery lane (connection + lane index); with `threads: 1` the connection id. */
  lane: string;
  /** ms (performance.now) when the post started. */
  postedAt: number;
  acceptedAt: number;
}

/** One request a target received. */
export interface ObservedRequest {
  connectionId: string;
  messageId: string;
  possibleDuplicate: boolean;
  /** ms (same clock as AcceptedMessage) when it arrived. */
  at: number;
  /** ms when the target answered, if it did. */
  answeredAt?: number;
  /** The status answered, if it answered (not for hangs and resets). */
  status?: number;
}

/** Delivery status in the gateway's store, keyed by `deliveryKey(connectionId, messageId)`. */
export type StoreStatuses = Map<string, string | undefined>;

export const deliveryKey = (connectionId: string, messageId: string) => `${connectionId}/${messageId}`;

export interface InvariantReport {
  accepted: number;
  /** Accepted messages a target answered with 2xx at least once. */
  delivered: number;
  /** Accepted messages not delivered whose delivery is `failed` (or `inError`) in the store. */
  failed: number;
  /** Delivered at the target yet `failed` in the store (a crash after the POST, then retries ran out). */
  failedAfterDelivery: number;
  /** Accepted, never delivered, not in the failed store, and not pending either. */
  lost: number;
  /** Accepted, not delivered, still queued / retrying / paused in the store. */
  pending: number;
  /** Requests that reached a target after the message had been delivered, with the flag. */
  flaggedDuplicates: number;
  /** …and without the flag: must be 0. */
  duplicatesWithoutFlag: number;
  /** Requests after a message's first request without the flag (SPEC 3): must be 0. */
  repeatsWithoutFlag: number;
  /** Messages answered with 2xx more than once (all flagged, or counted above). */
  deliveredMoreThanOnce: number;
  /** Requests that overtook an earlier, not yet delivered message of their lane: must be 0. */
  orderViolations: number;
  /** Requests for messages that were never acknowledged (e.g. posts that gave up). */
  requestsForUnacceptedMessages: number;
  totalRequests: number;
  /** First examples of each broken invariant, for the console. */
  examples: string[];
  ok: boolean;
}

const SUCCESS = (status: number | undefined) => status !== undefined && status >= 200 && status < 300;
const FAILED_STATUSES = new Set(['failed', 'inError']);
const DONE_STATUSES = new Set(['delivered', 'failed', 'inError', 'discarded']);

/**
 * @param statuses store status of the deliveries that were not seen delivered (others may be absent)
 * @param options.requireSettled treat `pending` as a violation (the run waited for everything to settle)
 */
export function checkInvariants(
  accepted: readonly AcceptedMessage[],
  requests: readonly ObservedRequest[],
  statuses: StoreStatuses,
  options: { requireSettled?: boolean; maxExamples?: number } = {},
): InvariantReport {
  const maxExamples = options.maxExamples ?? 10;
  const examples: string[] = [];
  const example = (text: string) => {
    if (examples.length < maxExamples) examples.push(text);
  };
  const acceptedByKey = new Map(accepted.map((m) => [deliveryKey(m.connectionId, m.messageId), m]));
  const byKey = new Map<string, ObservedRequest[]>();
  let requestsForUnacceptedMessages = 0;
  for (const r of requests) {
    const key = deliveryKey(r.connectionId, r.messageId);
    if (!acceptedByKey.has(key)) requestsForUnacceptedMessages += 1;
    const list = byKey.get(key);
    if (list) list.push(r);
    else byKey.set(key, [r]);
  }

  let delivered = 0;
  let failed = 0;
  let failedAfterDelivery = 0;
  let lost = 0;
  let pending = 0;
  let flaggedDuplicates = 0;
  let duplicatesWithoutFlag = 0;
  let repeatsWithoutFlag = 0;
  let deliveredMoreThanOnce = 0;
  /** First 2xx answer per accepted delivery. */
  const deliveredAt = new Map<string, number>();

  for (const [key, list] of byKey) {
    list.sort((a, b) => a.at - b.at);
    let firstSuccess: number | undefined;
    let successes = 0;
    list.forEach((r, index) => {
      if (index > 0 && !r.possibleDuplicate) {
        repeatsWithoutFlag += 1;
        example(`request ${index + 1} for ${key} has no possible-duplicate flag`);
      }
      if (firstSuccess !== undefined && r.at >= firstSuccess) {
        if (r.possibleDuplicate) flaggedDuplicates += 1;
        else {
          duplicatesWithoutFlag += 1;
          example(`${key} reached its target again after delivery without the possible-duplicate flag`);
        }
      }
      if (SUCCESS(r.status)) {
        successes += 1;
        const answered = r.answeredAt ?? r.at;
        if (firstSuccess === undefined || answered < firstSuccess) firstSuccess = answered;
      }
    });
    if (successes > 1) deliveredMoreThanOnce += 1;
    if (firstSuccess !== undefined && acceptedByKey.has(key)) deliveredAt.set(key, firstSuccess);
  }

  for (const m of accepted) {
    const key = deliveryKey(m.connectionId, m.messageId);
    const status = statuses.get(key);
    if (deliveredAt.has(key)) {
      delivered += 1;
      if (status !== undefined && FAILED_STATUSES.has(status)) failedAfterDelivery += 1;
    } else if (status !== undefined && FAILED_STATUSES.has(status)) {
      failed += 1;
    } else if (status !== undefined && !DONE_STATUSES.has(status)) {
      pending += 1;
      if (options.requireSettled) example(`${key} is still ${status}`);
    } else {
      lost += 1;
      example(`${key} was accepted but is neither delivered nor failed (store: ${status ?? 'no delivery record'})`);
    }
  }

  // Order: within a lane, no request of message j before every earlier delivered message k < j was delivered.
  let orderViolations = 0;
  const lanes = new Map<string, AcceptedMessage[]>();
  for (const m of accepted) {
    const list = lanes.get(m.lane);
    if (list) list.push(m);
    else lanes.set(m.lane, [m]);
  }
  for (const [lane, messages] of lanes) {
    messages.sort((a, b) => a.seq - b.seq);
    let latestEarlierDelivery = -Infinity;
    let latestEarlierId = '';
    for (const m of messages) {
      const key = deliveryKey(m.connectionId, m.messageId);
      for (const r of byKey.get(key) ?? []) {
        if (r.at < latestEarlierDelivery) {
          orderViolations += 1;
          example(`lane ${lane}: ${m.messageId} was sent before the earlier ${latestEarlierId} was delivered`);
        }
      }
      const at = deliveredAt.get(key);
      if (at !== undefined && at > latestEarlierDelivery) {
        latestEarlierDelivery = at;
        latestEarlierId = m.messageId;
      }
    }
  }

  const ok =
    lost === 0 &&
    duplicatesWithoutFlag === 0 &&
    repeatsWithoutFlag === 0 &&
    orderViolations === 0 &&
    (!options.requireSettled || pending === 0);
  return {
    accepted: accepted.length,
    delivered,
    failed,
    failedAfterDelivery,
    lost,
    pending,
    flaggedDuplicates,
    duplicatesWithoutFlag,
    repeatsWithoutFlag,
    deliveredMoreThanOnce,
    orderViolations,
    requestsForUnacceptedMessages,
    totalRequests: requests.length,
    examples,
    ok,
  };
}

export function formatInvariants(report: InvariantReport): string {
  return [
    `accepted ${report.accepted}, delivered ${report.delivered}, failed (in failed store) ${report.failed}, lost ${report.lost}, still pending ${report.pending}`,
    `order violations ${report.orderViolations}, duplicates without possible-duplicate flag ${report.duplicatesWithoutFlag}, repeats without flag ${report.repeatsWithoutFlag}`,
    `flagged duplicates ${report.flaggedDuplicates}, messages delivered more than once ${report.deliveredMoreThanOnce}, delivered then failed ${report.failedAfterDelivery}, requests for unacknowledged messages ${report.requestsForUnacceptedMessages}, target requests ${report.totalRequests}`,
    `invariants: ${report.ok ? 'OK' : 'BROKEN'}`,
    ...report.examples.map((e) => `  - ${e}`),
  ].join('\n');
}
