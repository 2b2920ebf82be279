import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AwsCallRecorder, AwsClients } from '../adapters/aws/clients';
import type { EventPublisher, OperationalEvent } from '../core/ports';
import type { CallCount, Component } from './cost-model';
import { CpuMeter } from './cpu-meter';
import { DynamoDbMeter, type RequestUnits } from './dynamodb-meter';
import { modelledWaitMs, sequentialWaves, type CallSpan, type LatencyModel } from './round-trips';

type Middleware = (next: (args: any) => Promise<any>, context: { commandName?: string }) => (args: any) => Promise<any>;
type Stack = { add: (middleware: Middleware, options: { step: string; name: string; priority?: string }) => void };
type AnyClient = { middlewareStack: unknown };

const operationOf = (context: { commandName?: string }) => (context.commandName ?? 'Unknown').replace(/Command$/, '');
const EVENT_SOURCE_OPERATIONS = new Set(['ReceiveMessage', 'DeleteMessageBatch', 'GetQueueAttributes']);

/** One handler invocation while it runs: what it costs is collected here. */
export interface Invocation {
  component: Component;
  cpuMs: number;
  switches?: number;
  spans: CallSpan[];
}

/** What the invocations of one function added up to. */
export interface FunctionUsage {
  invocations: number;
  /** Σ CPU time of the handler's scope (cpu-meter.ts), the meter's own overhead taken out, ms. */
  cpuMs: number;
  /** Σ event-loop slices the handler ran in (each paid the meter's overhead, taken out above). */
  cpuSwitches: number;
  /** Σ modelled waits on AWS (round-trips.ts), ms. */
  awsWaitMs: number;
  /** AWS calls made (a batched call is one). */
  awsCalls: number;
  /** Sequential AWS round trips of each invocation, in order. */
  sequentialCalls: number[];
  /** Each invocation's own CPU time and modelled AWS waits, in order: its latency on AWS. */
  perInvocation: { cpuMs: number; awsWaitMs: number }[];
}

const emptyUsage = (): FunctionUsage => ({
  invocations: 0,
  cpuMs: 0,
  cpuSwitches: 0,
  awsWaitMs: 0,
  awsCalls: 0,
  sequentialCalls: [],
  perInvocation: [],
});

/**
 * Counts what a run would cost on AWS, from what the gateway does, by component:
 * - every AWS call by service and operation (the runtime's `recorder` hook);
 * - DynamoDB request units by AWS's rules (dynamodb-meter.ts), never the emulator's figures;
 * - SQS 64 KB chunks, and empty receives (idle polling, not a per-message cost);
 * - per handler invocation: CPU time (cpu-meter.ts) and AWS round trips (calls overlapping in
 *   time count once), turned into a modelled wait with a stated latency per call;
 * - bytes the handlers' loggers write (CloudWatch Logs ingestion).
 *
 * Attribution: code running inside `invoke('ingest' | 'deliverer', …)` is that function's
 * (an AsyncLocalStorage scope); receives and deletes of the queue outside it are the event
 * source mapping's; anything else is the ingest function's.
 */
export class UsageMeter {
  private readonly scope = new AsyncLocalStorage<Invocation>();
  private readonly entries = new Map<string, CallCount>();
  private readonly cpu = new CpuMeter(() => this.scope.getStore());
  private dynamo: DynamoDbMeter | undefined;
  emptyReceives = 0;
  /** DynamoDB requests the meter failed to bill (the run's units are then too low: the bench reports it). */
  billingErrors = 0;
  lastBillingError: string | undefined;
  /** DynamoDB write units spent on global secondary indexes (part of the totals), by "component operation". */
  readonly indexUnits = new Map<string, number>();
  readonly functions: Record<'ingest' | 'deliverer', FunctionUsage> = { ingest: emptyUsage(), deliverer: emptyUsage() };
  /** Bytes the handlers' loggers wrote (each line with its newline), by component. */
  readonly logBytes: Record<string, number> = {};
  enabled = false;

  constructor(private readonly latency: LatencyModel) {}

  readonly recorder: AwsCallRecorder = (service, operation) => {
    if (!this.enabled) return;
    this.entry(this.componentOf(service, operation), service, operation).calls += 1;
  };

