import { mapLimit } from '../core/concurrency';
import * as lifecycle from '../core/lifecycle';
import type { Delivery } from '../core/model';
import { compareListingEntries, type ListingEntry } from '../adapters/aws/message-store';
import type { Runtime } from '../adapters/runtime';
import { ticketOf } from './enqueue';
import { move } from './repair';

/**
 * Replay (SPEC delivery semantics 17): the deliveries to a connection that were
 * `delivered`, of messages received in a time window, are queued again for a target
 * restored from a backup. They go in acceptance order (which each lane kept when it
 * first delivered them), behind whatever the lanes already hold, each attempt flagged
 * possible-duplicate, each report saying `replayed`.
 *
 * One call does a bounded amount of work so that it answers well within the operator
 * function's 29-second timeout: at most `maxDeliveries` replayed, and no chunk started
 * after `timeBudgetMs`. What is left is handed back as a position to continue from; a
 * continuation keeps the order (its tickets go out after this call's). Tickets are a
 * few hundred bytes, so the queue adapter's batches of 10 stay far below SQS's 256 KiB.
 */

/** Deliveries one call replays at most (the API's `limit` may lower it). */
export const REPLAY_MAX_PER_CALL = 1000;
/** Time after which a call stops reading and hands back a continuation. */
export const REPLAY_TIME_BUDGET_MS = 10_000;
/** Listing entries read (one BatchGet of records) per step. */
const READ_CHUNK = 100;
/** Replay writes in flight at once. */
const CONCURRENCY = 16;

/** Options of {@link replayDeliveries}. */
export interface ReplayOptions {
  /** Deliveries replayed at most in this call. @default REPLAY_MAX_PER_CALL (1,000) */
  maxDeliveries?: number;
  /**
   * Wall-clock time after which no further chunk is started; the first chunk always
   * runs, so every call makes progress. @default REPLAY_TIME_BUDGET_MS (10 s)
   */
  timeBudgetMs?: number;
  /** Listing entries per chunk (one BatchGet, then one send of its tickets). @default 100 */
  chunkSize?: number;
}

/** Where a replay stopped: the last listing entry it went through (acceptance order, then flow). */
export interface ReplayPosition extends ListingEntry {
  flowId: string;
}

export interface ReplayRequest {
  connectionId: string;
  /** The flows whose messages are replayed (those that use the connection, or the one asked for). */
  flowIds: string[];
  /** Window on `receivedAt`: [since, until). */
  since: Date;
  until: Date;
  /** Continue after this position (a previous call's `next`). */
  after?: ReplayPosition;
  principal?: string;
}

export interface ReplayOutcome {
  replayed: number;
  /** Present when the call stopped at its cap or time budget before the end of the window. */
  next?: ReplayPosition;
}

/** Acceptance order across flows: the listing order, then the flow id for the rare tie. */
export function comparePositions(a: ReplayPosition, b: ReplayPosition): number {
  return compareListingEntries(a, b) || (a.flowId === b.flowId ? 0 : a.flowId < b.flowId ? -1 : 1);
}

/** The listings of several flows merged into one acceptance order, read lazily. */
class MergedListing {
  private constructor(private readonly heads: { source: AsyncIterator<ReplayPosition>; head?: ReplayPosition }[]) {}

  static async open(runtime: Runtime, flowIds: string[], from: string, until: string, after?: ReplayPosition): Promise<MergedListing> {
    const heads = await Promise.all(
      flowIds.map(async (flowId) => {
        const source = (async function* () {
          for await (const entry of runtime.messages.listing(flowId, { from, until })) {
            const position = { ...entry, flowId };
            if (!after || comparePositions(position, after) > 0) yield position;
          }
        })();
        const first = await source.next();
        return { source, ...(first.done ? {} : { head: first.value }) };
      }),
    );
    return new MergedListing(heads);
  }

  get exhausted(): boolean {
    return this.heads.every((h) => h.head === undefined);
  }

