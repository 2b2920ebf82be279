import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { StoredConnection } from '../adapters/aws/connection-store';
import { sendToTarget } from '../adapters/http/target-client';
import { flushMetrics, type Runtime } from '../adapters/runtime';
import { authHeaders } from '../core/auth-headers';
import { probeTargetUrl } from '../core/target-url';
import { mapLimit } from '../core/concurrency';
import type { AttemptOutcome } from '../core/classify';
import type { Connection } from '../core/model';
import { markConnectionOnline } from './connection-health';
import { sweepPendingEnqueues, sweepPendingRequeues, sweepUnconfirmed } from './enqueue';
import { reconcileSweep } from './parking';

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

/** `probe.path` on the connection's own origin; throws `UnsafeTargetError` for a path that would leave it. */
export function probeUrl(connection: Pick<Connection, 'url' | 'probe'>): string {
  return probeTargetUrl(connection.url, connection.probe.path);
}

export async function probeConnection(runtime: Runtime, connectionId: string): Promise<ProbeResult> {
  const connection = await runtime.connections.getWithSecrets(connectionId, true);
  if (!connection) return { connectionId, alive: false, detail: 'connection does not exist' };
  let url: string;
  try {
    url = probeUrl(connection);
  } catch (error) {
    // A stored path from before the origin rule: the probe fails, nothing is sent.
    url = '';
    runtime.logger.warn('probe path refused', { connectionId, reason: (error as Error).message });
  }
  const outcome: AttemptOutcome = url
    ? await sendToTarget(
        {
          url,
          method: connection.probe.method,
          headers: probeHeaders(connection),
          ...(connection.probe.method === 'POST' ? { body: Buffer.alloc(0) } : {}),
          timeoutMs: connection.timeoutMs,
        },
        { localMode: runtime.config.localMode, allowPrivateTargets: runtime.config.allowPrivateTargets },
      )
    : { kind: 'refused-target', durationMs: 0, message: 'the probe path leaves the connection origin' };
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

/** One connection's probe; its failure (a bug, a database error) is its result, never the run's. */
async function probeIsolated(runtime: Runtime, connectionId: string): Promise<ProbeResult> {
  try {
    return await probeConnection(runtime, connectionId);
  } catch (error) {
    runtime.logger.error('probe failed', { connectionId, error: error as Error });
    return { connectionId, alive: false, detail: `probe failed: ${(error as Error).message}` };
  }
}

/** Runs every step even when one fails, then reports the first failure. */
async function runAll(runtime: Runtime, steps: [string, () => Promise<unknown>][]): Promise<void> {
  const failures: unknown[] = [];
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (error) {
      runtime.logger.error(`prober step failed: ${name}`, { error: error as Error });
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
}

/**
 * Probes the due connections, then (hourly) runs the re-queue sweeps that delivery
 * semantics 1 and 15 rely on. A failing probe never stops the other probes or the
 * sweeps; a failing step still fails the run (after the others), so it is retried
 * and alarmed on.
 */
export async function runProber(runtime: Runtime, event: ProberEvent, options: ProberOptions = {}): Promise<ProbeResult[]> {
  let results: ProbeResult[] = [];
  await runAll(runtime, [
    [
      'probes',
      async () => {
        const candidates =
          event.kind === 'probe' && event.connectionIds
            ? (await Promise.all(event.connectionIds.map((id) => runtime.connections.get(id, true)))).filter(
                (c): c is StoredConnection => c !== undefined,
              )
            : await runtime.connections.list();
        const due = candidates.filter(needsProbe);
        results = await mapLimit(due, options.concurrency ?? 8, (c) => probeIsolated(runtime, c.connectionId));
      },
    ],
    ...(event.kind === 'hourly'
      ? ([
          ['enqueue sweep', () => sweepPendingEnqueues(runtime)],
          ['unconfirmed enqueue sweep', () => sweepUnconfirmed(runtime)],
          ['requeue sweep', () => sweepPendingRequeues(runtime)],
          ['reconcile sweep', () => reconcileSweep(runtime)],
          ['held delivery age', () => publishHeldDeliveryAge(runtime)],
        ] as [string, () => Promise<unknown>][])
      : []),
  ]);
  return results;
}

/**
 * The metric the long-hold alarm watches (namespace `Sluice`, dimension `service` = the
 * prober's service name). SQS's ApproximateAgeOfOldestMessage leaves out messages received
 * 3 or more times, which a held lane's head soon is, so a lane held for days can look young.
 */
export const HELD_DELIVERY_AGE_METRIC = 'OldestHeldDeliveryAge';

/**
 * Publishes the age (since acceptance) of the oldest delivery held in flight on any connection,
 * read from the held-delivery index, 0 when nothing is held. Only a lane's head is held, so
 * this reads about one record per held lane. Returns the age in seconds.
 */
export async function publishHeldDeliveryAge(runtime: Runtime): Promise<number> {
  const connections = await runtime.connections.list();
  const held = (await mapLimit(connections, 8, (c) => runtime.deliveries.held(c.connectionId))).flat();
  const received = held.length > 0 ? await runtime.messages.receivedTimes(held) : new Map<string, string>();
  const now = runtime.clock.now().getTime();
  let oldest = now;
  for (const at of received.values()) {
    const receivedAt = Date.parse(at);
    if (Number.isFinite(receivedAt)) oldest = Math.min(oldest, receivedAt);
  }
  const ageSeconds = Math.max(0, Math.floor((now - oldest) / 1000));
  runtime.metrics.addMetric(HELD_DELIVERY_AGE_METRIC, MetricUnit.Seconds, ageSeconds);
  flushMetrics(runtime);
  runtime.logger.info('held deliveries', { held: held.length, oldestAgeSeconds: ageSeconds });
  return ageSeconds;
}
