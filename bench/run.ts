/**
 * `npm run bench`: local mode + local targets. Posts N messages over 20 flows/connections,
 * measures ingest and end-to-end latency, checks the delivery invariants, compares the
 * delivery rate with raw HTTP to the same target, turns the AWS calls counted into a cost
 * per million messages, and measures bundle sizes and import times of the Lambdas.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { bundlesSummary, coldStart, type ColdStartResult } from './cold-start';
import {
  costPerMillion,
  formatCostTable,
  INFRA_DEFAULTS,
  loadAwsModel,
  loadPrices,
  type CostSettings,
  type MeasuredUsage,
} from './cost-model';
import { benchSummary, type IngestMode } from './summary';
import { checkInvariants, deliveryKey, formatInvariants } from './invariants';
import { postLoad } from './load';
import { machineInfo } from './machine';
import { commandLineFlags, Pipeline, round, summarize, BenchLogger } from './pipeline';
import { rawHttpBaseline } from './raw-http';
import { latencySvg } from './svg';
import { BenchTarget } from './target';
import { markdownReport } from './report';
import { probeDynamoDbLocal } from './emulator-probe';

const USAGE = `usage: npm run bench -- [--messages N] [--flows 20] [--batch N] [--api http|rest] [--batch-size 10] [--memory 512] [--ingest-memory 256]
       [--concurrency 4] [--payload-bytes 1024] [--cold-start-runs 5] [--skip-cold-start] [--node-binary PATH] [--out bench/results] [--verbose]
       --node-binary (or SLUICE_BENCH_NODE=PATH) times the cold start with that Node binary (Lambda runs Node 22)`;

/** The command that repeats this run, as the results record it: a Node binary's path belongs to one machine. */
function benchCommand(args: string[]): string {
  const shown = args.map((arg, i) =>
    args[i - 1] === '--node-binary' ? 'PATH' : arg.startsWith('--node-binary=') ? '--node-binary=PATH' : arg,
  );
  return `npm run bench -- ${shown.join(' ')}`.trim();
}

const flags = commandLineFlags(
  {
    messages: 'number',
    flows: 'number',
    'batch-size': 'number',
    batch: 'number',
    api: 'string',
    memory: 'number',
    'ingest-memory': 'number',
    concurrency: 'number',
    'payload-bytes': 'number',
    'cold-start-runs': 'number',
    'skip-cold-start': 'boolean',
    'node-binary': 'string',
    'timeout-seconds': 'number',
    out: 'string',
    verbose: 'boolean',
  },
  USAGE,
);

const messages = Number(flags.messages ?? 10_000);
const flowCount = Number(flags.flows ?? 20);
const settings: CostSettings = {
  batchSize: Number(flags['batch-size'] ?? INFRA_DEFAULTS.batchSize),
  delivererMemoryMb: Number(flags.memory ?? INFRA_DEFAULTS.delivererMemoryMb),
  functionMemoryMb: Number(flags['ingest-memory'] ?? INFRA_DEFAULTS.functionMemoryMb),
  architecture: 'arm64',
  // The partner API is an HTTP API by default (SPEC "Architecture"); `--api rest` prices the REST flavour.
  apiType: flags.api === 'rest' ? 'rest' : 'http',
};
if (flags.api !== undefined && flags.api !== 'rest' && flags.api !== 'http') {
  console.error('--api must be http or rest');
  process.exit(2);
}
const ingestBatch = flags.batch === undefined ? undefined : Number(flags.batch);
if (ingestBatch !== undefined && (!Number.isInteger(ingestBatch) || ingestBatch < 2 || ingestBatch > 100)) {
  console.error('--batch must be an integer from 2 to 100 (messages per POST /v1/flows/{flowId}/batches)');
  process.exit(2);
}
const pollerConcurrency = Number(flags.concurrency ?? 4);
const payloadBytes = Number(flags['payload-bytes'] ?? 1024);
const outDir = String(flags.out ?? 'bench/results');
BenchLogger.print = Boolean(flags.verbose);
if (!Number.isInteger(settings.batchSize) || settings.batchSize < 1 || settings.batchSize > 10) {
  console.error('--batch-size must be an integer from 1 to 10 (SQS FIFO limit)');
  process.exit(2);
}