  /** Starts counting (and CPU metering, whose hook costs time: only while measuring). */
  async start(): Promise<void> {
    this.cpu.start();
    await this.cpu.calibrate();
    this.enabled = true;
  }

  /** The CPU meter's own cost per slice (subtracted from every invocation), ms. */
  get cpuOverheadPerSwitchMs(): number {
    return this.cpu.overheadPerSwitchMs;
  }

  stop(): void {
    this.enabled = false;
    this.cpu.stop();
  }

  /** Runs one handler invocation of `component`, measuring what it costs. */
  async invoke<T>(component: 'ingest' | 'deliverer', fn: () => Promise<T>): Promise<T> {
    if (!this.enabled) return this.scope.run({ component, cpuMs: 0, spans: [] }, fn);
    const invocation: Invocation = { component, cpuMs: 0, spans: [] };
    try {
      return await this.cpu.runSync(invocation, () => this.scope.run(invocation, fn));
    } finally {
      const waves = sequentialWaves(invocation.spans);
      const usage = this.functions[component];
      const cpuMs = this.cpu.netCpuMs(invocation);
      const awsWaitMs = modelledWaitMs(waves, this.latency);
      usage.invocations += 1;
      usage.cpuMs += cpuMs;
      usage.cpuSwitches += invocation.switches ?? 0;
      usage.awsWaitMs += awsWaitMs;
      usage.perInvocation.push({ cpuMs, awsWaitMs });
      usage.awsCalls += invocation.spans.length;
      usage.sequentialCalls.push(waves.length);
    }
  }

  /** Runs bench bookkeeping outside every handler's scope and CPU account. */
  detached<T>(fn: () => T): T {
    return this.scope.exit(() => this.cpu.exclude(fn));
  }

  /** Counts a log line the handlers wrote (or would write on AWS). */
  addLogBytes(bytes: number): void {
    if (!this.enabled) return;
    const component = this.scope.getStore()?.component ?? 'other';
    this.logBytes[component] = (this.logBytes[component] ?? 0) + bytes;
  }

  /** CPU the process spent outside every handler while metering (emulator, poller, load generator), ms. */
  get cpuUnattributedMs(): number {
    return this.cpu.unattributedMs;
  }

  reset(): void {
    this.entries.clear();
    this.emptyReceives = 0;
    this.indexUnits.clear();
    this.functions.ingest = emptyUsage();
    this.functions.deliverer = emptyUsage();
    for (const key of Object.keys(this.logBytes)) delete this.logBytes[key];
  }

  calls(): CallCount[] {
    return [...this.entries.values()].map((c) => ({ ...c }));
  }

  /**
   * Adds billing middleware to the runtime's clients. `raw` is a DynamoDB client without it,
   * for the meter's own reads; `unseenItemsAreAbsent` when the table is new and metered from
   * its creation (dynamodb-meter.ts).
   */
  instrument(
    clients: AwsClients,
    raw: DynamoDBClient,
    options: {
      unseenItemsAreAbsent?: boolean;
      /** The SDK client local mode's event source polls the queue with (Lambda's own calls on AWS). */
      eventSource?: AnyClient;
    } = {},
  ): void {
    this.dynamo = new DynamoDbMeter({
      raw,
      onUnits: (operation, units) => this.addUnits(operation, units),
      detached: (fn) => this.detached(fn),
      unseenItemsAreAbsent: options.unseenItemsAreAbsent,
      onError: (error) => {
        this.billingErrors += 1;
        this.lastBillingError = String((error as Error)?.message ?? error);
      },
    });
    this.dynamo.instrument(clients.dynamodb);
    for (const [client, service] of [
      [clients.dynamodb, 'DynamoDB'],
      [clients.sqs, 'SQS'],
      [clients.s3, 'S3'],
      [clients.kms, 'KMS'],
      [clients.eventBridge, 'EventBridge'],
      [clients.scheduler, 'Scheduler'],
    ] as const) {
      this.timeCalls(client, service);
    }
    this.meterSqsRequests(clients.sqs);
    if (options.eventSource) {
      this.instrumentExtra(options.eventSource, 'SQS');
      this.meterSqsRequests(options.eventSource);
    }
  }

