import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { messageStatus } from '../../core/message-status';
import type { Delivery, DeliveryStatus, FailureType, FlowCounts, MessageStatus, ReportEntry } from '../../core/model';
import { isConditionFailure, isTransactionConflict } from './dynamo-errors';
import { queryAll } from './dynamo-query';
import type { FlowStore } from './flow-store';
import { keys, withoutKeys } from './keys';
import type { MessageStore } from './message-store';

/** Another writer changed the delivery since it was read: the step is rolled back and retried. */
export class StaleDeliveryError extends Error {
  constructor(key: string) {
    super(`delivery ${key} changed concurrently`);
    this.name = 'StaleDeliveryError';
  }
}

/** Failed events are addressed by one id: flow, GUID and connection (none of which may contain `~`). */
export function failedEventId(delivery: Pick<Delivery, 'flowId' | 'messageId' | 'connectionId'>): string {
  return `${delivery.flowId}~${delivery.messageId}~${delivery.connectionId}`;
}

export function parseFailedEventId(id: string): { flowId: string; messageId: string; connectionId: string } | undefined {
  const parts = id.split('~');
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) return undefined;
  const [flowId, messageId, connectionId] = parts as [string, string, string];
  return { flowId, messageId, connectionId };
}

export function deliveryKey(d: Pick<Delivery, 'flowId' | 'messageId' | 'connectionId'>): string {
  return failedEventId(d);
}

/** Index entries that make a delivery findable while it is in a given state. */
export const deliveryIndexes = {
  /** Failed events (failed and inError): by flow on gsi1, all of them on gsi3. */
  failed: (d: Delivery, failedAt: string, type: FailureType) => ({
    gsi1pk: `FAILED#FLOW#${d.flowId}`,
    gsi1sk: `${failedAt}#${d.messageId}#${d.connectionId}`,
    gsi3pk: 'FAILED',
    gsi3sk: `${failedAt}#${type}#${d.flowId}#${d.messageId}#${d.connectionId}`,
  }),
  failedAttributes: ['gsi1pk', 'gsi1sk', 'gsi3pk', 'gsi3sk'],
  heldAttributes: ['gsi2pk', 'gsi2sk', 'heldReceipt'],
  held: (d: Delivery) => ({ gsi2pk: `HELD#CONN#${d.connectionId}`, gsi2sk: `${d.flowId}#${d.messageId}` }),
  /** Re-queued by an operator and not yet seen by the deliverer (which clears gsi2 on its first step). */
  requeue: (d: Pick<Delivery, 'flowId' | 'messageId' | 'connectionId'>, at: string) => ({
    gsi2pk: 'REQUEUE',
    gsi2sk: `${at}#${d.flowId}#${d.messageId}#${d.connectionId}`,
  }),
  suspended: (d: Delivery, receivedAt: string) => ({
    gsi3pk: `SUSPENDED#${d.flowId}#${d.chainId}#${d.connectionId}`,
    gsi3sk: `${receivedAt}#${d.messageId}`,
  }),
  all: ['gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk'] as const,
};

export interface DeliveryChange {
  /** Attributes to set (delivery fields and index attributes). */
  set: Record<string, unknown>;
  /** Attributes to remove. */
  remove?: string[];
  report?: ReportEntry[];
  counts?: Partial<FlowCounts>;
  messageStatus?: MessageStatus;
  /** Further writes that must commit with the change (chain blocks…). */
  alsoPut?: Record<string, unknown>[];
  alsoDelete?: { pk: string; sk: string }[];
  /** Items that must still exist for the change to apply (else it is stale and retried). */
  requireExists?: { pk: string; sk: string }[];
}

/** Where failed events are listed: a flow's on gsi1, everyone's on gsi3. */
function failedIndex(flowId?: string) {
  return flowId
    ? { indexName: 'gsi1', pkName: 'gsi1pk', skName: 'gsi1sk', partition: `FAILED#FLOW#${flowId}` }
    : { indexName: 'gsi3', pkName: 'gsi3pk', skName: 'gsi3sk', partition: 'FAILED' };
}

const chainBlockKey = (flowId: string, chainId: string, connectionId: string) => ({
  pk: `CHAIN#${flowId}#${chainId}`,
  sk: `CONN#${connectionId}`,
});

