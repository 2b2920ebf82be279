import { createHash } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { mapLimit } from '../core/concurrency';
import { laneFor } from '../core/lanes';
import { accepted } from '../core/lifecycle';
import type { Flow, Message, MessageDestination } from '../core/model';
import { ProblemError } from '../core/problems';
import { objectKeys } from '../adapters/aws/keys';
import type { MessageSnapshot, StoredMessage } from '../adapters/aws/message-store';
import type { Runtime } from '../adapters/runtime';
import { completeEnqueue, confirmEnqueued, ENQUEUE_LEASE_MS, ticketsFor, untouchedTickets } from './enqueue';

/** A validated message, from a single post's headers and body or from one entry of a batch. */
export interface IncomingMessage {
  messageId: string;
  chainId?: string;
  correlationId: string;
  expiresAt?: string;
  contentType: string;
  body: Buffer;
}

/** What became of one incoming message, in the order it was given. */
export type IngestResult =
  | { outcome: 'accepted'; message: Pick<Message, 'flowId' | 'messageId' | 'receivedAt'> }
  | { outcome: 'duplicate'; message: StoredMessage }
  | { outcome: 'error'; messageId: string; error: unknown };

/**
 * Conditional puts in flight at once for one batch. Each put decides its own GUID, so
 * running them side by side keeps dedupe exact (BatchWriteItem would not: it takes no
 * condition); order is kept by the queue sends, which stay sequential.
 */
const PUT_CONCURRENCY = 16;

/** SendMessageBatch takes at most 10 entries (tickets are ~200 bytes, far below its 256 KiB). */
const SQS_BATCH_ENTRIES = 10;

/**
 * Records and queues messages of one flow, each as if posted alone, in the given order:
 * the order of the array is the acceptance order (each message gets the request's
 * time plus its position in milliseconds, `positions` defaulting to its index, so
 * listings sort them as given, and its tickets are sent in that order). A GUID given twice is settled after the first occurrence,
 * so the repeat is a duplicate of it (or, when the first was rejected, is taken on its
 * own). A message counts as accepted only once recorded and queued.
 */
export async function ingestMessages(
  runtime: Runtime,
  flow: Flow,
  partnerId: string,
  incoming: IncomingMessage[],
  now: Date,
  positions: number[] = incoming.map((_, index) => index),
): Promise<IngestResult[]> {
  const results = new Array<IngestResult>(incoming.length);
  let remaining = incoming.map((message, index) => ({ message, index, position: positions[index]! }));
  while (remaining.length > 0) {
    const seen = new Set<string>();
    const round: typeof remaining = [];
    const later: typeof remaining = [];
    for (const item of remaining) {
      if (seen.has(item.message.messageId)) later.push(item);
      else {
        seen.add(item.message.messageId);
        round.push(item);
      }
    }
    const outcomes = await ingestRound(runtime, flow, partnerId, round, now);
    round.forEach((item, i) => (results[item.index] = outcomes[i]!));
    remaining = later;
  }
  return results;
}

type Recorded = { kind: 'recorded'; message: Message } | { kind: 'existing' } | { kind: 'error'; error: unknown };

/** A message this request queues: freshly recorded, or pending (an earlier send failed) and leased by it. */
interface ToQueue {
  message: Message;
  /** Its position in the round. */
  i: number;
  leased: boolean;
}

