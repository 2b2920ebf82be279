import { randomBytes } from 'node:crypto';
import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DocumentClient,
} from './protocol/dynamodb-documents';
import {
  DEFAULT_RETENTION_DAYS,
  EMPTY_COUNTS,
  type Flow,
  type FlowCounts,
  type FlowLogEntry,
  type FlowSettings,
  type FlowWithCounts,
} from '../../core/model';
import { isConditionFailure } from './dynamo-errors';
import { incrementCounter, queryAll, resetCounter } from './dynamo-query';
import { keys, listings, withoutKeys } from './keys';
import { TtlCache } from './ttl-cache';

/** A stored flow; one saved before `retentionDays` existed has the default. */
function flowOf(item: Record<string, unknown>): Flow {
  const flow = withoutKeys<Flow>(item);
  return { ...flow, retentionDays: flow.retentionDays ?? DEFAULT_RETENTION_DAYS };
}

/** The flow's counts item, kept by the stream aggregator (never written with a message). */
const COUNTS_SK = 'COUNTS';

/** Flow log entries live this long (TTL), unless `enable` clears them first. */
export const FLOW_LOG_RETENTION_SECONDS = 30 * 24 * 3600;

export class FlowStore {
  /** Flows read recently (ingest only); every write through this store drops its entry. */
  private readonly recent: TtlCache<Flow | undefined>;

  constructor(
    private readonly documents: DocumentClient,
    private readonly tableName: string,
    cacheMs = 0,
  ) {
    this.recent = new TtlCache(cacheMs);
  }

  /** `get`, reusing a recent read (see TtlCache): ingest's hot path. */
  getCached(flowId: string): Promise<Flow | undefined> {
    return this.recent.get(
      flowId,
      () => this.get(flowId),
      (flow) => flow !== undefined,
    );
  }

