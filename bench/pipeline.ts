import { parseArgs } from 'node:util';
import http from 'node:http';
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import type { SdkClients } from '../local/sdk-clients';
import { keys } from '../adapters/aws/keys';
import { deliveriesOf } from '../adapters/aws/message-store';
import type { RuntimeOverrides } from '../adapters/runtime';
import type { OperationalEvent } from '../core/ports';
import { createDelivererHandler } from '../functions/deliverer/handler';
import { startLocalGateway, type LocalGateway, type LocalGatewayOptions } from '../local/gateway';
import type { Runtime } from '../adapters/runtime';
import { COUNTS_STREAM } from '../adapters/aws/definitions';
import { startLocalApiServer, type LocalApiServer } from '../local/server';
import { createIngestHandler } from '../functions/ingest/handler';
import { KmsCredentialSealer } from '../adapters/aws/credential-sealer';
import { loadAwsModel } from './cost-model';
import { createLocalKmsClient } from './local-kms';
import { LocalEventSourcePoller } from '../local/poller';
import type { DelivererOptions } from '../services/deliverer';
import { lanesOf } from '../services/lane-batch';
import { deliveryKey, type AcceptedMessage, type ObservedRequest, type StoreStatuses } from './invariants';
import { UsageMeter } from './meter';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Log levels of Powertools (LogLevelThreshold). */
const WARN = 16;

/**
 * The runtime's logger for bench runs: counts warnings and errors by message, counts the bytes
 * every line would add to CloudWatch Logs, and only prints when asked (thousands of JSON lines
 * would drown the report). Lines are built and serialized as on AWS, so their CPU is measured.
 */
export class BenchLogger extends Logger {
  static counts = new Map<string, number>();
  static print = false;
  /** Receives the size of each line (with its newline) the logger emits. */
  static onLine: ((bytes: number) => void) | undefined;

  override createChild(): Logger {
    return this;
  }

  protected override processLogItem(level: number, input: Parameters<Logger['info']>[0], extra: Parameters<Logger['info']>[1][]): void {
    if (level >= WARN) {
      const text = typeof input === 'string' ? input : String((input as { message?: unknown }).message ?? 'log item');
      BenchLogger.counts.set(text, (BenchLogger.counts.get(text) ?? 0) + 1);
    }
    super.processLogItem(level, input, extra as never);
  }

  protected override printLog(_level: number, log: LogItem): void {
    log.prepareForPrint();
    const line = JSON.stringify(log.getAttributes(), this.getJsonReplacer());
    BenchLogger.onLine?.(Buffer.byteLength(line) + 1);
    if (BenchLogger.print) process.stdout.write(`${line}\n`);
  }
}

export interface ConnectionSpec {
  connectionId: string;
  flowId: string;
  url: string;
  retry?: { count: number; intervalSeconds: number };
  timeoutMs?: number;
  offlineAfter?: number;
  backoutThreshold?: number;
}

export interface PipelineOptions {
  /** Event source batch size (1-10). @default 10 */
  batchSize?: number;
  /** Concurrent poller loops. @default 4 */
  pollerConcurrency?: number;
  deliverer?: DelivererOptions;
  /**
   * Bill AWS usage: DynamoDB units by AWS's rules, KMS through a counted stand-in, log bytes
   * (middleware on every client; it costs some CPU). Calls are counted either way. @default true
   */
  billing?: boolean;
  /** Extra runtime overrides (the recorder and event publisher are the meter's). */
  overrides?: RuntimeOverrides;
  probeIntervalSeconds?: number;
  /** Called for poller errors (receive/delete failures, a throwing handler). */
  onPollerError?: (error: unknown) => void;
  /**
   * Where the gateway keeps its state (`restartGateway` needs one): a directory, or `memory`.
   * @default 'memory'
   */
  dataDir?: string;
}

export interface BatchStats {
  invocations: number;
  records: number;
  durationsMs: number[];
  /** Batches holding several messages of one lane (message group), as AWS hands them out (local/fifo-batches.ts). */
  severalOfOneLane: number;
  /** Most messages of one lane in one batch. */
  mostOfOneLane: number;
}

/** The local gateway as the bench drives it: our own event source poller (batch size, batch counting) and meter. */
export class Pipeline {
  readonly meter: UsageMeter;
  /** Operational events the gateway published (each one a PutEvents on AWS). */
  readonly events: OperationalEvent[];
  readonly batches: BatchStats = { invocations: 0, records: 0, durationsMs: [], severalOfOneLane: 0, mostOfOneLane: 0 };
  pollerRestarts = 0;
  gatewayRestarts = 0;
  private poller: LocalEventSourcePoller | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private apiKey = '';
  /** Set while the gateway restarts: the partner API answers 503 and pollers wait. */
  private restarting: Promise<void> | undefined;