async function ingestRound(
  runtime: Runtime,
  flow: Flow,
  partnerId: string,
  items: { message: IncomingMessage; position: number }[],
  now: Date,
): Promise<IngestResult[]> {
  const recorded = await mapLimit(items, PUT_CONCURRENCY, async ({ message, position }): Promise<Recorded> => {
    try {
      const receivedAt = new Date(now.getTime() + position).toISOString();
      return await record(runtime, flow, partnerId, message, receivedAt);
    } catch (error) {
      return { kind: 'error', error };
    }
  });
  const results = new Array<IngestResult>(items.length);
  const toQueue: ToQueue[] = [];
  /** Existing GUIDs someone else is queueing right now: settled once that is done. */
  const contended: number[] = [];
  await mapLimit(items, PUT_CONCURRENCY, async ({ message }, i) => {
    const state = recorded[i]!;
    try {
      if (state.kind === 'error') results[i] = { outcome: 'error', messageId: message.messageId, error: state.error };
      else if (state.kind === 'recorded') toQueue.push({ message: state.message, i, leased: false });
      else {
        const existing = await settleIfNotPending(runtime, flow.flowId, message.messageId);
        if (existing === 'leased') contended.push(i);
        else if ('outcome' in existing) results[i] = existing;
        else toQueue.push({ message: existing, i, leased: true });
      }
    } catch (error) {
      results[i] = { outcome: 'error', messageId: message.messageId, error };
    }
  });
  // Pending and fresh messages are sent together, in the round's order.
  await queueInOrder(
    runtime,
    toQueue.sort((a, b) => a.i - b.i),
    results,
  );
  for (const i of contended) {
    try {
      results[i] = await settleExisting(runtime, flow.flowId, items[i]!.message.messageId);
    } catch (error) {
      results[i] = { outcome: 'error', messageId: items[i]!.message.messageId, error };
    }
  }
  return results;
}

/** The one write of the happy path: the record with its deliveries and payload (large payloads go to S3 first). */
async function record(runtime: Runtime, flow: Flow, partnerId: string, incoming: IncomingMessage, receivedAt: string): Promise<Recorded> {
  const { flowId } = flow;
  const { messageId, body } = incoming;
  const inline = body.length <= runtime.inlinePayloadLimitBytes;
  // A large payload goes to S3 before the record: look for a duplicate first so a
  // repeated post does not upload again. Small ones rely on the conditional write alone.
  if (!inline && (await runtime.messages.get(flowId, messageId))) return { kind: 'existing' };
  // Lane counts travel with the flow (copied when it or a destination is saved): no connection read.
  const destinations: MessageDestination[] = await Promise.all(
    flow.destinations.map(async (connectionId) => {
      const threads = flow.destinationThreads?.[connectionId] ?? (await runtime.connections.getCached(connectionId))?.threads ?? 1;
      return { connectionId, lane: laneFor({ messageId, chainId: incoming.chainId }, threads) };
    }),
  );
  const payloadKey = objectKeys.claimCheck(flowId, messageId);
  if (!inline) await runtime.payloads.put(payloadKey, body, incoming.contentType);
  const message: Message = {
    flowId,
    messageId,
    partnerId,
    contentType: incoming.contentType,
    bytes: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    payload: inline ? { kind: 'inline' } : { kind: 'object', key: payloadKey },
    correlationId: incoming.correlationId,
    ...(incoming.chainId ? { chainId: incoming.chainId } : {}),
    ...(incoming.expiresAt ? { expiresAt: incoming.expiresAt } : {}),
    receivedAt,
    enqueue: 'done',
    destinations,
  };
  const { deliveries } = accepted(message);
  const fresh = await runtime.messages.accept(message, deliveries, inline ? body : undefined);
  return fresh ? { kind: 'recorded', message } : { kind: 'existing' };
}

/**
 * Sends the tickets of the messages to queue in their order, up to 10 tickets a call.
 * At the first failed send, that message and every one after it are not sent (fresh
 * ones are marked pending, leased ones get their lease back): a later message never
 * reaches its lane before an earlier one, and a repeated post of their GUIDs (or the
 * sweep) queues them in order.
 */
async function queueInOrder(runtime: Runtime, toQueue: ToQueue[], results: IngestResult[]): Promise<void> {
  let next = 0;
  while (next < toQueue.length) {
    const chunk = [toQueue[next]!];
    let tickets = ticketsFor(toQueue[next]!.message).length;
    for (let j = next + 1; j < toQueue.length; j++) {
      const count = ticketsFor(toQueue[j]!.message).length;
      if (tickets + count > SQS_BATCH_ENTRIES) break;
      chunk.push(toQueue[j]!);
      tickets += count;
    }
    try {
      await runtime.queue.send(chunk.flatMap(({ message }) => ticketsFor(message)));
    } catch (error) {
      await Promise.all(
        toQueue.slice(next).map(async ({ message, i, leased }) => {
          if (leased) await runtime.messages.releaseEnqueue(message.flowId, message.messageId).catch(() => undefined);
          else await markPending(runtime, message);
          results[i] = notQueued(runtime, message, error);
        }),
      );
      return;
    }
    await Promise.all(
      chunk.map(async ({ message, i, leased }) => {
        try {
          if (leased) await confirmEnqueued(runtime, message);
        } catch (error) {
          // Queued all the same: the sweep finds it pending and sends it again, harmlessly.
          runtime.logger.warn('queued a pending message but could not clear its mark', {
            flowId: message.flowId,
            messageId: message.messageId,
            error: error as Error,
          });
        }
        runtime.metrics.addMetric('MessagesAccepted', MetricUnit.Count, 1);
        results[i] = { outcome: 'accepted', message };
      }),
    );
    next += chunk.length;
  }
}

