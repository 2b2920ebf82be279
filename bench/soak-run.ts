/**
 * The soak: the bench pipeline under faults, bounded in time, ending with the delivery
 * invariants (bench/invariants.ts). Used by `npm run soak` and by test/bench/soak.test.ts.
 *
 * Faults while messages are posted:
 * - targets flap: 503s (some with Retry-After), hangs (the connection's 1 s timeout fires),
 *   connection resets;
 * - one target goes down (its server closes: connections refused) and comes back on the same port;
 * - the deliverer's event source poller is killed and replaced mid-batch, repeatedly;
 * - the deliverer "crashes" after a POST and before recording its outcome (afterRequest throws);
 * - DynamoDB throttling (`ProvisionedThroughputExceededException`): some injected under the client's
 *   retry layer (absorbed by its retries unless every attempt is throttled), some above it (the
 *   application sees them at once);
 * - the whole gateway is stopped and started again on its data directory half-way through the
 *   posting phase, as `npm start` is: the emulator's queue starts empty, so every delivery that
 *   was queued, retrying or held comes back from the recorded state (SPEC semantics 15).
 * Then the faults stop and the run waits for everything to settle.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkInvariants, type InvariantReport } from './invariants';
import { postLoad, sleep } from './load';
import { BenchLogger, Pipeline, round } from './pipeline';
import type { Runtime } from '../adapters/runtime';
import { BenchTarget, type TargetReply } from './target';

export interface SoakFaults {
  /** Per delivery request. */
  http503: number;
  hang: number;
  reset: number;
  /** Per delivery attempt: throw after the POST, before the outcome is recorded. */
  crashAfterPost: number;
  /** Per DynamoDB call: throttled above the client's retries (the app sees it). */
  dynamoThrottleApp: number;
  /** Per DynamoDB HTTP attempt: throttled below the client's retries (retried by the client). */
  dynamoThrottleSdk: number;
  /** Seconds between poller kills (random in this range). */
  pollerRestartSeconds: [number, number];
  /** How long the down target stays down. */
  downSeconds: number;
  /** When the gateway is restarted, as a share of the posting phase (none when outside 0-1). */
  restartAt: number;
}

export const DEFAULT_FAULTS: SoakFaults = {
  http503: 0.04,
  hang: 0.015,
  reset: 0.02,
  crashAfterPost: 0.01,
  dynamoThrottleApp: 0.002,
  dynamoThrottleSdk: 0.02,
  pollerRestartSeconds: [3, 8],
  downSeconds: 4,
  restartAt: 0.5,
};

export interface SoakOptions {
  /** Whole run (after start-up), faults and settling included. @default 120 */
  seconds?: number;
  /** Messages to post (spread over the posting phase). @default as many as the pipeline takes */
  messages?: number;
  /** Flows, one connection and one target each. @default 6 */
  flows?: number;
  /** Extra seconds allowed for settling beyond `seconds` before unsettled messages fail the run. @default 30 */
  graceSeconds?: number;
  /** Share of `seconds` spent posting under faults; the rest is for settling. @default 0.6 */
  postingShare?: number;
  faults?: Partial<SoakFaults>;
  /** Random seed (faults are reproducible in kind, not in timing). */
  seed?: number;
  /**
   * The down target's connection goes offline after 3 connection errors and the prober
   * (every `probeIntervalSeconds`) brings it back. Off: every connection has offlineAfter 1000.
   * @default true
   */
  useProber?: boolean;
  probeIntervalSeconds?: number;
  log?: (line: string) => void;
}

export interface SoakResult {
  ok: boolean;
  settled: boolean;
  invariants: InvariantReport;
  seconds: number;
  posted: { accepted: number; apiRequests: number; failedRequests: number; abandoned: number };
  faults: Record<string, number>;
  /** Deliverer batches as the poller handed them out (several messages of one lane per batch, as on AWS). */
  batches: { invocations: number; records: number; severalOfOneLane: number; mostOfOneLane: number };
  /** Operational events the gateway published, by type (connection offline/online, flow stopped…). */
  events: Record<string, number>;
  gatewayLog: Record<string, number>;
}