  private constructor(
    private current: LocalGateway,
    meter: UsageMeter,
    events: OperationalEvent[],
    private readonly options: PipelineOptions,
    private readonly partnerApi: LocalApiServer,
    private readonly gatewayOptions: LocalGatewayOptions,
    private ingest: ReturnType<typeof createIngestHandler>,
  ) {
    this.meter = meter;
    this.events = events;
  }

  get gateway(): LocalGateway {
    return this.current;
  }

  /**
   * The gateway's own SDK clients, for the bench's own reads: the meter and the soak's faults
   * sit on the handlers' clients, so these DynamoDB clients carry neither.
   */
  get observer(): SdkClients {
    return this.current.sdk;
  }

  /**
   * Starts the local gateway with the meter on every AWS client, a KMS stand-in behind the real
   * KMS sealer (so KMS requests are counted as on AWS), and the partner API on a server of the
   * bench's own that runs each request as one metered ingest invocation.
   */
  static async start(options: PipelineOptions = {}): Promise<Pipeline> {
    const meter = new UsageMeter(loadAwsModel());
    const publisher = meter.countingPublisher(options.overrides?.events);
    const billing = options.billing ?? true;
    const kms = createLocalKmsClient();
    meter.instrumentExtra(kms, 'KMS');
    BenchLogger.onLine = billing ? (bytes) => meter.addLogBytes(bytes) : undefined;
    const gatewayOptions: LocalGatewayOptions = {
      port: 0,
      deliver: false,
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      // The aggregator's writes per message depend on its batching window: use the stack's.
      aggregatorWindowMs: COUNTS_STREAM.batchingWindowSeconds * 1000,
      ...(options.probeIntervalSeconds ? { probeIntervalSeconds: options.probeIntervalSeconds } : {}),
      overrides: {
        logger: new BenchLogger({ serviceName: 'sluice-bench' }),
        ...(billing ? { sealer: new KmsCredentialSealer(kms, 'alias/sluice-bench') } : {}),
        ...options.overrides,
        recorder: meter.recorder,
        events: publisher,
      },
    };
    const gateway = await startLocalGateway(gatewayOptions);
    if (billing) {
      // The emulator keeps its table in memory and was started just now: the meter sees every write.
      meter.instrument(gateway.runtime.clients, gateway.sdk.dynamodb, { unseenItemsAreAbsent: true, eventSource: gateway.sdk.sqs });
      countMetricBytes(gateway.runtime.metrics, meter);
    }
    let pipeline: Pipeline | undefined;
    const partnerApi = await startLocalApiServer({
      port: 0,
      partnerHandler: (event, context) => {
        // The gateway is down for a restart: the partner gets a 503 and posts again.
        if (!pipeline || pipeline.restarting) {
          return Promise.resolve({
            statusCode: 503,
            headers: { 'content-type': 'application/problem+json' },
            body: '{"status":503,"code":"internal"}',
          });
        }
        const ingest = pipeline.ingest;
        return meter.invoke('ingest', () => ingest(event, context));
      },
      operatorHandler: async () => ({ statusCode: 404, headers: { 'content-type': 'application/problem+json' }, body: '{"status":404}' }),
      isPartnerRequest: () => true,
    });
    pipeline = new Pipeline(gateway, meter, publisher.events, options, partnerApi, gatewayOptions, createIngestHandler(gateway.runtime));
    return pipeline;
  }

  /**
   * Stops the gateway (poller first, letting its batches finish, as Ctrl-C on `npm start`
   * does) and starts it again on the same data directory: the emulator's queue is new and
   * empty, so what was queued comes back from the recorded state. `onRuntime` sees the new
   * runtime before anything runs on it (fault injection). Partner posts meanwhile get 503.
   * The meter's billing middleware is not installed again: restart only unbilled runs.
   */
  async restartGateway(onRuntime?: (runtime: Runtime) => void): Promise<void> {
    if (!this.gatewayOptions.dataDir) throw new Error('restartGateway needs a data directory (PipelineOptions.dataDir)');
    let done!: () => void;
    this.restarting = new Promise<void>((resolve) => (done = resolve));
    try {
      const polling = this.poller?.isRunning ?? false;
      await this.stopPoller();
      await this.current.stop();
      this.current = await startLocalGateway(this.gatewayOptions);
      onRuntime?.(this.current.runtime);
      this.ingest = createIngestHandler(this.current.runtime);
      this.gatewayRestarts += 1;
      this.restarting = undefined;
      if (polling) this.startPoller();
    } finally {
      this.restarting = undefined;
      done();
    }
  }

  get runtime() {
    return this.gateway.runtime;
  }

  get batchSize(): number {
    return this.options.batchSize ?? 10;
  }

