import type { StoredConnection } from '../adapters/aws/connection-store';
import type { Runtime } from '../adapters/runtime';
import type { ConnectionStatus } from '../core/model';
import { releaseHeld } from './release';

/**
 * Connection health transitions (SPEC delivery semantics 7-9): a connection that
 * goes offline or unauthorized pauses the flows that use it and holds their
 * traffic; one that comes back online resumes them and releases what was held.
 */

export interface HealthOptions {
  /** When the next probe is due; the first fast probe when unset. */
  nextProbeAt?: Date;
  /** Set by an operator: no probing until it is set online by hand. */
  manual?: boolean;
}

/** Marks a connection offline or unauthorized; announces it once and pauses its flows. */
export async function markConnectionDown(
  runtime: Runtime,
  connectionId: string,
  status: Exclude<ConnectionStatus, 'online'>,
  reason: string,
  options: HealthOptions = {},
): Promise<StoredConnection | undefined> {
  const now = runtime.clock.now();
  const next = options.manual ? undefined : (options.nextProbeAt ?? runtime.probes.nextProbe(now, now));
  const changed = await runtime.connections.setStatus(connectionId, status, reason, now, next, { manual: options.manual });
  if (!changed) return undefined;
  runtime.logger.warn('connection down', { connectionId, status, reason });
  await runtime.events.publish({
    type: status === 'offline' ? 'connection.offline' : 'connection.unauthorized',
    at: now.toISOString(),
    detail: { connectionId, status, reason, ...(next ? { nextProbeAt: next.toISOString() } : { manual: true }) },
  });
  for (const flow of await runtime.flows.listUsing(connectionId)) {
    const flowReason = `connection ${connectionId} is ${status}: ${reason}`;
    if (await runtime.flows.autoPause(flow.flowId, connectionId, flowReason, now)) {
      await runtime.flows.log(flow.flowId, { at: now.toISOString(), level: 'warning', code: 'flow-paused', detail: flowReason });
      await runtime.events.publish({ type: 'flow.paused', at: now.toISOString(), detail: { flowId: flow.flowId, reason: flowReason } });
    }
  }
  if (options.manual) await runtime.probes.connectionUp(connectionId);
  else await runtime.probes.connectionDown(connectionId, now);
  return changed;
}

/** Marks a connection online; resumes its flows and releases its held deliveries in order. */
export async function markConnectionOnline(runtime: Runtime, connectionId: string, reason: string): Promise<boolean> {
  const now = runtime.clock.now();
  const changed = await runtime.connections.setStatus(connectionId, 'online', reason, now);
  if (!changed) return false;
  runtime.logger.info('connection online', { connectionId, reason });
  await runtime.events.publish({ type: 'connection.online', at: now.toISOString(), detail: { connectionId, reason } });
  for (const flow of await runtime.flows.listUsing(connectionId)) {
    if (await runtime.flows.autoResume(flow.flowId, connectionId, now)) {
      const detail = `connection ${connectionId} is online again`;
      await runtime.flows.log(flow.flowId, { at: now.toISOString(), level: 'info', code: 'flow-resumed', detail });
      await runtime.events.publish({ type: 'flow.resumed', at: now.toISOString(), detail: { flowId: flow.flowId, reason: detail } });
    }
  }
  await runtime.probes.connectionUp(connectionId);
  await releaseHeld(runtime, { connectionId });
  return true;
}