/** Small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class InjectedThrottle extends Error {
  readonly $metadata = { httpStatusCode: 400 };
  readonly $fault = 'client';
  constructor(readonly layer: 'app' | 'sdk') {
    super(`Rate of requests exceeds the allowed throughput (injected by the soak, ${layer} layer)`);
    this.name = 'ProvisionedThroughputExceededException';
  }
}

export async function runSoak(options: SoakOptions = {}): Promise<SoakResult> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const seconds = options.seconds ?? 120;
  const flowCount = options.flows ?? 6;
  const faults: SoakFaults = { ...DEFAULT_FAULTS, ...options.faults };
  const random = prng(options.seed ?? Date.now());
  const useProber = options.useProber ?? true;
  const counters: Record<string, number> = {
    http503: 0,
    hang: 0,
    reset: 0,
    crashAfterPost: 0,
    dynamoThrottleApp: 0,
    dynamoThrottleSdk: 0,
    dynamoThrottleReachedApp: 0,
    pollerKills: 0,
    targetDownBack: 0,
    gatewayRestarts: 0,
    flowsRestartedByOperator: 0,
    pollerErrors: 0,
  };
  let faulty = false;

  const targets = await Promise.all(Array.from({ length: flowCount }, () => BenchTarget.start()));
  // The gateway keeps its state here, so that it can be stopped and started again mid-run.
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-soak-'));
  const flows = targets.map((_, i) => `soak-f${i}`);
  const connectionOf = (flowId: string) => flowId.replace('-f', '-c');
  const downIndex = 0;

  const pipeline = await Pipeline.start({
    // The soak checks guarantees, not cost: no billing middleware in its way.
    billing: false,
    batchSize: 10,
    pollerConcurrency: 4,
    probeIntervalSeconds: useProber ? (options.probeIntervalSeconds ?? 2) : undefined,
    dataDir,
    deliverer: {
      internalRetrySeconds: 1,
      afterRequest: () => {
        if (faulty && random() < faults.crashAfterPost) {
          counters.crashAfterPost! += 1;
          throw new Error('injected crash after the POST, before the outcome is recorded');
        }
      },
    },
    onPollerError: () => {
      counters.pollerErrors! += 1;
    },
  });
  const startedAt = Date.now();
  let result: SoakResult | undefined;
  try {
    await pipeline.setup(
      flows.map((flowId, i) => ({
        flowId,
        connectionId: connectionOf(flowId),
        url: targets[i]!.urlFor(connectionOf(flowId)),
        timeoutMs: 1000,
        // Retry intervals of 0-1 s; the last connection gives up quickly so the failed store is exercised.
        retry: i === flowCount - 1 && flowCount > 1 ? { count: 1, intervalSeconds: 0 } : { count: 8, intervalSeconds: i % 2 },
        offlineAfter: useProber && i === downIndex ? 3 : 1000,
        backoutThreshold: 5,
      })),
    );
    const throttle = (runtime: Runtime) => installThrottling(runtime, faults, random, counters, () => faulty);
    throttle(pipeline.runtime);
    targets.forEach((target) => {
      target.behaviour = (): TargetReply => {
        if (!faulty) return { kind: 'answer', status: 200 };
        const r = random();
        if (r < faults.http503) {
          counters.http503! += 1;
          return random() < 0.3 ? { kind: 'answer', status: 503, headers: { 'retry-after': '1' } } : { kind: 'answer', status: 503 };
        }
        if (r < faults.http503 + faults.hang) {
          counters.hang! += 1;
          return { kind: 'hang' };
        }
        if (r < faults.http503 + faults.hang + faults.reset) {
          counters.reset! += 1;
          return { kind: 'reset' };
        }
        return { kind: 'answer', status: 200 };
      };
    });
    pipeline.startPoller();

    const t0 = Date.now();
    const postingMs = seconds * 1000 * (options.postingShare ?? 0.6);
    // A count-bound run (`messages`) paces its messages over the posting phase and posts every
    // one of them, however long a busy machine takes, with the faults going on meanwhile; a
    // time-bound run posts until the posting phase ends.
    const countBound = options.messages !== undefined;
    const postingDeadline = countBound ? Number.POSITIVE_INFINITY : t0 + postingMs;
    let posting = true;
    const deadline = t0 + (seconds + (options.graceSeconds ?? 30)) * 1000;
    faulty = true;
    log(`soak: ${flowCount} flows, posting for ${(postingMs / 1000).toFixed(0)} s under faults, settling until ${seconds} s`);

    // Fault schedule: poller kills, one target down and back, an operator restarting stopped flows.
    const chaos = (async () => {
      let downDone = false;
      while (posting && Date.now() < postingDeadline) {
        const [lo, hi] = faults.pollerRestartSeconds;
        const wait = (lo + random() * (hi - lo)) * 1000;
        const downAt = t0 + postingMs * 0.3;
        if (!downDone && Date.now() + wait >= downAt) {
          await sleep(Math.max(0, downAt - Date.now()));
          downDone = true;
          const target = targets[downIndex]!;
          log(`  t+${((Date.now() - t0) / 1000).toFixed(1)} s: target ${connectionOf(flows[downIndex]!)} down for ${faults.downSeconds} s`);
          await target.down();
          await sleep(faults.downSeconds * 1000);
          await target.up();
          counters.targetDownBack! += 1;
          log(`  t+${((Date.now() - t0) / 1000).toFixed(1)} s: target back on the same port`);
          continue;
        }
        const until = Date.now() + wait;
        while (posting && Date.now() < Math.min(until, postingDeadline)) await sleep(100);
        if (!posting || Date.now() >= postingDeadline) break;
        counters.pollerKills! += 1;
        await pipeline.restartPoller();
      }
    })();
    // The gateway restart: stopped with deliveries queued, retrying and held, started again on its data.
    const restart = (async () => {
      if (!(faults.restartAt > 0 && faults.restartAt < 1)) return;
      const at = t0 + postingMs * faults.restartAt;
      while (posting && Date.now() < Math.min(at, postingDeadline)) await sleep(100);
      log(`  t+${((Date.now() - t0) / 1000).toFixed(1)} s: gateway stopped and started again on its data directory`);
      await pipeline.restartGateway(throttle);
      counters.gatewayRestarts! += 1;
      log(`  t+${((Date.now() - t0) / 1000).toFixed(1)} s: gateway back`);
    })();
    let operatorRunning = true;
    const operator = (async () => {
      while (operatorRunning) {
        await sleep(1000);
        // An operator who starts flows the gateway stopped (backout threshold), as SPEC 12 expects.
        for (const flowId of flows) {
          const flow = await pipeline.operator('GET', `/v1/flows/${flowId}`).catch(() => undefined);
          if (flow?.status === 200 && flow.body?.status === 'stopped') {
            const started = await pipeline.operator('POST', `/v1/flows/${flowId}/start`).catch(() => undefined);
            if (started?.status === 200) counters.flowsRestartedByOperator! += 1;
          }
        }
      }
    })();

    const load = await postLoad(pipeline, {
      messages: options.messages ?? 1_000_000,
      flows,
      connectionOf,
      payloadBytes: 1024,
      tag: `s${Date.now().toString(36)}`,
      ...(countBound ? {} : { deadline: postingDeadline }),
      ...(options.messages ? { ratePerSecond: options.messages / (postingMs / 1000) } : {}),
    });
    posting = false;
    await chaos;
    await restart;
    // Heal: targets answer, no more crashes or throttling, all targets up.
    faulty = false;
    await Promise.all(targets.map((t) => t.up()));
    log(
      `  t+${((Date.now() - t0) / 1000).toFixed(1)} s: posting done (${load.accepted.length} accepted, ${load.failedRequests} API requests failed and were retried); faults off, settling`,
    );

    const requests = () => targets.flatMap((t) => t.requests);
    // Settling gets its grace after the last post too, not only after the planned run.
    const settleBy = Math.max(deadline, Date.now() + (options.graceSeconds ?? 30) * 1000);
    const settled = await pipeline.waitSettled(load.accepted, requests, settleBy);
    operatorRunning = false;
    await operator;
    await pipeline.stopPoller();
    const all = requests();
    const delivered = new Set(all.filter((r) => r.status !== undefined && r.status < 300).map((r) => `${r.connectionId}/${r.messageId}`));
    const statuses = await pipeline.deliveryStatuses(load.accepted.filter((m) => !delivered.has(`${m.connectionId}/${m.messageId}`)));
    const invariants = checkInvariants(load.accepted, all, statuses, { requireSettled: true });
    result = {
      ok: invariants.ok && settled.settled,
      settled: settled.settled,
      invariants,
      seconds: round((Date.now() - t0) / 1000, 1),
      posted: {
        accepted: load.accepted.length,
        apiRequests: load.requestLatencies.length,
        failedRequests: load.failedRequests,
        abandoned: load.abandoned,
      },
      faults: counters,
      batches: {
        invocations: pipeline.batches.invocations,
        records: pipeline.batches.records,
        severalOfOneLane: pipeline.batches.severalOfOneLane,
        mostOfOneLane: pipeline.batches.mostOfOneLane,
      },
      events: pipeline.events.reduce<Record<string, number>>((acc, e) => {
        acc[e.type] = (acc[e.type] ?? 0) + 1;
        return acc;
      }, {}),
      gatewayLog: Object.fromEntries(BenchLogger.counts),
    };
  } finally {
    await pipeline.stop().catch(() => undefined);
    await Promise.all(targets.map((t) => t.stop().catch(() => undefined)));
    await rm(dataDir, { recursive: true, force: true });
    log(`  (${round((Date.now() - startedAt) / 1000, 1)} s after start-up in all)`);
  }
  return result!;
}

/**
 * Throttling on the runtime's DynamoDB client (the document client shares its middleware stack):
 * one middleware above the client's retry layer, one below it.
 */
