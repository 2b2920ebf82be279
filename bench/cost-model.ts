/**
 * The bench's cost model: measured AWS usage of a run × a dated us-east-1 price table
 * → US dollars per million delivered messages. Nothing here is typed in per message:
 * every quantity comes from what the run counted (DynamoDB units by AWS's rules, calls,
 * KMS requests, log bytes, handler CPU and sequential round trips), and the deliverer's
 * batch size, the memory sizes and the API kind are inputs, so changing them changes the
 * result. What a local run cannot measure (AWS latency per call, CPU share per MB, Lambda's
 * own log lines) comes from the stated model in aws-latency-model.json.
 */
import { readFileSync } from 'node:fs';
import type { LatencyModel } from './round-trips';

export interface Prices {
  region: string;
  date: string;
  currency: string;
  notes: string[];
  apiGateway: { restRequestsPerMillion: number; httpRequestsPerMillion: number; checked: string; source: string };
  lambda: {
    requestsPerMillion: number;
    gbSecondArm64: number;
    gbSecondX86: number;
    billingGranularityMs: number;
    checked: string;
    source: string;
  };
  sqs: { fifoRequestsPerMillion: number; standardRequestsPerMillion: number; chunkBytes: number; checked: string; source: string };
  dynamodb: { onDemandWriteRequestUnitsPerMillion: number; onDemandReadRequestUnitsPerMillion: number; checked: string; source: string };
  s3: { putPerThousand: number; getPerThousand: number; checked: string; source: string };
  eventBridge: { putEventsPerMillion: number; checked: string; source: string };
  scheduler: { invocationsPerMillion: number; checked: string; source: string };
  kms: { requestsPer10k: number; checked: string; source: string };
  cloudWatchLogs: { ingestionPerGb: number; bytesPerGb: number; checked: string; source: string };
  xray: { tracesRecordedPerMillion: number; checked: string; source: string };
}

/** The bench's model of what local runs cannot measure (bench/aws-latency-model.json). */
export interface AwsModel extends LatencyModel {
  date: string;
  notes: string[];
  /** X-Ray's default sampling rule: the share of invocations traced beyond the reservoir. */
  xraySampling: { fixedRate: number; reservoirPerSecond: number; source: string };
  lambda: {
    /** Memory at which a function gets one full vCPU. */
    fullVcpuMemoryMb: number;
    fullVcpuSource: string;
    /** START, END and REPORT lines Lambda writes per invocation. */
    platformLogLines: string[];
    platformLogSource: string;
  };
}

export function loadAwsModel(url: URL = new URL('./aws-latency-model.json', import.meta.url)): AwsModel {
  return JSON.parse(readFileSync(url, 'utf8')) as AwsModel;
}

export function loadPrices(url: URL = new URL('./prices-us-east-1.json', import.meta.url)): Prices {
  return JSON.parse(readFileSync(url, 'utf8')) as Prices;
}

/** Who made an AWS call: the ingest Lambda, the deliverer Lambda, or the SQS event source mapping that feeds it. */
export type Component = 'ingest' | 'deliverer' | 'eventSource';

/** One AWS operation as counted during a run (SDK middleware on every client). */
export interface CallCount {
  component: Component;
  service: string;
  operation: string;
  /** API calls made (one per `send`, whatever the SDK retried underneath). */
  calls: number;
  /** SQS: billed requests, i.e. 64 KB chunks of the request payloads (≥ calls). */
  billedRequests?: number;
  /** DynamoDB: read request units (from ConsumedCapacity, indexes included). */
  readUnits?: number;
  /** DynamoDB: write request units (from ConsumedCapacity, indexes and the 2x of transactions included). */
  writeUnits?: number;
}

/** What the invocations of one Lambda function added up to. */
export interface LambdaUsage {
  invocations: number;
  /** Σ CPU time of the handler (bench/cpu-meter.ts) on one full core of the bench machine, ms. */
  cpuMs: number;
  /** Σ modelled waits on AWS: sequential round trips × the latency model (bench/round-trips.ts), ms. */
  awsWaitMs: number;
}