  async next(): Promise<ReplayPosition | undefined> {
    let least: (typeof this.heads)[number] | undefined;
    for (const h of this.heads) if (h.head && (!least || comparePositions(h.head, least.head!) < 0)) least = h;
    if (!least) return undefined;
    const value = least.head!;
    const following = await least.source.next();
    if (following.done) delete least.head;
    else least.head = following.value;
    return value;
  }
}

/**
 * Replays the delivered deliveries to `connectionId` of the given flows' messages
 * received in [since, until), in acceptance order, chunk by chunk: each chunk's records
 * are read in one BatchGet, its delivered deliveries move to `queued` (the lifecycle's
 * `replayed` step: a new restart generation, so a new queue deduplication id) and their
 * tickets are sent in order before the next chunk starts. A delivery that changed
 * meanwhile is replayed only if it is still delivered.
 *
 * Each moved delivery is in the re-queue listing until the deliverer sees it, so if
 * the process dies between the write and the send, the re-queue sweep sends it; a
 * repeated call skips it (it is no longer delivered).
 */
export async function replayDeliveries(runtime: Runtime, request: ReplayRequest, options: ReplayOptions = {}): Promise<ReplayOutcome> {
  const max = options.maxDeliveries ?? REPLAY_MAX_PER_CALL;
  const budget = options.timeBudgetMs ?? REPLAY_TIME_BUDGET_MS;
  const chunkSize = options.chunkSize ?? READ_CHUNK;
  const started = performance.now();
  const by = request.principal ?? 'operator';
  const from = new Date(Math.max(request.since.getTime(), request.after ? Date.parse(request.after.receivedAt) : 0)).toISOString();
  const until = request.until.toISOString();
  const listing = await MergedListing.open(runtime, request.flowIds, from, until, request.after);
  const why = `received in [${request.since.toISOString()}, ${until})`;

  let replayed = 0;
  let last: ReplayPosition | undefined;
  let more = false;
  while (!listing.exhausted) {
    if (replayed >= max || (last && performance.now() - started > budget)) {
      more = true;
      break;
    }
    const refs: ReplayPosition[] = [];
    while (refs.length < chunkSize) {
      const ref = await listing.next();
      if (!ref) break;
      refs.push(ref);
    }
    const deliveries = await runtime.messages.deliveriesTo(refs, request.connectionId);
    const candidates: Delivery[] = [];
    let through = refs.length;
    for (const [index, ref] of refs.entries()) {
      const delivery = deliveries.get(`${ref.flowId}#${ref.messageId}`);
      if (delivery?.status !== 'delivered') continue;
      candidates.push(delivery);
      if (replayed + candidates.length >= max) {
        through = index + 1;
        break;
      }
    }
    let failure: { error: unknown } | undefined;
    const moved = await mapLimit(candidates, CONCURRENCY, (first) =>
      move(runtime, first, (d) =>
        d.status === 'delivered' ? { step: lifecycle.replayed(d, { at: runtime.clock.now().toISOString(), by, why }) } : undefined,
      ).catch((error: unknown) => {
        failure ??= { error };
        return undefined;
      }),
    );
    const tickets = moved.filter((d): d is Delivery => d !== undefined).map(ticketOf);
    // Acceptance order within the chunk; chunks go out one after the other. What was
    // moved is sent even when another write of the chunk failed, so it does not wait for the sweep.
    await runtime.queue.send(tickets);
    replayed += tickets.length;
    if (failure) throw failure.error;
    last = refs[through - 1]!;
    if (through < refs.length) {
      more = true;
      break;
    }
  }

  const audit = {
    at: runtime.clock.now().toISOString(),
    principal: by,
    action: 'connection.replay',
    target: `connections/${request.connectionId}`,
    detail: `replayed ${replayed} of flows ${request.flowIds.join(', ') || '(none)'} ${why}${more ? '; more to continue' : ''}`,
  };
  await runtime.audit.record(audit);
  runtime.logger.info('operator action', {
    action: audit.action,
    principal: audit.principal,
    target: audit.target,
    detail: audit.detail,
    replayed,
    durationMs: Math.round(performance.now() - started),
  });
  return { replayed, ...(more && last ? { next: last } : {}) };
}