function installThrottling(
  runtime: Runtime,
  faults: SoakFaults,
  random: () => number,
  counters: Record<string, number>,
  active: () => boolean,
): void {
  type Stack = { add: (mw: any, options: { step: string; name: string; priority?: string }) => void };
  const stack = runtime.clients.dynamodb.middlewareStack as unknown as Stack;
  stack.add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      if (active() && random() < faults.dynamoThrottleApp) {
        counters.dynamoThrottleApp! += 1;
        throw new InjectedThrottle('app');
      }
      try {
        return await next(args);
      } catch (error) {
        if (error instanceof InjectedThrottle && error.layer === 'sdk') counters.dynamoThrottleReachedApp! += 1;
        throw error;
      }
    },
    { step: 'initialize', name: 'soakThrottleAboveRetries', priority: 'high' },
  );
  stack.add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      if (active() && random() < faults.dynamoThrottleSdk) {
        counters.dynamoThrottleSdk! += 1;
        throw new InjectedThrottle('sdk');
      }
      return next(args);
    },
    // Below the retry middleware (finalizeRequest, high priority): each attempt may be throttled.
    { step: 'finalizeRequest', name: 'soakThrottleBelowRetries', priority: 'low' },
  );
}

export function formatSoak(result: SoakResult): string {
  const f = result.faults;
  const i = result.invariants;
  return [
    `faults: ${f.http503} × 503, ${f.hang} hangs (timeouts), ${f.reset} resets, ${f.targetDownBack} target down-and-back, ` +
      `${f.pollerKills} poller kills, ${f.gatewayRestarts} gateway restarts, ${f.crashAfterPost} crashes after POST, DynamoDB throttles: ${f.dynamoThrottleApp} seen by the app at once, ` +
      `${f.dynamoThrottleSdk} under the client's retries (${f.dynamoThrottleReachedApp} of them got through all retries), ${f.flowsRestartedByOperator} stopped flows restarted by the operator`,
    `posted: ${result.posted.accepted} accepted, ${result.posted.apiRequests} API requests, ${result.posted.failedRequests} failed and retried with the same id, ${result.posted.abandoned} given up`,
    `accepted ${i.accepted}: delivered ${i.delivered}, in failed store ${i.failed}, lost ${i.lost}, not settled ${i.pending}`,
    `order violations ${i.orderViolations}, delivered twice without possible-duplicate flag ${i.duplicatesWithoutFlag}, repeats without flag ${i.repeatsWithoutFlag}, ` +
      `flagged duplicates ${i.flaggedDuplicates}, delivered then failed ${i.failedAfterDelivery}`,
    `deliverer batches: ${result.batches.invocations} with ${result.batches.records} records, ${result.batches.severalOfOneLane} of them with several messages of one lane (at most ${result.batches.mostOfOneLane})`,
    `gateway events: ${
      Object.entries(result.events)
        .map(([type, n]) => `${type} ${n}`)
        .join(', ') || 'none'
    }`,
    `soak ${result.ok ? 'PASSED' : 'FAILED'} in ${result.seconds} s${result.settled ? '' : ' (did not settle in time)'}`,
    ...i.examples.map((e) => `  - ${e}`),
  ].join('\n');
}