  /** SQS bills a request per started 64 KiB of payload, and an empty receive is the event source's fixed cost. */
  private meterSqsRequests(client: AnyClient): void {
    (client.middlewareStack as unknown as Stack).add(
      (next, context) => async (args) => {
        const operation = operationOf(context);
        const body = args.request?.body;
        const requestBytes = typeof body === 'string' ? Buffer.byteLength(body) : (body?.length ?? 0);
        const result = await next(args);
        if (!this.enabled) return result;
        const component = this.componentOf('SQS', operation);
        const entry = this.entry(component, 'SQS', operation);
        let chunks = Math.max(1, Math.ceil(requestBytes / 65536));
        if (operation === 'ReceiveMessage') {
          const messages: { Body?: string }[] = result?.output?.Messages ?? [];
          if (messages.length === 0) {
            // Idle long polling: a fixed cost of the event source, not a per-message one.
            entry.calls -= 1;
            this.emptyReceives += 1;
            return result;
          }
          const received = messages.reduce((n, m) => n + Buffer.byteLength(m.Body ?? ''), 0);
          chunks = Math.max(1, Math.ceil(received / 65536));
        }
        entry.billedRequests = (entry.billedRequests ?? 0) + chunks;
        return result;
      },
      { step: 'build', name: 'benchSqsChunks' },
    );
  }

  /** Counts and times the calls of a client the runtime did not build (the bench's stand-in KMS). */
  instrumentExtra(client: AnyClient, service: string): void {
    (client.middlewareStack as Stack).add(
      (next, context) => async (args) => {
        this.recorder(service, operationOf(context));
        return next(args);
      },
      { step: 'initialize', name: 'benchCallRecorder' },
    );
    this.timeCalls(client, service);
  }

  /** Wraps (or replaces) the event publisher: each published event is one PutEvents on AWS. */
  countingPublisher(inner?: EventPublisher): EventPublisher & { events: OperationalEvent[] } {
    const events: OperationalEvent[] = [];
    return {
      events,
      publish: async (event: OperationalEvent) => {
        this.recorder('EventBridge', 'PutEvents');
        const span = { service: 'EventBridge', operation: 'PutEvents', start: performance.now(), end: 0 };
        events.push(event);
        if (events.length > 10_000) events.shift();
        await inner?.publish(event);
        span.end = performance.now();
        if (this.enabled) this.scope.getStore()?.spans.push(span);
      },
    } as EventPublisher & { events: OperationalEvent[] };
  }

  /** Records when each call of an invocation started and ended (build step: retries inside, the meter's own reads outside). */
  private timeCalls(client: AnyClient, service: string): void {
    (client.middlewareStack as Stack).add(
      (next, context) => async (args) => {
        const invocation = this.enabled ? this.scope.getStore() : undefined;
        if (!invocation) return next(args);
        const span: CallSpan = { service, operation: operationOf(context), start: performance.now(), end: 0 };
        try {
          return await next(args);
        } finally {
          span.end = performance.now();
          invocation.spans.push(span);
        }
      },
      { step: 'build', priority: 'low', name: 'benchCallTimer' },
    );
  }

  private addUnits(operation: string, units: RequestUnits): void {
    if (!this.enabled) return;
    const component = this.componentOf('DynamoDB', operation);
    const entry = this.entry(component, 'DynamoDB', operation);
    entry.readUnits! += units.readUnits;
    entry.writeUnits! += units.writeUnits;
    const index = Object.values(units.indexWriteUnits).reduce((s, u) => s + u, 0);
    if (index > 0) this.indexUnits.set(`${component} ${operation}`, (this.indexUnits.get(`${component} ${operation}`) ?? 0) + index);
  }

  private componentOf(service: string, operation: string): Component {
    const scoped = this.scope.getStore();
    if (scoped) return scoped.component;
    if (service === 'SQS' && EVENT_SOURCE_OPERATIONS.has(operation)) return 'eventSource';
    return 'ingest';
  }

  private entry(component: Component, service: string, operation: string): CallCount {
    const key = `${component}|${service}|${operation}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { component, service, operation, calls: 0, ...(service === 'DynamoDB' ? { readUnits: 0, writeUnits: 0 } : {}) };
      this.entries.set(key, entry);
    }
    return entry;
  }
}
