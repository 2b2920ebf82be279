/**
 * The headline figures of a bench run (`summary` in bench/results/latest.json): what later
 * runs, the README and the issue targets compare.
 */
import { lambdaBilledMs, type AwsModel, type CostBreakdown, type MeasuredUsage } from './cost-model';
import type { FunctionUsage } from './meter';
import { percentile, round } from './pipeline';

/**
 * How partners posted: one message per request (today's only mode), or `size` messages per
 * request once batch ingest exists. The cost of each mode is reported under its own key
 * (`usdPerMillion`, `usdPerMillionBatch10`…) so that one results file can carry both.
 */
export type IngestMode = { kind: 'single' } | { kind: 'batch'; size: number };

export function costKey(mode: IngestMode): string {
  return mode.kind === 'single' ? 'usdPerMillion' : `usdPerMillionBatch${mode.size}`;
}

export interface SummaryInput {
  mode: IngestMode;
  usage: MeasuredUsage;
  cost: CostBreakdown;
  functions: Record<'ingest' | 'deliverer', FunctionUsage>;
  ingestThroughputPerSecond: number;
  /** DynamoDB Local's own PutItem rate (1 KiB items, same concurrency, same run). */
  dynamodbLocalPutItemPerSecond: number;
  /** Partner request latency as the load generator saw it here (emulators on the same machine), ms. */
  ingestLocalLatencyMs: { p50: number; p99: number };
  /** The ingest function's memory and the AWS model, for its modelled latency. */
  ingestMemoryMb: number;
  awsModel: AwsModel;
}

/**
 * The ingest handler's latency on AWS, per invocation: its CPU time stretched by the share
 * of a vCPU its memory buys, plus its sequential AWS round trips at the model's latency
 * per call (what `lambdaBilledMs` bills). API Gateway's own overhead is not in it.
 */
export function modelledHandlerLatency(
  invocations: readonly { cpuMs: number; awsWaitMs: number }[],
  memoryMb: number,
  model: AwsModel,
): { p50: number; p99: number } {
  const latencies = invocations.map((i) => lambdaBilledMs({ invocations: 1, ...i }, memoryMb, model));
  return { p50: round(percentile(latencies, 50), 1), p99: round(percentile(latencies, 99), 1) };
}

export function benchSummary(input: SummaryInput): Record<string, unknown> {
  const { usage, cost, functions } = input;
  const perMessage = (n: number) => round(n / usage.delivered, 3);
  const dynamo = usage.calls.filter((c) => c.service === 'DynamoDB');
  const units = (component?: string) => {
    const calls = component ? dynamo.filter((c) => c.component === component) : dynamo;
    return {
      write: perMessage(calls.reduce((s, c) => s + (c.writeUnits ?? 0), 0)),
      read: perMessage(calls.reduce((s, c) => s + (c.readUnits ?? 0), 0)),
    };
  };
  const total = units();
  const ingestWaves = functions.ingest.sequentialCalls;
  const delivererWaves = functions.deliverer.sequentialCalls;
  const kms = usage.calls.filter((c) => c.service === 'KMS').reduce((s, c) => s + c.calls, 0);
  const logBytes = Object.values(usage.logBytes).reduce((s, b) => s + b, 0);
  const byService = Object.fromEntries(
    Object.entries(cost.byService)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, round(v, 4)]),
  );
  return {
    ingestMode: input.mode.kind === 'single' ? 'single' : `batch${input.mode.size}`,
    delivered: usage.delivered,
    dynamodbWriteUnitsPerMessage: total.write,
    dynamodbReadUnitsPerMessage: total.read,
    dynamodbUnitsPerMessageByFunction: { ingest: units('ingest'), deliverer: units('deliverer') },
    ingestSequentialAwsCalls: percentile(ingestWaves, 50),
    ingestSequentialAwsCallsMax: ingestWaves.reduce((m, v) => Math.max(m, v), 0),
    ingestAwsCallsPerRequest: round(functions.ingest.awsCalls / Math.max(1, functions.ingest.invocations), 2),
    delivererAwsCallsPerMessage: perMessage(functions.deliverer.awsCalls),
    delivererSequentialAwsCallsPerBatch: { p50: percentile(delivererWaves, 50), max: delivererWaves.reduce((m, v) => Math.max(m, v), 0) },
    kmsRequestsPerMessage: perMessage(kms),
    logBytesPerMessage: round(logBytes / usage.delivered, 1),
    lambdaCpuMsPerMessage: { ingest: perMessage(functions.ingest.cpuMs), deliverer: perMessage(functions.deliverer.cpuMs) },
    lambdaGbSecondsPerMessage: round(
      cost.lines.filter((l) => l.unit === 'GB-s').reduce((s, l) => s + l.unitsPerMessage, 0),
      5,
    ),
    [costKey(input.mode)]: round(cost.totalUsdPerMillion, 2),
    usdPerMillionByService: byService,
    ingestThroughputPerSecond: input.ingestThroughputPerSecond,
    dynamodbLocalPutItemPerSecond: input.dynamodbLocalPutItemPerSecond,
    ingestToPutItemRatio: round(input.ingestThroughputPerSecond / input.dynamodbLocalPutItemPerSecond, 3),
    ingestHandlerLatencyMs: {
      modelledOnAws: {
        ...modelledHandlerLatency(functions.ingest.perInvocation, input.ingestMemoryMb, input.awsModel),
        memoryMb: input.ingestMemoryMb,
      },
      local: input.ingestLocalLatencyMs,
    },
  };
}
