import type { Runtime } from '../adapters/runtime';
import { ageSeconds } from '../core/parking';
import { releaseParkedLanes, requeueFromState } from './parking';

/**
 * Wakes deliveries whose lanes were held in flight (paused flow, connection down,
 * in error): their queue messages become visible at once, in each lane's order,
 * instead of waiting for their hold to run out. Lanes held so long that their work was
 * parked (SPEC semantics 15) are queued again, in order, if the connection is online.
 */
export async function releaseHeld(
  runtime: Runtime,
  scope: { connectionId: string; flowId?: string; statuses?: string[] },
): Promise<number> {
  const held = await runtime.deliveries.held(scope.connectionId);
  await requeueExpiredLanes(runtime, scope.connectionId, held);
  let released = 0;
  for (const delivery of held) {
    if (scope.flowId && delivery.flowId !== scope.flowId) continue;
    if (scope.statuses && !scope.statuses.includes(delivery.status)) continue;
    if (!delivery.heldReceipt) continue;
    try {
      await runtime.queue.delay(delivery.heldReceipt, 0);
      released += 1;
    } catch (error) {
      // The hold already ran out and the ticket was received again (it is being handled),
      // or the ticket is gone (its lane was parked, or the queue dropped it).
      runtime.logger.debug('held receipt no longer in flight', { connectionId: scope.connectionId, error: error as Error });
    }
  }
  await releaseParkedLanes(runtime, scope.connectionId);
  return released;
}

/**
 * A held ticket older than the queue's retention is gone, and so are the tickets queued
 * behind it in its lane: before the hold ends (the younger tickets behind them would go
 * first) those lanes are queued again from the recorded state.
 */
async function requeueExpiredLanes(
  runtime: Runtime,
  connectionId: string,
  held: Awaited<ReturnType<Runtime['deliveries']['held']>>,
): Promise<void> {
  const now = runtime.clock.now();
  const lanes = [
    ...new Set(held.filter((h) => h.heldTicketAt && ageSeconds(h.heldTicketAt, now) >= runtime.queueRetentionSeconds).map((h) => h.lane)),
  ];
  if (lanes.length === 0) return;
  const parked = new Set((await runtime.connections.get(connectionId, true))?.parkedLanes ?? []);
  const expired = lanes.filter((lane) => !parked.has(lane));
  if (expired.length > 0) await requeueFromState(runtime, { connectionId, lanes: expired }, 'held tickets older than the queue keeps them');
}