/** `usdPerMillion…` figures of another ingest mode in an earlier results file, with the command that measured them. */
function carriedCosts(file: string, summary: Record<string, unknown>): Record<string, unknown> {
  if (!existsSync(file)) return {};
  try {
    const previous = JSON.parse(readFileSync(file, 'utf8')) as { command?: string; summary?: Record<string, unknown> };
    const carried = Object.entries(previous.summary ?? {}).filter(([key]) => /^usdPerMillion(Batch\d+)?$/.test(key) && !(key in summary));
    if (carried.length === 0) return {};
    // A figure the earlier file carried itself keeps the command that measured it.
    const earlier = previous.summary?.carriedFrom as { command?: string; keys?: string[] } | undefined;
    const keys = carried.map(([key]) => key);
    const command = earlier?.keys && keys.every((key) => earlier.keys!.includes(key)) ? earlier.command : previous.command;
    return { ...Object.fromEntries(carried), carriedFrom: { command, keys } };
  } catch {
    return {};
  }
}

const log = (line = '') => process.stdout.write(`${line}\n`);
const machine = machineInfo();
log(
  `Sluice bench — ${messages} messages, ${flowCount} flows/connections, ${payloadBytes} B payloads, batch size ${settings.batchSize}, ${pollerConcurrency} poller loops`,
);
log(
  `machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}, ${machine.platform}, load average ${machine.loadAverage1m}`,
);

