import type { Runtime } from '../adapters/runtime';

/**
 * Wakes deliveries whose lanes were held in flight (paused flow, connection down,
 * in error): their queue messages become visible at once, in each lane's order,
 * instead of waiting for their hold to run out.
 */
export async function releaseHeld(
  runtime: Runtime,
  scope: { connectionId: string; flowId?: string; statuses?: string[] },
): Promise<number> {
  const held = await runtime.deliveries.held(scope.connectionId);
  let released = 0;
  for (const delivery of held) {
    if (scope.flowId && delivery.flowId !== scope.flowId) continue;
    if (scope.statuses && !scope.statuses.includes(delivery.status)) continue;
    if (!delivery.heldReceipt) continue;
    try {
      await runtime.queue.delay(delivery.heldReceipt, 0);
      released += 1;
    } catch (error) {
      // The hold already ran out and the ticket was received again: it is being handled.
      runtime.logger.debug('held receipt no longer in flight', { connectionId: scope.connectionId, error: error as Error });
    }
  }
  return released;
}