/**
 * A duplicate is acknowledged after its untouched deliveries are sent again, in case the
 * first request died between its record and its send (a no-op for SQS within its
 * deduplication window).
 */
async function acknowledgeDuplicate(runtime: Runtime, { message, deliveries }: MessageSnapshot): Promise<IngestResult> {
  const tickets = untouchedTickets(deliveries);
  if (tickets.length > 0) await runtime.queue.send(tickets);
  runtime.metrics.addMetric('MessagesDuplicate', MetricUnit.Count, 1);
  return { outcome: 'duplicate', message };
}

/**
 * An existing GUID in one look: a duplicate (its untouched tickets sent again in case
 * its request died before sending them), a pending message whose enqueue lease this
 * request took, or `leased` when another request holds that lease.
 */
async function settleIfNotPending(runtime: Runtime, flowId: string, messageId: string): Promise<IngestResult | StoredMessage | 'leased'> {
  const existing = await runtime.messages.snapshot(flowId, messageId);
  if (!existing) throw new ProblemError('internal', 'message vanished while settling a duplicate');
  const { message } = existing;
  if (message.enqueue !== 'pending') return acknowledgeDuplicate(runtime, existing);
  return (await runtime.messages.claimEnqueue(flowId, messageId, runtime.clock.now().getTime(), ENQUEUE_LEASE_MS)) ? message : 'leased';
}

/** Only now does the record become findable by the sweep; a repeated post queues it too. */
async function markPending(runtime: Runtime, message: Message): Promise<void> {
  const { flowId, messageId } = message;
  await runtime.messages
    .markPendingEnqueue(flowId, messageId, {
      at: runtime.clock.now().toISOString(),
      event: 'error',
      level: 'error',
      detail: 'the queue send failed; a repeated post of this id or the sweep queues it',
    })
    .catch((secondary) => runtime.logger.error('could not mark the message pending', { flowId, messageId, error: secondary as Error }));
}

function notQueued(runtime: Runtime, message: Pick<Message, 'flowId' | 'messageId'>, error: unknown): IngestResult {
  runtime.logger.error('message recorded but not queued; a retry with the same id or the sweep will queue it', {
    flowId: message.flowId,
    messageId: message.messageId,
    error: error as Error,
  });
  return {
    outcome: 'error',
    messageId: message.messageId,
    error: new ProblemError('internal', 'The message was recorded but could not be queued; post it again with the same id.'),
  };
}

/**
 * A GUID that already exists. A pending one (its first send failed) is queued by
 * whoever takes its lease; any other is acknowledged as a duplicate after its
 * untouched deliveries are sent again, in case the first request died between its
 * record and its send (a no-op for SQS within its deduplication window).
 */
async function settleExisting(runtime: Runtime, flowId: string, messageId: string): Promise<IngestResult> {
  for (let wait = 25; ; wait = Math.min(wait * 2, 500)) {
    const existing = await runtime.messages.snapshot(flowId, messageId);
    if (!existing) throw new ProblemError('internal', 'message vanished while settling a duplicate');
    const { message } = existing;
    if (message.enqueue !== 'pending') return acknowledgeDuplicate(runtime, existing);
    if (await runtime.messages.claimEnqueue(flowId, messageId, runtime.clock.now().getTime(), ENQUEUE_LEASE_MS)) {
      try {
        await completeEnqueue(runtime, message);
      } catch (error) {
        // Frees the lease for the next try.
        await runtime.messages.releaseEnqueue(flowId, messageId);
        return notQueued(runtime, message, error);
      }
      runtime.metrics.addMetric('MessagesAccepted', MetricUnit.Count, 1);
      return { outcome: 'accepted', message };
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