export interface MeasuredUsage {
  /** Messages delivered (each counted once). The denominator of every per-message figure. */
  delivered: number;
  /** Partner API requests that reached the ingest function (one Lambda invocation each). */
  apiRequests: number;
  ingest: LambdaUsage;
  /** Non-empty batches the event source handed to the deliverer = deliverer invocations. */
  delivererInvocations: number;
  /** Records in those batches (re-deliveries of held or retried tickets included). */
  delivererRecords: number;
  deliverer: LambdaUsage;
  /** The event source batch size the run used. */
  measuredBatchSize: number;
  /** Bytes the handlers' loggers wrote (metrics in EMF included), by component. */
  logBytes: Record<string, number>;
  calls: CallCount[];
}

export interface CostSettings {
  /** Event source mapping batch size (1-10). @default 10 (infra `deliveryBatchSize`) */
  batchSize: number;
  /** Deliverer memory, MiB. @default 512 (infra `delivererMemorySize`) */
  delivererMemoryMb: number;
  /** Ingest memory, MiB. @default 256 (infra `functionMemorySize`) */
  functionMemoryMb: number;
  /** @default 'arm64' (infra: lambda.Architecture.ARM_64) */
  architecture?: 'arm64' | 'x86_64';
  /** The partner API's kind. @default 'http' (infra: `DEFAULTS.partnerApi` in infra/props.ts) */
  apiType?: 'rest' | 'http';
}

/** Defaults of `SluiceGateway` (`DEFAULTS` in infra/props.ts); a unit test keeps them in step. */
export const INFRA_DEFAULTS: CostSettings = {
  batchSize: 10,
  delivererMemoryMb: 512,
  functionMemoryMb: 256,
  architecture: 'arm64',
  apiType: 'http',
};

export interface CostLine {
  component: Component | 'apiGateway';
  service: string;
  item: string;
  unit: string;
  /** Billed units per delivered message. */
  unitsPerMessage: number;
  usdPerMillionMessages: number;
}

export interface CostBreakdown {
  settings: CostSettings;
  priceDate: string;
  /** Messages per deliverer invocation the model used at `settings.batchSize`. */
  messagesPerInvocation: number;
  delivererInvocationsPerMessage: number;
  lines: CostLine[];
  byService: Record<string, number>;
  totalUsdPerMillion: number;
}

const READ_OPERATIONS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
/** Calls whose number follows the number of batches, not of messages. */
const PER_BATCH = (c: CallCount) =>
  c.component === 'eventSource' && (c.operation === 'ReceiveMessage' || c.operation === 'DeleteMessageBatch');

export function isDynamoRead(operation: string): boolean {
  return READ_OPERATIONS.has(operation);
}

/**
 * Deliverer invocations at `batchSize`, from what the run observed at `measuredBatchSize`.
 * At the measured size the count is the measured one. At another size each invocation holds
 * min(batchSize, observed records per invocation) records: a smaller batch splits the observed
 * batches; a larger one is not extrapolated (the observed fill is kept: run with that size).
 */
export function delivererInvocationsAt(usage: MeasuredUsage, batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
    throw new RangeError(`batch size must be an integer from 1 to 10 (FIFO queue limit), got ${batchSize}`);
  }
  if (usage.delivererInvocations === 0) return 0;
  if (batchSize === usage.measuredBatchSize) return usage.delivererInvocations;
  const observedFill = usage.delivererRecords / usage.delivererInvocations;
  return usage.delivererRecords / Math.min(batchSize, observedFill);
}

/**
 * Billed milliseconds of a function on AWS: its CPU time, stretched by the share of a vCPU
 * its memory buys (Lambda allocates CPU in proportion to memory, one vCPU at 1,769 MB),
 * plus its modelled waits on AWS. Rounding each invocation up to 1 ms is left out (≤ 1 ms each).
 */
export function lambdaBilledMs(usage: LambdaUsage, memoryMb: number, model: AwsModel): number {
  return usage.cpuMs * Math.max(1, model.lambda.fullVcpuMemoryMb / memoryMb) + usage.awsWaitMs;
}

/** Bytes Lambda itself writes to CloudWatch Logs per invocation (START, END, REPORT). */
export function platformLogBytes(model: AwsModel): number {
  return model.lambda.platformLogLines.reduce((n, line) => n + Buffer.byteLength(line) + 1, 0);
}

