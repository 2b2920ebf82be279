import { AsyncLocalStorage } from 'node:async_hooks';
import type { AwsCallRecorder, AwsClients } from '../adapters/aws/clients';
import type { EventPublisher, OperationalEvent } from '../core/ports';
import { isDynamoRead, type CallCount, type Component } from './cost-model';

type Middleware = (next: (args: any) => Promise<any>, context: { commandName?: string }) => (args: any) => Promise<any>;
type Stack = { add: (middleware: Middleware, options: { step: string; name: string; priority?: string }) => void };

const operationOf = (context: { commandName?: string }) => (context.commandName ?? 'Unknown').replace(/Command$/, '');
const EVENT_SOURCE_OPERATIONS = new Set(['ReceiveMessage', 'DeleteMessageBatch', 'GetQueueAttributes']);

/**
 * Counts every AWS call of a run by component, service and operation, through the
 * runtime's `recorder` hook (SDK middleware on every client), and adds what billing needs
 * beyond a count: DynamoDB request units (ConsumedCapacity, asked for on every data call),
 * SQS 64 KB chunks, empty receives (idle polling, not a per-message cost).
 *
 * Attribution: calls made while the deliverer handler runs are the deliverer's (an
 * AsyncLocalStorage scope); receives and deletes of the queue are the event source
 * mapping's; everything else during the run is the ingest function's.
 */
export class UsageMeter {
  private readonly scope = new AsyncLocalStorage<Component>();
  private readonly entries = new Map<string, CallCount>();
  emptyReceives = 0;
  /** DynamoDB write calls that failed (conditional check) and reported no capacity: billed at an estimate. */
  estimatedWriteUnits = 0;
  /** DynamoDB units spent on global secondary indexes (part of the totals), by operation. */
  readonly indexUnits = new Map<string, number>();
  enabled = false;

  readonly recorder: AwsCallRecorder = (service, operation) => {
    if (!this.enabled) return;
    this.entry(this.componentOf(service, operation), service, operation).calls += 1;
  };

  /** Runs `fn` as the deliverer (its AWS calls are attributed to it). */
  asDeliverer<T>(fn: () => Promise<T>): Promise<T> {
    return this.scope.run('deliverer', fn);
  }

  reset(): void {
    this.entries.clear();
    this.emptyReceives = 0;
    this.estimatedWriteUnits = 0;
    this.indexUnits.clear();
  }

  calls(): CallCount[] {
    return [...this.entries.values()].map((c) => ({ ...c }));
  }

  /** Adds the DynamoDB and SQS billing middleware to the runtime's clients. */
  instrument(clients: AwsClients): void {
    (clients.dynamodb.middlewareStack as unknown as Stack).add(
      (next, context) => async (args) => {
        const operation = operationOf(context);
        const data = /Item|Query|Scan/.test(operation);
        if (this.enabled && data && args.input && args.input.ReturnConsumedCapacity === undefined) {
          args.input.ReturnConsumedCapacity = 'INDEXES';
        }
        try {
          const result = await next(args);
          if (this.enabled && data) this.addCapacity(operation, result?.output?.ConsumedCapacity);
          return result;
        } catch (error) {
          // A failed conditional write is billed on AWS (DynamoDB Local reports no capacity for it).
          if (this.enabled && data && !isDynamoRead(operation) && /ConditionalCheckFailed|TransactionCanceled/.test(String((error as Error)?.name))) {
            const units = operation.startsWith('Transact') ? 2 : 1;
            this.estimatedWriteUnits += units;
            this.entry(this.componentOf('DynamoDB', operation), 'DynamoDB', operation).writeUnits! += units;
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'benchDynamoCapacity' },
    );
    (clients.sqs.middlewareStack as unknown as Stack).add(
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

  /** Wraps (or replaces) the event publisher: each published event is one PutEvents on AWS. */
  countingPublisher(inner?: EventPublisher): EventPublisher & { events: OperationalEvent[] } {
    const events: OperationalEvent[] = [];
    return {
      events,
      publish: async (event: OperationalEvent) => {
        this.recorder('EventBridge', 'PutEvents');
        events.push(event);
        if (events.length > 10_000) events.shift();
        await inner?.publish(event);
      },
    } as EventPublisher & { events: OperationalEvent[] };
  }

  private componentOf(service: string, operation: string): Component {
    const scoped = this.scope.getStore();
    if (scoped) return scoped;
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

  private addCapacity(operation: string, consumed: unknown): void {
    const list = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as {
      CapacityUnits?: number;
      ReadCapacityUnits?: number;
      WriteCapacityUnits?: number;
      GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
    }[];
    const component = this.componentOf('DynamoDB', operation);
    const entry = this.entry(component, 'DynamoDB', operation);
    for (const c of list) {
      const gsi = Object.values(c.GlobalSecondaryIndexes ?? {}).reduce((sum, i) => sum + (i.CapacityUnits ?? 0), 0);
      if (gsi > 0) this.indexUnits.set(`${component} ${operation}`, (this.indexUnits.get(`${component} ${operation}`) ?? 0) + gsi);
      if (c.ReadCapacityUnits !== undefined || c.WriteCapacityUnits !== undefined) {
        entry.readUnits! += c.ReadCapacityUnits ?? 0;
        entry.writeUnits! += c.WriteCapacityUnits ?? 0;
      } else if (isDynamoRead(operation)) entry.readUnits! += c.CapacityUnits ?? 0;
      else entry.writeUnits! += c.CapacityUnits ?? 0;
    }
  }
}