export class DeliveryStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly flows: FlowStore,
    private readonly messages: MessageStore,
  ) {}

  async get(flowId: string, messageId: string, connectionId: string): Promise<Delivery | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.delivery(flowId, messageId, connectionId), ConsistentRead: true }),
    );
    return Item ? withoutKeys<Delivery>(Item) : undefined;
  }

  async siblings(flowId: string, messageId: string): Promise<Delivery[]> {
    const { Items = [] } = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :p AND begins_with(sk, :d)',
        ExpressionAttributeValues: { ':p': keys.messagePartition(flowId, messageId), ':d': 'DLV#' },
        ConsistentRead: true,
      }),
    );
    return Items.map((item) => withoutKeys<Delivery>(item));
  }

  /**
   * The message's status once `delivery` moves to `to`, from all its branches;
   * undefined when unchanged. A message with one destination needs no read.
   */
  async messageStatusAfter(delivery: Delivery, to: DeliveryStatus, destinations?: number): Promise<MessageStatus | undefined> {
    if (delivery.status === to) return undefined;
    if (destinations === 1) return messageStatus('done', [{ status: to }]);
    const siblings = (await this.siblings(delivery.flowId, delivery.messageId)).map((d) =>
      d.connectionId === delivery.connectionId ? { ...d, status: to } : d,
    );
    return messageStatus('done', siblings);
  }

  /**
   * Applies one state change atomically: the delivery (checked against its version),
   * report entries, flow counters and the message's status. Returns the new delivery.
   */
  async commit(delivery: Delivery, change: DeliveryChange): Promise<Delivery> {
    const [committed] = await this.commitMany([{ delivery, change }]);
    return committed!;
  }

  /**
   * The failed delivery that blocks a chain on a connection, if any. `releasing` is
   * set while an operator's restart or discard re-queues the suspended ones in order.
   */
  async chainBlocker(
    flowId: string,
    chainId: string,
    connectionId: string,
  ): Promise<{ messageId: string; releasing: boolean } | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: chainBlockKey(flowId, chainId, connectionId), ConsistentRead: true }),
    );
    return Item ? { messageId: String(Item.messageId), releasing: Item.releasing === true } : undefined;
  }

  async markChainReleasing(flowId: string, chainId: string, connectionId: string): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: chainBlockKey(flowId, chainId, connectionId),
        UpdateExpression: 'SET releasing = :t',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':t': true },
      }),
    ).catch((error) => {
      if (!isConditionFailure(error)) throw error;
    });
  }

  chainBlockItem(flowId: string, chainId: string, connectionId: string, messageId: string): Record<string, unknown> {
    return { ...chainBlockKey(flowId, chainId, connectionId), flowId, chainId, connectionId, messageId };
  }

  chainBlockKey(flowId: string, chainId: string, connectionId: string) {
    return chainBlockKey(flowId, chainId, connectionId);
  }

  async clearChainBlock(flowId: string, chainId: string, connectionId: string): Promise<void> {
    await this.documents.send(new DeleteCommand({ TableName: this.tableName, Key: chainBlockKey(flowId, chainId, connectionId) }));
  }

  /** Suspended deliveries of a chain on a connection, in acceptance order. */
  async suspended(flowId: string, chainId: string, connectionId: string): Promise<Delivery[]> {
    const items = await queryAll(this.documents, {
      TableName: this.tableName,
      IndexName: 'gsi3',
      KeyConditionExpression: 'gsi3pk = :p',
      ExpressionAttributeValues: { ':p': `SUSPENDED#${flowId}#${chainId}#${connectionId}` },
    });
    return items.map((item) => withoutKeys<Delivery>(item));
  }

  /** Deliveries held in flight on a connection (paused, unauthorized, in error), with their receipts. */
  async held(connectionId: string): Promise<Delivery[]> {
    const items = await queryAll(this.documents, {
      TableName: this.tableName,
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :p',
      ExpressionAttributeValues: { ':p': `HELD#CONN#${connectionId}` },
    });
    return items.map((item) => withoutKeys<Delivery>(item));
  }

  async updateConnectionHold(connectionId: string, heldBy: string, holdUntil: string): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.connection(connectionId),
        UpdateExpression: 'SET heldBy = :by, holdUntil = :until',
        ExpressionAttributeValues: { ':by': heldBy, ':until': holdUntil },
      }),
    );
  }

  async clearConnectionHold(connectionId: string, heldBy: string): Promise<void> {
    await this.documents
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.connection(connectionId),
          UpdateExpression: 'REMOVE heldBy, holdUntil',
          ConditionExpression: 'heldBy = :by',
          ExpressionAttributeValues: { ':by': heldBy },
        }),
      )
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  /** Flags the next try of a delivery for debug logging (best effort after an internal error). */
  async markDebug(flowId: string, messageId: string, connectionId: string): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.delivery(flowId, messageId, connectionId),
        UpdateExpression: 'SET debugNextAttempt = :t',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':t': true },
      }),
    ).catch((error) => {
      if (!isConditionFailure(error)) throw error;
    });
  }

  /**
   * Failed events (failed and inError deliveries) from their indexes: by flow on gsi1,
   * all of them on gsi3; connection, type and status are filters on the index query.
   * Pages until `limit` matches or the index is exhausted; `lastKey` resumes after the
   * last returned item. `before` keeps only events that failed before that instant.
   */
  async queryFailed(options: {
    flowId?: string;
    connectionId?: string;
    type?: FailureType;
    statuses?: DeliveryStatus[];
    before?: string;
    limit: number;
    startKey?: Record<string, unknown>;
  }): Promise<{ items: Delivery[]; lastKey?: Record<string, unknown> }> {
    const index = failedIndex(options.flowId);
    const filters: string[] = [];
    const names: Record<string, string> = { '#pk': index.pkName, ...(options.before ? { '#sk': index.skName } : {}) };
    const values: Record<string, unknown> = { ':p': index.partition };
    if (options.connectionId) {
      filters.push('connectionId = :c');
      values[':c'] = options.connectionId;
    }
    if (options.type) {
      filters.push('failureType = :t');
      values[':t'] = options.type;
    }
    if (options.statuses && options.statuses.length > 0) {
      names['#status'] = 'status';
      filters.push(`#status IN (${options.statuses.map((_, i) => `:s${i}`).join(', ')})`);
      options.statuses.forEach((status, i) => (values[`:s${i}`] = status));
    }
    if (options.before) values[':before'] = options.before;
    const items: Record<string, unknown>[] = [];
    let start = options.startKey;
    let lastKey: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.indexName,
          KeyConditionExpression: `#pk = :p${options.before ? ' AND #sk < :before' : ''}`,
          ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          // Without filters a page holds exactly what is still needed; with them, read ahead.
          Limit: filters.length > 0 ? Math.max(100, options.limit - items.length) : options.limit - items.length,
          ExclusiveStartKey: start,
        }),
      );
      const found = page.Items ?? [];
      const room = options.limit - items.length;
      if (found.length > room) {
        items.push(...found.slice(0, room));
        const last = items[items.length - 1]!;
        lastKey = { pk: last.pk, sk: last.sk, [index.pkName]: last[index.pkName], [index.skName]: last[index.skName] };
        break;
      }
      items.push(...found);
      start = page.LastEvaluatedKey;
      lastKey = start;
    } while (start && items.length < options.limit);
    return { items: items.map((item) => withoutKeys<Delivery>(item)), ...(lastKey ? { lastKey } : {}) };
  }

  /** True when `key` is a resume key of the failed-event index `queryFailed` reads for this flow filter. */
  isFailedIndexKey(key: Record<string, unknown>, flowId?: string): boolean {
    const index = failedIndex(flowId);
    const names = Object.keys(key).sort();
    const expected = ['pk', 'sk', index.pkName, index.skName].sort();
    return (
      names.length === expected.length &&
      names.every((name, i) => name === expected[i] && typeof key[name] === 'string') &&
      key[index.pkName] === index.partition &&
      String(key.pk).startsWith('MSG#') &&
      String(key.sk).startsWith('DLV#')
    );
  }

  /** How many deliveries of a chain are suspended on a connection. */
  async countSuspended(flowId: string, chainId: string, connectionId: string): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi3',
          KeyConditionExpression: 'gsi3pk = :p',
          ExpressionAttributeValues: { ':p': `SUSPENDED#${flowId}#${chainId}#${connectionId}` },
          Select: 'COUNT',
          ExclusiveStartKey: start,
        }),
      );
      count += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    return count;
  }

  /**
   * Ends a chain release: deletes the block only while it is still the one being
   * released. False when a new failure re-blocked the chain meanwhile (or it is gone).
   */
  async clearChainBlockIfReleasing(flowId: string, chainId: string, connectionId: string): Promise<boolean> {
    try {
      await this.documents.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: chainBlockKey(flowId, chainId, connectionId),
          ConditionExpression: 'releasing = :t',
          ExpressionAttributeValues: { ':t': true },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Applies several changes in one transaction, all or none: at most one delivery per
   * message (each may set its message's status), counters merged per flow. Throws
   * StaleDeliveryError when any of the deliveries changed since it was read; DynamoDB
   * caps a transaction at 100 writes.
   */
  async commitMany(entries: { delivery: Delivery; change: DeliveryChange }[]): Promise<Delivery[]> {
    const transact: Record<string, unknown>[] = [];
    const counts = new Map<string, Partial<FlowCounts>>();
    const results: Delivery[] = [];
    for (const { delivery, change } of entries) {
      const version = delivery.version ?? 0;
      const set: Record<string, unknown> = { ...change.set, version: version + 1 };
      const names = Object.keys(set);
      const removals = (change.remove ?? []).filter((name) => !(name in set));
      transact.push({
        Update: {
          TableName: this.tableName,
          Key: keys.delivery(delivery.flowId, delivery.messageId, delivery.connectionId),
          UpdateExpression:
            `SET ${names.map((_, i) => `#s${i} = :s${i}`).join(', ')}` +
            (removals.length > 0 ? ` REMOVE ${removals.map((_, i) => `#r${i}`).join(', ')}` : ''),
          ConditionExpression: version === 0 ? 'attribute_not_exists(version) OR version = :v' : 'version = :v',
          ExpressionAttributeNames: {
            ...Object.fromEntries(names.map((n, i) => [`#s${i}`, n])),
            ...Object.fromEntries(removals.map((n, i) => [`#r${i}`, n])),
          },
          ExpressionAttributeValues: { ...Object.fromEntries(names.map((n, i) => [`:s${i}`, set[n]])), ':v': version },
        },
      });
      for (const entry of change.report ?? []) transact.push({ Put: this.messages.reportPut(delivery.flowId, delivery.messageId, entry) });
      if (change.messageStatus) {
        transact.push({
          Update: {
            TableName: this.tableName,
            Key: keys.message(delivery.flowId, delivery.messageId),
            UpdateExpression: 'SET #status = :status',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':status': change.messageStatus },
          },
        });
      }
      for (const item of change.alsoPut ?? []) transact.push({ Put: { TableName: this.tableName, Item: item } });
      for (const key of change.alsoDelete ?? []) transact.push({ Delete: { TableName: this.tableName, Key: key } });
      for (const key of change.requireExists ?? []) {
        transact.push({ ConditionCheck: { TableName: this.tableName, Key: key, ConditionExpression: 'attribute_exists(pk)' } });
      }
      const merged = counts.get(delivery.flowId) ?? {};
      for (const [bucket, delta] of Object.entries(change.counts ?? {}) as [keyof FlowCounts, number][]) {
        merged[bucket] = (merged[bucket] ?? 0) + delta;
      }
      counts.set(delivery.flowId, merged);
      const next: Record<string, unknown> = { ...delivery, ...set };
      for (const name of removals) delete next[name];
      for (const name of deliveryIndexes.all) delete next[name];
      results.push(next as unknown as Delivery);
    }
    for (const [flowId, deltas] of counts) {
      const seed = entries.find((entry) => entry.delivery.flowId === flowId)!.delivery.messageId;
      const update = this.flows.countsUpdate(flowId, deltas, seed);
      if (update) transact.push({ Update: update });
    }
    if (transact.length === 0) return results;
    try {
      await this.documents.send(new TransactWriteCommand({ TransactItems: transact as never }));
    } catch (error) {
      if (isConditionFailure(error) || isTransactionConflict(error)) {
        throw new StaleDeliveryError(entries.map((e) => deliveryKey(e.delivery)).join(', '));
      }
      throw error;
    }
    return results;
  }

  /** How many destinations each message has, keyed `flowId#messageId` (messages that are gone are absent). */
  async destinationCounts(refs: { flowId: string; messageId: string }[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const unique = [...new Map(refs.map((r) => [`${r.flowId}#${r.messageId}`, r])).values()];
    for (let i = 0; i < unique.length; i += 100) {
      let pending: Record<string, unknown>[] | undefined = unique.slice(i, i + 100).map((r) => keys.message(r.flowId, r.messageId));
      while (pending && pending.length > 0) {
        const result: { Responses?: Record<string, Record<string, unknown>[]>; UnprocessedKeys?: Record<string, { Keys?: Record<string, unknown>[] }> } =
          await this.documents.send(
            new BatchGetCommand({
              RequestItems: {
                [this.tableName]: {
                  Keys: pending,
                  ProjectionExpression: 'flowId, messageId, destinations',
                  ConsistentRead: true,
                },
              },
            }),
          );
        for (const item of result.Responses?.[this.tableName] ?? []) {
          found.set(`${item.flowId}#${item.messageId}`, Array.isArray(item.destinations) ? item.destinations.length : 0);
        }
        pending = result.UnprocessedKeys?.[this.tableName]?.Keys;
      }
    }
    return found;
  }

  /** Deliveries re-queued before `before` that the deliverer has not picked up yet. */
  async pendingRequeues(before: string, limit = 100): Promise<Delivery[]> {
    const { Items = [] } = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :p AND gsi2sk < :before',
        ExpressionAttributeValues: { ':p': 'REQUEUE', ':before': before },
        Limit: limit,
      }),
    );
    return Items.map((item) => withoutKeys<Delivery>(item));
  }

  async clearRequeue(d: Pick<Delivery, 'flowId' | 'messageId' | 'connectionId'>): Promise<void> {
    await this.documents
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.delivery(d.flowId, d.messageId, d.connectionId),
          UpdateExpression: 'REMOVE gsi2pk, gsi2sk',
          ConditionExpression: 'gsi2pk = :p',
          ExpressionAttributeValues: { ':p': 'REQUEUE' },
        }),
      )
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }
}