export function costPerMillion(
  usage: MeasuredUsage,
  settings: CostSettings,
  prices: Prices,
  model: AwsModel = loadAwsModel(),
): CostBreakdown {
  if (!(usage.delivered > 0)) throw new RangeError('no delivered messages: cost per message is undefined');
  for (const [name, mb] of [
    ['delivererMemoryMb', settings.delivererMemoryMb],
    ['functionMemoryMb', settings.functionMemoryMb],
  ] as const) {
    if (!Number.isInteger(mb) || mb < 128 || mb > 10_240)
      throw new RangeError(`${name} must be an integer from 128 to 10240 MiB, got ${mb}`);
  }
  const apiType = settings.apiType ?? INFRA_DEFAULTS.apiType!;
  const perMessage = (n: number) => n / usage.delivered;
  const invocations = delivererInvocationsAt(usage, settings.batchSize);
  const batchScale = usage.delivererInvocations > 0 ? invocations / usage.delivererInvocations : 1;
  const gbSecond = settings.architecture === 'x86_64' ? prices.lambda.gbSecondX86 : prices.lambda.gbSecondArm64;
  const lines: CostLine[] = [];
  const line = (component: CostLine['component'], service: string, item: string, unit: string, units: number, usdPerUnit: number) => {
    const unitsPerMessage = perMessage(units);
    lines.push({ component, service, item, unit, unitsPerMessage, usdPerMillionMessages: unitsPerMessage * usdPerUnit * 1e6 });
  };
  const gbSeconds = (ms: number, memoryMb: number) => (ms / 1000) * (memoryMb / 1024);

  if (apiType === 'http')
    line('apiGateway', 'API Gateway', 'HTTP API requests', 'request', usage.apiRequests, prices.apiGateway.httpRequestsPerMillion / 1e6);
  else line('apiGateway', 'API Gateway', 'REST API requests', 'request', usage.apiRequests, prices.apiGateway.restRequestsPerMillion / 1e6);
  line('ingest', 'Lambda', 'ingest requests', 'invocation', usage.apiRequests, prices.lambda.requestsPerMillion / 1e6);
  line(
    'ingest',
    'Lambda',
    `ingest duration @ ${settings.functionMemoryMb} MB`,
    'GB-s',
    gbSeconds(lambdaBilledMs(usage.ingest, settings.functionMemoryMb, model), settings.functionMemoryMb),
    gbSecond,
  );
  line(
    'deliverer',
    'Lambda',
    `deliverer requests @ batch ${settings.batchSize}`,
    'invocation',
    invocations,
    prices.lambda.requestsPerMillion / 1e6,
  );
  // Duration per message is taken as measured: a different batch size regroups the same work.
  line(
    'deliverer',
    'Lambda',
    `deliverer duration @ ${settings.delivererMemoryMb} MB`,
    'GB-s',
    gbSeconds(lambdaBilledMs(usage.deliverer, settings.delivererMemoryMb, model), settings.delivererMemoryMb),
    gbSecond,
  );

  const sorted = [...usage.calls].sort((a, b) =>
    `${a.service}.${a.operation}.${a.component}`.localeCompare(`${b.service}.${b.operation}.${b.component}`),
  );
  for (const call of sorted) {
    const scale = PER_BATCH(call) ? batchScale : 1;
    const name = `${call.operation}`;
    switch (call.service) {
      case 'SQS':
        line(
          call.component,
          'SQS',
          name,
          'request (64 KB chunk)',
          (call.billedRequests ?? call.calls) * scale,
          prices.sqs.fifoRequestsPerMillion / 1e6,
        );
        break;
      case 'DynamoDB':
        if (call.writeUnits)
          line(
            call.component,
            'DynamoDB',
            `${name} (write units)`,
            'WRU',
            call.writeUnits,
            prices.dynamodb.onDemandWriteRequestUnitsPerMillion / 1e6,
          );
        if (call.readUnits || !call.writeUnits)
          line(
            call.component,
            'DynamoDB',
            `${name} (read units)`,
            'RRU',
            call.readUnits ?? 0,
            prices.dynamodb.onDemandReadRequestUnitsPerMillion / 1e6,
          );
        break;
      case 'S3': {
        const get = call.operation === 'GetObject' || call.operation === 'HeadObject';
        line(call.component, 'S3', name, 'request', call.calls, (get ? prices.s3.getPerThousand : prices.s3.putPerThousand) / 1000);
        break;
      }
      case 'EventBridge':
        line(call.component, 'EventBridge', name, 'event', call.calls, prices.eventBridge.putEventsPerMillion / 1e6);
        break;
      case 'KMS':
        line(call.component, 'KMS', name, 'request', call.calls, prices.kms.requestsPer10k / 1e4);
        break;
      case 'Scheduler':
        // Scheduler API calls are free; its invocations (of the prober) are not per message.
        line(call.component, 'Scheduler', name, 'request', call.calls, 0);
        break;
      default:
        line(call.component, call.service, name, 'request', call.calls, 0);
    }
  }

  const perByte = prices.cloudWatchLogs.ingestionPerGb / prices.cloudWatchLogs.bytesPerGb;
  const platform = platformLogBytes(model);
  line('ingest', 'CloudWatch Logs', 'ingest log lines (incl. EMF metrics)', 'byte', usage.logBytes.ingest ?? 0, perByte);
  line('ingest', 'CloudWatch Logs', 'ingest START/END/REPORT lines', 'byte', usage.apiRequests * platform, perByte);
  line('deliverer', 'CloudWatch Logs', 'deliverer log lines (incl. EMF metrics)', 'byte', usage.logBytes.deliverer ?? 0, perByte);
  line('deliverer', 'CloudWatch Logs', 'deliverer START/END/REPORT lines', 'byte', invocations * platform, perByte);

  // Active tracing: every sampled invocation is one trace recorded.
  const traced = model.xraySampling.fixedRate;
  const perTrace = prices.xray.tracesRecordedPerMillion / 1e6;
  line('ingest', 'X-Ray', 'ingest traces recorded (sampled)', 'trace', usage.apiRequests * traced, perTrace);
  line('deliverer', 'X-Ray', 'deliverer traces recorded (sampled)', 'trace', invocations * traced, perTrace);

  const byService: Record<string, number> = {};
  for (const l of lines) byService[l.service] = (byService[l.service] ?? 0) + l.usdPerMillionMessages;
  const totalUsdPerMillion = lines.reduce((sum, l) => sum + l.usdPerMillionMessages, 0);
  return {
    settings: { architecture: 'arm64', apiType, ...settings },
    priceDate: prices.date,
    messagesPerInvocation: invocations > 0 ? usage.delivererRecords / invocations : 0,
    delivererInvocationsPerMessage: perMessage(invocations),
    lines,
    byService,
    totalUsdPerMillion,
  };
}

/** Text table of a breakdown, for the console. */
export function formatCostTable(cost: CostBreakdown): string {
  const rows = cost.lines
    .filter((l) => l.unitsPerMessage > 0)
    .map((l) => [l.service, l.component, l.item, l.unitsPerMessage.toFixed(4), l.unit, `$${l.usdPerMillionMessages.toFixed(4)}`]);
  const header = ['service', 'by', 'item', 'per msg', 'unit', 'USD / 1M msgs'];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i >= 3 && i !== 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  const services = Object.entries(cost.byService)
    .sort((a, b) => b[1] - a[1])
    .map(([s, v]) => `${s} $${v.toFixed(4)}`)
    .join(', ');
  return [
    fmt(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(fmt),
    `total: $${cost.totalUsdPerMillion.toFixed(2)} per million delivered messages (${services})`,
    `settings: ${cost.settings.apiType === 'http' ? 'HTTP' : 'REST'} API, batch size ${cost.settings.batchSize} (${cost.messagesPerInvocation.toFixed(2)} msgs per deliverer invocation), deliverer ${cost.settings.delivererMemoryMb} MB, ingest ${cost.settings.functionMemoryMb} MB, ${cost.settings.architecture}; prices of ${cost.priceDate}`,
  ].join('\n');
}
