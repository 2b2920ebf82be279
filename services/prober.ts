import type { StoredConnection } from '../adapters/aws/connection-store';
import { sendToTarget } from '../adapters/http/target-client';
import type { Runtime } from '../adapters/runtime';
import { authHeaders } from '../core/auth-headers';
import { mapLimit } from '../core/concurrency';
import type { AttemptOutcome } from '../core/classify';
import type { Connection } from '../core/model';
import { markConnectionOnline } from './connection-health';
import { sweepPendingEnqueues, sweepPendingRequeues, sweepUnconfirmed } from './enqueue';

/**
 * The prober (SPEC delivery semantics 9): asks every connection that is not online
 * whether it answers again, and brings back the ones that do.
 */

export interface ProbeResult {
  connectionId: string;
  alive: boolean;
  detail: string;
}

/** Headers a probe sends: the connection's credentials, so `unauthorized` connections prove new ones work. */
function probeHeaders(connection: Connection): Record<string, string> {
  return { 'user-agent': 'Sluice/1.0 (probe)', ...authHeaders(connection.auth) };
}

/** Alive: any answer that is not a connection error, timeout or 5xx; for `unauthorized`, also not 401/403. */
export function probeVerdict(outcome: AttemptOutcome, status: Connection['status']): { alive: boolean; detail: string } {
  if (outcome.kind !== 'response') return { alive: false, detail: `probe failed: ${outcome.message}` };
  if (outcome.status >= 500) return { alive: false, detail: `probe answered HTTP ${outcome.status}` };
  if (status === 'unauthorized' && (outcome.status === 401 || outcome.status === 403)) {
    return { alive: false, detail: `probe answered HTTP ${outcome.status}: the credentials are still rejected` };
  }
  return { alive: true, detail: `probe answered HTTP ${outcome.status}` };
}

export function probeUrl(connection: Pick<Connection, 'url' | 'probe'>): string {
  return connection.probe.path ? new URL(connection.probe.path, connection.url).toString() : connection.url;
}

export async function probeConnection(runtime: Runtime, connectionId: string): Promise<ProbeResult> {
  const connection = await runtime.connections.getWithSecrets(connectionId, true);
  if (!connection) return { connectionId, alive: false, detail: 'connection does not exist' };
  const outcome = await sendToTarget(
    {
      url: probeUrl(connection),
      method: connection.probe.method,
      headers: probeHeaders(connection),
      ...(connection.probe.method === 'POST' ? { body: Buffer.alloc(0) } : {}),
      timeoutMs: connection.timeoutMs,
    },
    { localMode: runtime.config.localMode, allowPrivateTargets: runtime.config.allowPrivateTargets },
  );
  const { alive, detail } = probeVerdict(outcome, connection.status);
  const now = runtime.clock.now();
  if (alive && connection.status !== 'online') {
    await runtime.connections.recordProbe(connectionId, now, detail);
    await markConnectionOnline(runtime, connectionId, detail);
  } else {
    await runtime.connections.recordProbe(
      connectionId,
      now,
      connection.status === 'online' ? detail : `${connection.status}: ${detail}`,
      connection.status === 'online' ? undefined : runtime.probes.nextProbe(new Date(connection.statusSince), now),
    );
  }
  runtime.logger.info('probe', { connectionId, alive, detail });
  return { connectionId, alive, detail };
}

export interface ProberEvent {
  /** `hourly`: every connection that is not online, plus the enqueue sweep; `probe`: the named ones. */
  kind: 'hourly' | 'probe';
  connectionIds?: string[];
}

export interface ProberOptions {
  /** Probes run at once. @default 8 */
  concurrency?: number;
}

/** Connections that need a probe: not online, and not taken offline by an operator. */
function needsProbe(connection: StoredConnection): boolean {
  return connection.status !== 'online' && !connection.manualOffline;
}

export async function runProber(runtime: Runtime, event: ProberEvent, options: ProberOptions = {}): Promise<ProbeResult[]> {
  const candidates =
    event.kind === 'probe' && event.connectionIds
      ? (await Promise.all(event.connectionIds.map((id) => runtime.connections.get(id, true)))).filter(
          (c): c is StoredConnection => c !== undefined,
        )
      : await runtime.connections.list();
  const due = candidates.filter(needsProbe);
  const results = await mapLimit(due, options.concurrency ?? 8, (c) => probeConnection(runtime, c.connectionId));
  if (event.kind === 'hourly') {
    // Each sweep on its own: one that fails (a throttled read) does not keep the others from running.
    for (const [name, sweep] of [
      ['pending enqueues', sweepPendingEnqueues],
      ['unconfirmed enqueues', sweepUnconfirmed],
      ['operator re-queues', sweepPendingRequeues],
    ] as const) {
      await sweep(runtime).catch((error) => runtime.logger.error(`sweep of ${name} failed; the next probe run tries again`, { error: error as Error }));
    }
  }
  return results;
}