  /** Creates or replaces a flow's settings; status and counts survive a replace. */
  async put(flowId: string, settings: FlowSettings, now: Date): Promise<FlowWithCounts> {
    this.recent.delete(flowId);
    const at = now.toISOString();
    const values: Record<string, unknown> = { ...settings, flowId, updatedAt: at, gsi1pk: listings.flows, gsi1sk: flowId };
    const names = Object.keys(values);
    const removals = settings.expiresAfterSeconds === undefined ? ' REMOVE expiresAfterSeconds' : '';
    const { Attributes } = await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.flow(flowId),
        UpdateExpression:
          `SET ${names.map((_, i) => `#a${i} = :v${i}`).join(', ')}, ` +
          '#status = if_not_exists(#status, :enabled), statusSince = if_not_exists(statusSince, :at), ' +
          'createdAt = if_not_exists(createdAt, :at), internalFailureStreak = if_not_exists(internalFailureStreak, :zero)' +
          removals,
        ExpressionAttributeNames: { ...Object.fromEntries(names.map((n, i) => [`#a${i}`, n])), '#status': 'status' },
        ExpressionAttributeValues: {
          ...Object.fromEntries(names.map((n, i) => [`:v${i}`, values[n]])),
          ':enabled': 'enabled',
          ':at': at,
          ':zero': 0,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { ...flowOf(Attributes!), counts: await this.counts(flowId) };
  }

  /** A flow's counts as the aggregator last left them (they trail the records by the stream's lag). */
  async counts(flowId: string): Promise<FlowCounts> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: keys.flow(flowId).pk, sk: COUNTS_SK }, ConsistentRead: true }),
    );
    const counts = { ...EMPTY_COUNTS };
    for (const name of Object.keys(counts) as (keyof FlowCounts)[]) counts[name] += Number(Item?.[name] ?? 0);
    return counts;
  }

  async getWithCounts(flowId: string): Promise<FlowWithCounts | undefined> {
    const [flow, counts] = await Promise.all([this.get(flowId, true), this.counts(flowId)]);
    return flow ? { ...flow, counts } : undefined;
  }

  /** The flows that deliver to a connection. */
  async listUsing(connectionId: string): Promise<Flow[]> {
    return (await this.list()).filter((flow) => flow.destinations.includes(connectionId));
  }

  async listWithCounts(): Promise<FlowWithCounts[]> {
    const flows = await this.list();
    return Promise.all(flows.map(async (flow) => ({ ...flow, counts: await this.counts(flow.flowId) })));
  }

  async get(flowId: string, consistent = false): Promise<Flow | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.flow(flowId), ConsistentRead: consistent }),
    );
    return Item ? flowOf(Item) : undefined;
  }

  async list(): Promise<Flow[]> {
    const items = await queryAll(this.documents, {
      TableName: this.tableName,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :p',
      ExpressionAttributeValues: { ':p': listings.flows },
    });
    return items.map((item) => flowOf(item));
  }

  /** Sets a flow's status; returns the flow after the change, or undefined if it does not exist. */
  async setStatus(
    flowId: string,
    status: Flow['status'],
    reason: string | undefined,
    now: Date,
    options: { resetStreak?: boolean; operatorPaused?: boolean } = {},
  ): Promise<Flow | undefined> {
    this.recent.delete(flowId);
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.flow(flowId),
          UpdateExpression:
            `SET #status = :status, statusSince = :at, updatedAt = :at` +
            (reason ? ', statusReason = :reason' : '') +
            (options.resetStreak ? ', internalFailureStreak = :zero' : '') +
            (options.operatorPaused !== undefined ? ', operatorPaused = :op' : '') +
            (reason ? '' : ' REMOVE statusReason'),
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':status': status,
            ':at': now.toISOString(),
            ...(reason ? { ':reason': reason } : {}),
            ...(options.resetStreak ? { ':zero': 0 } : {}),
            ...(options.operatorPaused !== undefined ? { ':op': options.operatorPaused } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return flowOf(Attributes!);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** Up to when the unconfirmed-enqueue sweep has looked at this flow's messages. */
  async sweptThrough(flowId: string): Promise<string | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: keys.flow(flowId).pk, sk: COUNTS_SK }, ProjectionExpression: 'sweptThrough' }),
    );
    return Item?.sweptThrough as string | undefined;
  }

  async setSweptThrough(flowId: string, at: string): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: keys.flow(flowId).pk, sk: COUNTS_SK },
        UpdateExpression: 'SET sweptThrough = :at',
        ExpressionAttributeValues: { ':at': at },
      }),
    );
  }

  /** Applies count deltas to a flow's counts item in one update (the stream aggregator's write). */
  async addCounts(flowId: string, deltas: Partial<FlowCounts>): Promise<void> {
    const entries = Object.entries(deltas).filter(([, delta]) => delta !== 0);
    if (entries.length === 0) return;
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: keys.flow(flowId).pk, sk: COUNTS_SK },
        UpdateExpression: `ADD ${entries.map((_, i) => `#c${i} :d${i}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(entries.map(([name], i) => [`#c${i}`, name])),
        ExpressionAttributeValues: Object.fromEntries(entries.map(([, delta], i) => [`:d${i}`, delta])),
      }),
    );
  }

  async log(flowId: string, entry: FlowLogEntry): Promise<void> {
    await this.documents.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: keys.flowLogPartition(flowId),
          sk: `${entry.at}#${randomBytes(4).toString('hex')}`,
          ...entry,
          ttl: Math.floor(Date.parse(entry.at) / 1000) + FLOW_LOG_RETENTION_SECONDS,
        },
      }),
    );
  }

  /** Newest first. */
  async readLog(flowId: string, limit = 100): Promise<FlowLogEntry[]> {
    const { Items = [] } = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': keys.flowLogPartition(flowId) },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return Items.map((item) => withoutKeys<FlowLogEntry>(item));
  }

  async clearLog(flowId: string): Promise<void> {
    const items = await queryAll(this.documents, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': keys.flowLogPartition(flowId) },
      ProjectionExpression: 'pk, sk',
    });
    for (let i = 0; i < items.length; i += 25) {
      let requests: Record<string, unknown>[] | undefined = items
        .slice(i, i + 25)
        .map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } }));
      // BatchWrite may leave some requests unprocessed under load; send those again.
      while (requests && requests.length > 0) {
        const result = await this.documents.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests as never } }));
        requests = result.UnprocessedItems?.[this.tableName] as Record<string, unknown>[] | undefined;
      }
    }
  }

  /**
   * Pauses a flow because one of its connections is down. Returns true when this
   * call moved the flow from enabled to paused.
   */
  async autoPause(flowId: string, connectionId: string, reason: string, now: Date): Promise<boolean> {
    const current = await this.get(flowId, true);
    if (!current) return false;
    const pausedBy = [...new Set([...(current.autoPausedBy ?? []), connectionId])];
    const pausing = current.status === 'enabled';
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.flow(flowId),
        UpdateExpression: `SET autoPausedBy = :by${pausing ? ', #status = :paused, statusReason = :reason, statusSince = :at' : ''}`,
        ExpressionAttributeNames: pausing ? { '#status': 'status' } : undefined,
        ExpressionAttributeValues: {
          ':by': pausedBy,
          ...(pausing ? { ':paused': 'paused', ':reason': reason, ':at': now.toISOString() } : {}),
        },
      }),
    );
    return pausing;
  }

  /**
   * A connection of the flow is back. Returns true when that was the last one and the
   * flow went from paused back to enabled (an operator pause stays).
   */
  async autoResume(flowId: string, connectionId: string, now: Date): Promise<boolean> {
    const current = await this.get(flowId, true);
    if (!current || !(current.autoPausedBy ?? []).includes(connectionId)) return false;
    const pausedBy = (current.autoPausedBy ?? []).filter((id) => id !== connectionId);
    const resuming = pausedBy.length === 0 && current.status === 'paused' && !current.operatorPaused;
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.flow(flowId),
        UpdateExpression: `SET autoPausedBy = :by${resuming ? ', #status = :enabled, statusSince = :at REMOVE statusReason' : ''}`,
        ExpressionAttributeNames: resuming ? { '#status': 'status' } : undefined,
        ExpressionAttributeValues: { ':by': pausedBy, ...(resuming ? { ':enabled': 'enabled', ':at': now.toISOString() } : {}) },
      }),
    );
    return resuming;
  }

  /** A destination's lane count changed: flows that use it pick lanes with the new one. */
  async setDestinationThreads(connectionId: string, threads: number): Promise<void> {
    for (const flow of await this.listUsing(connectionId)) {
      this.recent.delete(flow.flowId);
      await this.documents
        .send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.flow(flow.flowId),
            UpdateExpression: 'SET destinationThreads = :m',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':m': { ...flow.destinationThreads, [connectionId]: threads } },
          }),
        )
        .catch((error) => {
          if (!isConditionFailure(error)) throw error;
        });
    }
  }

  /** Counts an internal failure; returns the new streak. */
  async recordInternalFailure(flowId: string): Promise<number> {
    return incrementCounter(this.documents, this.tableName, keys.flow(flowId), 'internalFailureStreak');
  }

  async resetInternalFailures(flowId: string): Promise<void> {
    await resetCounter(this.documents, this.tableName, keys.flow(flowId), 'internalFailureStreak');
  }

  /**
   * Deletes a disabled flow with its counters and log. Its messages stay until their
   * retention ends. Throws `FlowNotDisabledError` when the flow is not disabled (any
   * more); false when it did not exist.
   */
  async delete(flowId: string): Promise<boolean> {
    try {
      const { Attributes } = await this.documents.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.flow(flowId),
          ConditionExpression: 'attribute_not_exists(pk) OR #status = :disabled',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':disabled': 'disabled' },
          ReturnValues: 'ALL_OLD',
        }),
      );
      if (!Attributes) return false;
    } catch (error) {
      if (isConditionFailure(error)) throw new FlowNotDisabledError(flowId);
      throw error;
    }
    this.recent.delete(flowId);
    await this.documents.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: keys.flow(flowId).pk, sk: COUNTS_SK } }));
    await this.clearLog(flowId);
    return true;
  }
}

/** A flow can be deleted only while disabled. */
export class FlowNotDisabledError extends Error {
  constructor(readonly flowId: string) {
    super(`flow ${flowId} is not disabled`);
    this.name = 'FlowNotDisabledError';
  }
}
