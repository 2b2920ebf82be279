import type { Delivery } from '../core/model';
import { requeueSeen } from '../core/lifecycle';
import { StaleDeliveryError } from '../adapters/aws/delivery-store';
import type { DeliveryTicket } from '../core/ports';
import type { StoredMessage } from '../adapters/aws/message-store';
import type { Runtime } from '../adapters/runtime';

/** How long one request owns the enqueue of a freshly recorded message. */
export const ENQUEUE_LEASE_MS = 10_000;

/**
 * The ticket that queues one delivery at its current restart generation. An operator's
 * re-queue stamps it with when it was sent (`requeuedAt`), so its age is not taken from
 * the message's acceptance.
 */
export function ticketOf(d: Pick<Delivery, 'flowId' | 'messageId' | 'connectionId' | 'lane' | 'restarts' | 'requeuedAt'>): DeliveryTicket {
  return {
    v: 1,
    flowId: d.flowId,
    messageId: d.messageId,
    connectionId: d.connectionId,
    lane: d.lane,
    restarts: d.restarts,
    ...(d.requeuedAt ? { sentAt: d.requeuedAt } : {}),
  };
}

export function ticketsFor(message: Pick<StoredMessage, 'flowId' | 'messageId' | 'destinations'>, restarts = 0): DeliveryTicket[] {
  return message.destinations.map((destination) => ({
    v: 1,
    flowId: message.flowId,
    messageId: message.messageId,
    connectionId: destination.connectionId,
    lane: destination.lane,
    restarts,
  }));
}

/**
 * Queues a message that was recorded as pending (its first send failed): sends one
 * ticket per destination, then takes it out of the sweep's index. Safe to repeat: the
 * deduplication id is deterministic and the deliverer ignores finished deliveries.
 */
export async function completeEnqueue(runtime: Runtime, message: StoredMessage): Promise<void> {
  await runtime.queue.send(ticketsFor(message));
  await confirmEnqueued(runtime, message);
}

/** Takes a pending message whose tickets were just sent out of the sweep's index, with a report entry. */
export async function confirmEnqueued(
  runtime: Runtime,
  message: Pick<StoredMessage, 'flowId' | 'messageId' | 'destinations'>,
): Promise<void> {
  await runtime.messages.markEnqueued(message.flowId, message.messageId, {
    at: runtime.clock.now().toISOString(),
    event: 'queued',
    level: 'info',
    detail: `queued after an earlier send failed, for ${message.destinations.map((d) => `${d.connectionId} lane ${d.lane}`).join(', ')}`,
  });
}

/**
 * Tickets of deliveries nobody has touched yet (queued, never attempted, never
 * restarted): what a repeated post sends again in case the first request died between
 * its record and its send. Within SQS's five-minute deduplication window the send is a
 * no-op; after it a second ticket is harmless (the deliverer acknowledges a finished
 * delivery, and a lane runs one ticket of a delivery at a time).
 */
export function untouchedTickets(deliveries: Delivery[]): DeliveryTicket[] {
  return deliveries
    .filter((d) => d.status === 'queued' && d.restarts === 0 && (d.requests ?? 0) === 0 && (d.version ?? 0) === 0)
    .map((d) => ticketOf(d));
}

/**
 * The sweep for requests that died between their record and their send without marking
 * it pending (a killed process): it walks each flow's message listing from where it
 * stopped last time up to `olderThanMs` ago, and sends the tickets of messages whose
 * deliveries nobody has touched (harmless if they were queued after all, see
 * `untouchedTickets`). Each message is looked at once; the happy path writes nothing
 * for it.
 */
export async function sweepUnconfirmed(runtime: Runtime, options: { olderThanMs?: number; firstWindowMs?: number } = {}): Promise<number> {
  const now = runtime.clock.now().getTime();
  const until = new Date(now - (options.olderThanMs ?? 10 * 60_000)).toISOString();
  let resent = 0;
  for (const flow of await runtime.flows.list()) {
    const from = (await runtime.flows.sweptThrough(flow.flowId)) ?? new Date(now - (options.firstWindowMs ?? 2 * 3600_000)).toISOString();
    if (from >= until) continue;
    const refs = await runtime.messages.listedBetween(flow.flowId, from, until);
    const snapshots = await runtime.messages.snapshots(refs);
    const tickets = snapshots
      .filter((s) => s.message.enqueue !== 'pending' && s.deliveries.every((d) => (d.version ?? 0) === 0))
      .flatMap((s) => untouchedTickets(s.deliveries));
    if (tickets.length > 0) {
      await runtime.queue.send(tickets);
      runtime.logger.warn('sweep re-sent tickets of messages nobody delivered yet', { flowId: flow.flowId, tickets: tickets.length });
    }
    resent += tickets.length;
    await runtime.flows.setSweptThrough(flow.flowId, until);
  }
  return resent;
}

/**
 * The background sweep: messages recorded but never queued (their request died
 * between the write and the send) are queued by whoever claims their lease.
 */
export async function sweepPendingEnqueues(runtime: Runtime, options: { olderThanMs?: number } = {}): Promise<number> {
  const now = runtime.clock.now();
  const stale = await runtime.messages.pendingEnqueue(new Date(now.getTime() - (options.olderThanMs ?? 2 * 60_000)));
  let requeued = 0;
  for (const { flowId, messageId } of stale) {
    if (!(await runtime.messages.claimEnqueue(flowId, messageId, now.getTime(), ENQUEUE_LEASE_MS))) continue;
    const message = await runtime.messages.get(flowId, messageId, true);
    if (!message) continue;
    try {
      await completeEnqueue(runtime, message);
      requeued += 1;
    } catch (error) {
      await runtime.messages.releaseEnqueue(flowId, messageId);
      runtime.logger.error('sweep could not queue message', { flowId, messageId, error: error as Error });
    }
  }
  if (requeued > 0) runtime.logger.info('sweep queued abandoned messages', { requeued });
  return requeued;
}

/**
 * Operator re-queues (restart, chain release) whose process died between the commit
 * and the queue send: their deliveries are `queued` with no ticket. Sends the ticket
 * again; a duplicate ticket is harmless, the deliverer acknowledges finished deliveries.
 */
export async function sweepPendingRequeues(runtime: Runtime, options: { olderThanMs?: number } = {}): Promise<number> {
  const cutoff = new Date(runtime.clock.now().getTime() - (options.olderThanMs ?? 15 * 60_000)).toISOString();
  const stale = await runtime.deliveries.pendingRequeues(cutoff);
  const tickets = stale.filter((d) => d.status === 'queued').map((d) => ticketOf(d));
  if (tickets.length > 0) await runtime.queue.send(tickets);
  const at = runtime.clock.now().toISOString();
  for (const delivery of stale) {
    await runtime.deliveries.apply(delivery, requeueSeen(delivery, at)).catch((error) => {
      // Seen by the deliverer meanwhile: it cleared the mark itself.
      if (!(error instanceof StaleDeliveryError)) throw error;
    });
  }
  if (tickets.length > 0) runtime.logger.info('sweep re-sent operator re-queues', { resent: tickets.length });
  return tickets.length;
}