const runStarted = performance.now();
const target = await BenchTarget.start();
const prices = loadPrices();
const awsModel = loadAwsModel();
// One message per request, or `--batch N` messages per batch request (reported as usdPerMillionBatchN).
const ingestMode: IngestMode = ingestBatch ? { kind: 'batch', size: ingestBatch } : { kind: 'single' };
log('starting local gateway (DynamoDB Local, SQS/S3 emulator)…');
const pipeline = await Pipeline.start({ batchSize: settings.batchSize, pollerConcurrency });
let exitCode = 0;
try {
  const flows = Array.from({ length: flowCount }, (_, i) => `bench-f${String(i).padStart(2, '0')}`);
  const connectionOf = (flowId: string) => flowId.replace('-f', '-c');
  await pipeline.setup(
    flows.map((flowId) => ({
      flowId,
      connectionId: connectionOf(flowId),
      url: target.urlFor(connectionOf(flowId)),
      retry: { count: 5, intervalSeconds: 1 },
    })),
  );
  const emulator = await probeDynamoDbLocal(pipeline, 200, 20, flowCount);
  log(
    `DynamoDB Local on this machine: GetItem ${emulator.getItem.sequential}/s one at a time, ${emulator.getItem.concurrent}/s ${emulator.concurrency} at a time; ` +
      `2-item TransactWriteItems ${emulator.transactWrite.sequential}/s and ${emulator.transactWrite.concurrent}/s; ` +
      `PutItem of 1 KiB items ${emulator.putItem.perSecond}/s ${emulator.putItem.concurrency} at a time`,
  );
  await pipeline.meter.start();
  log(
    `CPU meter overhead: ${(pipeline.meter.cpuOverheadPerSwitchMs * 1000).toFixed(2)} µs per event-loop slice (taken out of every invocation)`,
  );
  pipeline.startPoller();

  log(`posting ${messages} messages…`);
  let acceptedSoFar = 0;
  const postingStarted = performance.now();
  const progress = setInterval(() => {
    const elapsed = (performance.now() - postingStarted) / 1000;
    const delivered = target.requests.filter((r) => r.status === 200).length;
    const rate = delivered / elapsed;
    const eta = rate > 0 && acceptedSoFar < messages ? ` (about ${Math.round((messages - delivered) / rate)} s to go at this rate)` : '';
    log(`  … ${elapsed.toFixed(0)} s: ${acceptedSoFar} accepted, ${delivered} delivered${eta}`);
  }, 15_000);
  const load = await postLoad(pipeline, {
    messages,
    flows,
    connectionOf,
    payloadBytes,
    tag: `b${Date.now().toString(36)}`,
    ...(ingestBatch ? { batch: ingestBatch } : {}),
    onAccepted: () => {
      acceptedSoFar += 1;
    },
  });
  const ingestSeconds = (load.finishedAt - load.startedAt) / 1000;
  log(`ingest done: ${load.accepted.length} accepted in ${ingestSeconds.toFixed(1)} s`);
  const timeoutSeconds = Number(flags['timeout-seconds'] ?? Math.max(120, messages / 20));
  const settled = await pipeline.waitSettled(load.accepted, () => target.requests, Date.now() + timeoutSeconds * 1000);
  clearInterval(progress);
  await pipeline.stopPoller();
  pipeline.meter.stop();

  // Store status of everything not seen delivered: failed store, lost, or still pending.
  const deliveredKeys = new Set(
    target.requests
      .filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300)
      .map((r) => deliveryKey(r.connectionId, r.messageId)),
  );
  const storeStatuses = await pipeline.deliveryStatuses(
    load.accepted.filter((m) => !deliveredKeys.has(deliveryKey(m.connectionId, m.messageId))),
  );
  const invariants = checkInvariants(load.accepted, target.requests, storeStatuses, { requireSettled: true });

  // End-to-end: post start → first 2xx answer at the target.
  const firstSuccess = new Map<string, number>();
  for (const r of target.requests) {
    if (r.status !== undefined && r.status >= 200 && r.status < 300 && r.answeredAt !== undefined) {
      const key = `${r.connectionId}/${r.messageId}`;
      const previous = firstSuccess.get(key);
      if (previous === undefined || r.answeredAt < previous) firstSuccess.set(key, r.answeredAt);
    }
  }
  const endToEnd: number[] = [];
  let lastDelivery = 0;
  for (const m of load.accepted) {
    const at = firstSuccess.get(`${m.connectionId}/${m.messageId}`);
    if (at === undefined) continue;
    endToEnd.push(at - m.postedAt);
    lastDelivery = Math.max(lastDelivery, at);
  }
  const deliverySeconds = (lastDelivery - load.startedAt) / 1000;
  const deliveredPerSecond = invariants.delivered / deliverySeconds;
  const ingest = {
    ...summarize(load.requestLatencies),
    throughputPerSecond: round(load.accepted.length / ingestSeconds),
    seconds: round(ingestSeconds, 2),
    failedRequests: load.failedRequests,
  };
  const e2e = summarize(endToEnd);
  log();
  log(
    `ingest: ${ingest.throughputPerSecond} msgs/s; latency p50 ${ingest.p50} ms, p95 ${ingest.p95} ms, p99 ${ingest.p99} ms (${ingest.count} requests)`,
  );
  log(
    `end-to-end delivery latency: p50 ${e2e.p50} ms, p99 ${e2e.p99} ms; delivered ${invariants.delivered} in ${deliverySeconds.toFixed(1)} s from the first post = ${deliveredPerSecond.toFixed(1)} msgs/s`,
  );
  log(`settled: ${settled.settled ? 'yes' : `NO (timed out after ${timeoutSeconds} s)`}`);
  log(formatInvariants(invariants));

  // Cost model.
  const calls = pipeline.meter.calls();
  const functions = pipeline.meter.functions;
  const usage: MeasuredUsage = {
    delivered: invariants.delivered,
    apiRequests: load.requestLatencies.length,
    ingest: { invocations: functions.ingest.invocations, cpuMs: functions.ingest.cpuMs, awsWaitMs: functions.ingest.awsWaitMs },
    delivererInvocations: pipeline.batches.invocations,
    delivererRecords: pipeline.batches.records,
    deliverer: { invocations: functions.deliverer.invocations, cpuMs: functions.deliverer.cpuMs, awsWaitMs: functions.deliverer.awsWaitMs },
    measuredBatchSize: settings.batchSize,
    logBytes: { ...pipeline.meter.logBytes },
    calls,
  };
  await pipeline.stop();

  const cost = costPerMillion(usage, settings, prices, awsModel);
  const summary = benchSummary({
    mode: ingestMode,
    usage,
    cost,
    functions,
    ingestThroughputPerSecond: ingest.throughputPerSecond,
    dynamodbLocalPutItemPerSecond: emulator.putItem.perSecond,
    ingestLocalLatencyMs: { p50: ingest.p50, p99: ingest.p99 },
    ingestMemoryMb: settings.functionMemoryMb,
    awsModel,
  });
  log();
  log(
    `AWS calls per delivered message (${pipeline.batches.invocations} deliverer batches, ${(pipeline.batches.records / Math.max(1, pipeline.batches.invocations)).toFixed(2)} records per batch; ${pipeline.meter.emptyReceives} empty receives not counted):`,
  );
  log(formatCostTable(cost));
  const indexUnits = Object.fromEntries([...pipeline.meter.indexUnits].map(([op, units]) => [op, round(units / invariants.delivered, 2)]));
  log(
    `DynamoDB per delivered message, counted by AWS's rules: ${summary.dynamodbWriteUnitsPerMessage} WRU, ${summary.dynamodbReadUnitsPerMessage} RRU`,
  );
  if (pipeline.meter.billingErrors > 0) {
    log(
      `  WARNING: ${pipeline.meter.billingErrors} DynamoDB requests could not be billed (last: ${pipeline.meter.lastBillingError}); the units above are too low`,
    );
    exitCode = 1;
  }
  if (Object.keys(indexUnits).length > 0) {
    log(
      `  of those write units, global secondary indexes: ${Object.entries(indexUnits)
        .map(([op, u]) => `${op} ${u}`)
        .join(', ')}`,
    );
  }
  log(
    `ingest: ${summary.ingestSequentialAwsCalls} sequential AWS round trips before the 202 (typical; max ${summary.ingestSequentialAwsCallsMax}), ` +
      `${summary.ingestAwsCallsPerRequest} calls per request; CPU ${(summary.lambdaCpuMsPerMessage as any).ingest} ms per message`,
  );
  log(
    `deliverer: ${summary.delivererAwsCallsPerMessage} AWS calls per message (a batched call once), sequential round trips per batch p50 ${(summary.delivererSequentialAwsCallsPerBatch as any).p50} max ${(summary.delivererSequentialAwsCallsPerBatch as any).max}; CPU ${(summary.lambdaCpuMsPerMessage as any).deliverer} ms per message`,
  );
  log(
    `KMS ${summary.kmsRequestsPerMessage} requests and CloudWatch Logs ${summary.logBytesPerMessage} bytes per message (START/END/REPORT lines not included)`,
  );
  log(
    `local ingest ${ingest.throughputPerSecond} msgs/s vs DynamoDB Local PutItem ${emulator.putItem.perSecond}/s (${emulator.putItem.concurrency} at a time): ratio ${summary.ingestToPutItemRatio}`,
  );
  const whatIf = [1, 5, 10].flatMap((batchSize) =>
    [256, 512, 1024].map((delivererMemoryMb) => ({
      batchSize,
      delivererMemoryMb,
      usdPerMillion: round(costPerMillion(usage, { ...settings, batchSize, delivererMemoryMb }, prices, awsModel).totalUsdPerMillion, 4),
    })),
  );
  log('what-if (same measurements; batch size below the measured one splits batches, memory scales GB-s):');
  log(`  batch\\memory   256 MB     512 MB    1024 MB`);
  for (const batchSize of [1, 5, 10]) {
    const row = whatIf.filter((w) => w.batchSize === batchSize).map((w) => `$${w.usdPerMillion.toFixed(2)}`.padStart(9));
    log(`  ${String(batchSize).padStart(5)}       ${row.join('  ')}`);
  }

  // Physical limit of the delivery leg.
  log();
  log('raw HTTP baseline to the same target…');
  const raw = await rawHttpBaseline(target.url, { requests: Math.max(1000, messages), concurrency: flowCount, payloadBytes });
  const ratio = deliveredPerSecond / raw.requestsPerSecond;
  log(
    `raw HTTP: ${raw.requestsPerSecond.toFixed(0)} POST/s (${raw.requests} POSTs, ${raw.concurrency} in flight, p50 ${raw.latency.p50} ms); Sluice delivers at ${(ratio * 100).toFixed(2)} % of it`,
  );
  await target.stop();

  let cold: ColdStartResult | undefined;
  if (!flags['skip-cold-start']) {
    log();
    log('cold start: bundling the Lambda functions with esbuild…');
    cold = await coldStart({
      runs: Number(flags['cold-start-runs'] ?? 5),
      ...(flags['node-binary'] ? { node: String(flags['node-binary']) } : {}),
    });
    for (const f of cold.functions) {
      log(
        `  ${f.name.padEnd(10)} ${(f.bundleBytes / 1024).toFixed(0).padStart(6)} KiB minified; import median ${f.importMedianMs} ms wall, ${f.importCpuMedianMs} ms CPU (Node ${cold.nodeVersion}; its own start-up, ${cold.nodeBaselineMedianMs} ms, not included)`,
      );
    }
    summary.bundles = bundlesSummary(cold);
  }

  const totalSeconds = (performance.now() - runStarted) / 1000;
  const results = {
    generatedAt: new Date().toISOString(),
    command: benchCommand(process.argv.slice(2)),
    summary,
    machine: { ...machine, loadAverage1mAtEnd: machineInfo().loadAverage1m },
    emulator,
    parameters: {
      messages,
      flows: flowCount,
      payloadBytes,
      batchSize: settings.batchSize,
      pollerConcurrency,
      delivererMemoryMb: settings.delivererMemoryMb,
      ingestMemoryMb: settings.functionMemoryMb,
    },
    ingest,
    endToEnd: e2e,
    delivery: {
      delivered: invariants.delivered,
      failed: invariants.failed,
      lost: invariants.lost,
      pending: invariants.pending,
      orderViolations: invariants.orderViolations,
      duplicatesWithoutFlag: invariants.duplicatesWithoutFlag,
      repeatsWithoutFlag: invariants.repeatsWithoutFlag,
      flaggedDuplicates: invariants.flaggedDuplicates,
      settled: settled.settled,
      seconds: round(deliverySeconds, 2),
      deliveredPerSecond: round(deliveredPerSecond, 1),
      targetRequests: invariants.totalRequests,
    },
    batches: {
      invocations: pipeline.batches.invocations,
      records: pipeline.batches.records,
      recordsPerInvocation: round(pipeline.batches.records / Math.max(1, pipeline.batches.invocations), 2),
      durationMs: summarize(pipeline.batches.durationsMs),
      emptyReceives: pipeline.meter.emptyReceives,
    },
    rawHttp: raw,
    sluiceToRawRatio: round(ratio, 4),
    cost: {
      ...cost,
      usage,
      whatIf,
      dynamoIndexUnitsPerMessage: indexUnits,
      prices: { file: 'bench/prices-us-east-1.json', date: prices.date },
      awsModel: {
        file: 'bench/aws-latency-model.json',
        date: awsModel.date,
        callMs: awsModel.callMs,
        fullVcpuMemoryMb: awsModel.lambda.fullVcpuMemoryMb,
      },
    },
    dynamodbBillingErrors: pipeline.meter.billingErrors,
    cpuMeter: {
      method:
        'async_hooks slices of each handler scope, min(wall, process CPU) per slice, meter overhead per slice subtracted (bench/cpu-meter.ts)',
      overheadPerSliceMicros: round(pipeline.meter.cpuOverheadPerSwitchMs * 1000, 3),
      slicesPerIngestInvocation: round(functions.ingest.cpuSwitches / Math.max(1, functions.ingest.invocations)),
      slicesPerDelivererInvocation: round(functions.deliverer.cpuSwitches / Math.max(1, functions.deliverer.invocations)),
      unattributedMs: round(pipeline.meter.cpuUnattributedMs),
    },
    coldStart: cold,
    gatewayLog: Object.fromEntries(BenchLogger.counts),
    totalSeconds: round(totalSeconds, 1),
  };
  mkdirSync(outDir, { recursive: true });
  // The other ingest mode's cost, from the previous run in this directory, stays next to this one.
  Object.assign(results.summary, carriedCosts(`${outDir}/latest.json`, results.summary));
  writeFileSync(`${outDir}/latest.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(
    `${outDir}/latency.svg`,
    latencySvg({ ingest: load.requestLatencies, endToEnd, title: `Sluice local mode — ${messages} messages, ${flowCount} flows` }),
  );
  writeFileSync(`${outDir}/latest.md`, markdownReport(results));
  log();
  log(`results: ${outDir}/latest.json, ${outDir}/latest.md, ${outDir}/latency.svg (${totalSeconds.toFixed(0)} s in all)`);
  if (!invariants.ok || !settled.settled) {
    log('INVARIANTS BROKEN: see above');
    exitCode = 1;
  }
} catch (error) {
  console.error(error);
  exitCode = 1;
  await pipeline.stop().catch(() => undefined);
  await target.stop().catch(() => undefined);
}
process.exit(exitCode);
