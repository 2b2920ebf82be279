import { randomBytes } from 'node:crypto';
import type { AcceptedMessage } from './invariants';
import type { Pipeline } from './pipeline';

export interface LoadOptions {
  /** Messages to post in all. */
  messages: number;
  /** Flow ids; each has one destination connection (`connectionOf`). */
  flows: string[];
  connectionOf: (flowId: string) => string;
  payloadBytes: number;
  /** Message ids are `${tag}-${flowId}-${seq}`. */
  tag: string;
  /** Stop posting at this Date.now(). */
  deadline?: number;
  /** Whole-run posting rate limit (messages per second). */
  ratePerSecond?: number;
  /** A post that fails (5xx, network) is retried with the same id, like a partner would. @default true */
  retry?: boolean;
  onAccepted?: (message: AcceptedMessage) => void;
  /** Post this many messages per request to the batch endpoint (2-100); unset: one per request. */
  batch?: number;
}

export interface LoadResult {
  accepted: AcceptedMessage[];
  /** Latency of every API request (ms), retries included. */
  requestLatencies: number[];
  /** Requests answered 5xx or not at all (each was retried). */
  failedRequests: number;
  /** Messages given up on (deadline hit while retrying). */
  abandoned: number;
  startedAt: number;
  finishedAt: number;
}

/**
 * Posts messages from one sequential poster per flow (all flows side by side), so the
 * acceptance order of each lane is the posting order. A message is retried with the same
 * GUID until it is acknowledged (202, or 200 duplicate).
 */
export async function postLoad(pipeline: Pipeline, options: LoadOptions): Promise<LoadResult> {
  const payload = randomBytes(Math.ceil(options.payloadBytes / 2))
    .toString('hex')
    .slice(0, options.payloadBytes);
  const body = Buffer.from(payload);
  const accepted: AcceptedMessage[] = [];
  const requestLatencies: number[] = [];
  let failedRequests = 0;
  let abandoned = 0;
  const startedAt = performance.now();
  const startedWall = Date.now();
  let posted = 0;
  const retry = options.retry ?? true;
  const perFlow = options.flows.map(
    (_, i) => Math.floor(options.messages / options.flows.length) + (i < options.messages % options.flows.length ? 1 : 0),
  );

  /**
   * One batch of `count` messages from `seq`: messages answered with a 5xx problem (or the
   * whole request failing) are posted again, in order, with the same GUIDs.
   */
  const postBatch = async (flowId: string, connectionId: string, first: number, count: number) => {
    const postedAt = performance.now();
    let pending = Array.from({ length: count }, (_, i) => first + i);
    for (let attempt = 0; pending.length > 0; attempt++) {
      const t0 = performance.now();
      const result = await pipeline.postBatch(
        flowId,
        pending.map((seq) => ({ id: `${options.tag}-${flowId}-${seq}`, payload })),
      );
      requestLatencies.push(performance.now() - t0);
      let retryable = pending;
      if (result.status === 200) {
        const results = (JSON.parse(result.body) as { results: { error?: { status: number; detail: string } }[] }).results;
        retryable = [];
        results.forEach((r, i) => {
          const seq = pending[i]!;
          if (!r.error) {
            const message: AcceptedMessage = {
              messageId: `${options.tag}-${flowId}-${seq}`,
              flowId,
              connectionId,
              seq,
              lane: connectionId,
              postedAt,
              acceptedAt: performance.now(),
            };
            accepted.push(message);
            options.onAccepted?.(message);
          } else if (r.error.status >= 500) retryable.push(seq);
          else throw new Error(`batch ${flowId}/${seq}: ${r.error.status} ${r.error.detail}`);
        });
      } else if (result.status >= 400 && result.status < 500 && result.status !== 429) {
        throw new Error(`batch ${flowId}: HTTP ${result.status} ${result.body.slice(0, 300)}`);
      }
      if (retryable.length === 0) return;
      failedRequests += 1;
      if (!retry || (options.deadline && Date.now() > options.deadline + 30_000)) {
        abandoned += retryable.length;
        return;
      }
      pending = retryable;
      await sleep(Math.min(1000, 50 * 2 ** attempt));
    }
  };

  await Promise.all(
    options.flows.map(async (flowId, flowIndex) => {
      const connectionId = options.connectionOf(flowId);
      for (let seq = 0; seq < perFlow[flowIndex]!; seq++) {
        if (options.deadline && Date.now() > options.deadline) return;
        if (options.ratePerSecond) {
          const due = startedWall + (posted / options.ratePerSecond) * 1000;
          posted += 1;
          if (due > Date.now()) await sleep(due - Date.now());
        }
        if (options.batch) {
          const count = Math.min(options.batch, perFlow[flowIndex]! - seq);
          await postBatch(flowId, connectionId, seq, count);
          seq += count - 1;
          continue;
        }
        const messageId = `${options.tag}-${flowId}-${seq}`;
        const postedAt = performance.now();
        for (let attempt = 0; ; attempt++) {
          const t0 = performance.now();
          const result = await pipeline.post(flowId, messageId, body);
          requestLatencies.push(performance.now() - t0);
          if (result.status === 202 || result.status === 200) {
            const message: AcceptedMessage = {
              messageId,
              flowId,
              connectionId,
              seq,
              lane: connectionId,
              postedAt,
              acceptedAt: performance.now(),
            };
            accepted.push(message);
            options.onAccepted?.(message);
            break;
          }
          if (result.status >= 400 && result.status < 500 && result.status !== 429) {
            throw new Error(`post ${messageId}: HTTP ${result.status} ${result.body.slice(0, 300)}`);
          }
          failedRequests += 1;
          if (!retry || (options.deadline && Date.now() > options.deadline + 30_000)) {
            abandoned += 1;
            break;
          }
          await sleep(Math.min(1000, 50 * 2 ** attempt));
        }
      }
    }),
  );
  return { accepted, requestLatencies, failedRequests, abandoned, startedAt, finishedAt: performance.now() };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