  /** Starts a fresh poller (a new "deliverer container") with a fresh handler. */
  startPoller(): void {
    if (this.poller?.isRunning || this.restarting) return;
    const deliver = createDelivererHandler(this.runtime, this.options.deliverer);
    const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
      const started = performance.now();
      try {
        return await this.meter.invoke('deliverer', () => deliver(event));
      } finally {
        const ms = performance.now() - started;
        this.batches.invocations += 1;
        this.batches.records += event.Records.length;
        const ofOneLane = Math.max(...lanesOf(event.Records).map((lane) => lane.length));
        if (ofOneLane > 1) this.batches.severalOfOneLane += 1;
        this.batches.mostOfOneLane = Math.max(this.batches.mostOfOneLane, ofOneLane);
        this.batches.durationsMs.push(ms);
      }
    };
    this.poller = new LocalEventSourcePoller({
      sqs: this.gateway.sdk.sqs,
      queueUrl: this.gateway.resources.queueUrl,
      handler,
      batchSize: this.batchSize,
      concurrency: this.options.pollerConcurrency ?? 4,
      waitTimeSeconds: 1,
      onError: this.options.onPollerError ?? ((error) => console.error('poller:', (error as Error)?.message ?? error)),
    });
    this.poller.start();
  }

  /** Stops the poller; batches in flight finish first (LocalEventSourcePoller.stop). */
  async stopPoller(): Promise<void> {
    const poller = this.poller;
    this.poller = undefined;
    await poller?.stop();
  }

  /** Kills the poller in the middle of whatever it is doing and starts a new one at once. */
  async restartPoller(): Promise<void> {
    await this.restarting;
    const old = this.poller;
    this.poller = undefined;
    this.pollerRestarts += 1;
    const stopped = old?.stop();
    this.startPoller();
    await stopped;
  }

  async operator(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${this.gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.gateway.operatorToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /** One partner, and per spec a connection and a flow that delivers to it. */
  async setup(specs: ConnectionSpec[]): Promise<void> {
    const partner = await this.operator('POST', '/v1/partners', { partnerId: 'bench', name: 'Bench partner' });
    if (partner.status !== 201) throw new Error(`partner: ${partner.status} ${JSON.stringify(partner.body)}`);
    this.apiKey = partner.body.apiKey;
    for (const spec of specs) {
      const connection = await this.operator('PUT', `/v1/connections/${spec.connectionId}`, {
        url: spec.url,
        threads: 1,
        timeoutMs: spec.timeoutMs ?? 10_000,
        retry: spec.retry ?? { count: 5, intervalSeconds: 1 },
        offlineAfter: spec.offlineAfter ?? 3,
      });
      if (connection.status !== 200) throw new Error(`connection: ${connection.status} ${JSON.stringify(connection.body)}`);
      const flow = await this.operator('PUT', `/v1/flows/${spec.flowId}`, {
        partnerId: 'bench',
        destinations: [spec.connectionId],
        backoutThreshold: spec.backoutThreshold ?? 5,
      });
      if (flow.status !== 200) throw new Error(`flow: ${flow.status} ${JSON.stringify(flow.body)}`);
    }
  }

  /** Posts one message as the partner. Never throws: a network error is status 0. */
  /** Posts `{ messages }` to the flow's batch endpoint (utf8 payloads). */
  postBatch(flowId: string, messages: { id: string; payload: string }[], timeoutMs = 30_000): Promise<{ status: number; body: string }> {
    return this.send(
      `/v1/flows/${flowId}/batches`,
      Buffer.from(JSON.stringify({ messages })),
      { 'content-type': 'application/json' },
      timeoutMs,
    );
  }

  post(flowId: string, messageId: string, payload: Buffer, timeoutMs = 30_000): Promise<{ status: number; body: string }> {
    return this.send(
      `/v1/flows/${flowId}/messages`,
      payload,
      { 'content-type': 'application/octet-stream', 'x-aux-system-msg-id': messageId },
      timeoutMs,
    );
  }

  private send(
    path: string,
    payload: Buffer,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number; body: string }> {
    const url = new URL(`${this.partnerApi.url}${path}`);
    return new Promise((resolve) => {
      const request = http.request(
        url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.apiKey}`,
            'content-length': String(payload.length),
            ...headers,
          },
          timeout: timeoutMs,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          response.on('error', () => resolve({ status: 0, body: 'response error' }));
        },
      );
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', (error) => resolve({ status: 0, body: error.message }));
      request.end(payload);
    });
  }

  /** Delivery status in the store, read without the meter or fault injection. */
  async deliveryStatuses(deliveries: { flowId: string; messageId: string; connectionId: string }[]): Promise<StoreStatuses> {
    const statuses: StoreStatuses = new Map();
    const table = this.runtime.config.tableName;
    for (let i = 0; i < deliveries.length; i += 100) {
      let request: Record<string, any> | undefined = {
        [table]: {
          Keys: [
            ...new Map(
              deliveries.slice(i, i + 100).map((d) => [`${d.flowId}#${d.messageId}`, keys.message(d.flowId, d.messageId)]),
            ).values(),
          ],
          ConsistentRead: true,
        },
      };
      while (request && Object.keys(request).length > 0) {
        const result: any = await this.observer.documents.send(new BatchGetCommand({ RequestItems: request }));
        for (const item of result.Responses?.[table] ?? []) {
          for (const d of deliveriesOf(item)) statuses.set(deliveryKey(d.connectionId, d.messageId), d.status);
        }
        request = result.UnprocessedKeys;
      }
    }
    return statuses;
  }

  /**
   * Waits until every accepted message is delivered (a 2xx at its target) or settled in the
   * store (failed), or the deadline passes. Returns the store statuses of the undelivered ones.
   */
  async waitSettled(
    accepted: readonly AcceptedMessage[],
    requests: () => readonly ObservedRequest[],
    deadline: number,
    onProgress?: (delivered: number, total: number) => void,
  ): Promise<{ settled: boolean; statuses: StoreStatuses; settledAt: number }> {
    const delivered = new Set<string>();
    let seen = 0;
    let lastStoreCheck = 0;
    let statuses: StoreStatuses = new Map();
    for (;;) {
      const list = requests();
      for (; seen < list.length; seen++) {
        const r = list[seen]!;
        if (r.status !== undefined && r.status >= 200 && r.status < 300) delivered.add(deliveryKey(r.connectionId, r.messageId));
      }
      // Answers are recorded when sent: re-scan the recent tail for answers that came in since.
      for (let i = Math.max(0, list.length - 2000); i < list.length; i++) {
        const r = list[i]!;
        if (r.status !== undefined && r.status >= 200 && r.status < 300) delivered.add(deliveryKey(r.connectionId, r.messageId));
      }
      const missing = accepted.filter((m) => !delivered.has(deliveryKey(m.connectionId, m.messageId)));
      onProgress?.(accepted.length - missing.length, accepted.length);
      if (missing.length === 0) return { settled: true, statuses, settledAt: performance.now() };
      const now = Date.now();
      if (missing.length <= 1000 || now - lastStoreCheck > 5000) {
        lastStoreCheck = now;
        statuses = await this.deliveryStatuses(missing);
        const open = missing.filter((m) => {
          const status = statuses.get(deliveryKey(m.connectionId, m.messageId));
          return status !== 'failed' && status !== 'inError' && status !== 'discarded';
        });
        if (open.length === 0) return { settled: true, statuses, settledAt: performance.now() };
      }
      if (now > deadline) return { settled: false, statuses, settledAt: performance.now() };
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async stop(): Promise<void> {
    await this.stopPoller();
    this.agent.destroy();
    await this.partnerApi.close();
    await this.gateway.stop();
  }
}

/**
 * Local mode disables CloudWatch metrics; on AWS each flush prints one EMF document to the
 * function's log. Counts the bytes of what would have been printed.
 */
function countMetricBytes(metrics: Metrics, meter: UsageMeter): void {
  const publish = metrics.publishStoredMetrics.bind(metrics);
  metrics.publishStoredMetrics = () => {
    if (metrics.hasStoredMetrics()) meter.addLogBytes(Buffer.byteLength(JSON.stringify(metrics.serializeMetrics())) + 1);
    return publish();
  };
}

/** Nearest-rank percentile of an unsorted list (0 for an empty one). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(values: readonly number[]) {
  return {
    count: values.length,
    p50: round(percentile(values, 50)),
    p95: round(percentile(values, 95)),
    p99: round(percentile(values, 99)),
    max: round(values.reduce((m, v) => Math.max(m, v), 0)),
    mean: round(values.length ? values.reduce((s, v) => s + v, 0) / values.length : 0),
  };
}

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Reads a command's flags with Node's own `util.parseArgs` (strict: unknown flags are
 * errors), checks the numeric ones, and handles `--help` and usage errors (exit 2).
 */
export function commandLineFlags(
  known: Record<string, 'number' | 'boolean' | 'string'>,
  usage: string,
  argv: string[] = process.argv.slice(2),
): Record<string, number | boolean | string> {
  const options = Object.fromEntries(
    Object.entries({ ...known, help: 'boolean' as const }).map(([name, kind]) => [
      name,
      { type: kind === 'boolean' ? 'boolean' : 'string' } as const,
    ]),
  );
  try {
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    if (values.help) {
      console.log(usage);
      process.exit(0);
    }
    const flags: Record<string, number | boolean | string> = {};
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined || name === 'help') continue;
      if (known[name] === 'number') {
        const n = Number(value);
        if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${String(value)}`);
        flags[name] = n;
      } else flags[name] = value as string | boolean;
    }
    return flags;
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}
