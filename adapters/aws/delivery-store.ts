import {
  DeleteCommand,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { applyStep, listingsOf, type Step } from '../../core/lifecycle';
import type { Delivery, DeliveryStatus, FailureType, ReportEntry } from '../../core/model';
import { isConditionFailure, isTransactionConflict } from './dynamo-errors';
import { queryAll } from './dynamo-query';
import type { FlowStore } from './flow-store';
import { keys, withoutKeys } from './keys';
import { deliveryOf, RECORD_REPORT, REPORT_CAP, type LoadedDelivery, type MessageStore } from './message-store';

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

/** Where an index item lists a delivery, derived from its state by `listingsOf`. */
function indexAttributes(d: Delivery, receivedAt: string | undefined): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const listing of listingsOf(d)) {
    switch (listing.kind) {
      case 'failed':
        attributes.gsi1pk = `FAILED#FLOW#${d.flowId}`;
        attributes.gsi1sk = `${listing.failedAt}#${d.messageId}#${d.connectionId}`;
        attributes.gsi3pk = 'FAILED';
        attributes.gsi3sk = `${listing.failedAt}#${listing.type}#${d.flowId}#${d.messageId}#${d.connectionId}`;
        break;
      case 'held':
        attributes.gsi2pk = `HELD#CONN#${d.connectionId}`;
        attributes.gsi2sk = `${d.flowId}#${d.messageId}`;
        break;
      case 'requeued':
        attributes.gsi2pk = 'REQUEUE';
        attributes.gsi2sk = `${listing.at}#${d.flowId}#${d.messageId}#${d.connectionId}`;
        break;
      case 'suspended':
        attributes.gsi3pk = `SUSPENDED#${d.flowId}#${d.chainId}#${d.connectionId}`;
        attributes.gsi3sk = `${receivedAt ?? d.updatedAt}#${d.messageId}`;
        break;
    }
  }
  return attributes;
}

/**
 * The sparse index item of a delivery, or undefined while it is in no listing (the
 * happy path). Small on purpose: the index copies it, never the payload-carrying record.
 */
function indexItem(d: Delivery, receivedAt: string | undefined): Record<string, unknown> | undefined {
  const attributes = indexAttributes(d, receivedAt);
  if (Object.keys(attributes).length === 0) return undefined;
  return {
    ...keys.deliveryIndex(d.flowId, d.messageId, d.connectionId),
    flowId: d.flowId,
    messageId: d.messageId,
    connectionId: d.connectionId,
    lane: d.lane,
    restarts: d.restarts,
    status: d.status,
    ...(d.chainId ? { chainId: d.chainId } : {}),
    ...(d.failureType ? { failureType: d.failureType } : {}),
    ...(d.failedAt ? { failedAt: d.failedAt } : {}),
    ...(d.heldReceipt ? { heldReceipt: d.heldReceipt } : {}),
    ...(d.heldTicketAt ? { heldTicketAt: d.heldTicketAt } : {}),
    ...attributes,
  };
}

const sameItem = (a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined) =>
  JSON.stringify(a) === JSON.stringify(b);

/** What else must commit with a step (chain blocks, audit entries) or still exist for it to apply. */
export interface StepExtras {
  alsoPut?: Record<string, unknown>[];
  alsoDelete?: { pk: string; sk: string }[];
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

  /** One delivery, from its message's record (strongly consistent). */
  async get(flowId: string, messageId: string, connectionId: string): Promise<LoadedDelivery | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.message(flowId, messageId), ConsistentRead: true }),
    );
    return Item ? deliveryOf(Item, connectionId) : undefined;
  }

  /** The full deliveries behind index items, in the items' order (gone ones skipped). */
  private async full(items: Record<string, unknown>[]): Promise<LoadedDelivery[]> {
    const refs = items.map((item) => ({
      flowId: String(item.flowId),
      messageId: String(item.messageId),
      connectionId: String(item.connectionId),
    }));
    const records = await this.messages.records(refs);
    return refs
      .map((r) => {
        const record = records.get(`${r.flowId}#${r.messageId}`);
        return record ? deliveryOf(record, r.connectionId) : undefined;
      })
      .filter((d): d is LoadedDelivery => d !== undefined);
  }

  /**
   * Applies one lifecycle step to a delivery: one conditional update of its message's
   * record, checked against the delivery's version. Index items, report spill-over and
   * `extras` join it in a transaction only when the step needs them (never on the happy
   * path). Throws StaleDeliveryError when the delivery changed since it was read.
   */
  async apply(delivery: LoadedDelivery, step: Step, extras: StepExtras = {}, receivedAt?: string): Promise<LoadedDelivery> {
    const version = delivery.version ?? 0;
    const next = { ...applyStep(delivery, step), version: version + 1 } as LoadedDelivery;
    const key = keys.message(delivery.flowId, delivery.messageId);
    const names: Record<string, string> = { '#dlv': 'dlv', '#c': delivery.connectionId, '#version': 'version', '#report': 'report' };
    const values: Record<string, unknown> = { ':v': version, ':nv': version + 1 };
    const sets: string[] = ['#dlv.#c.#version = :nv'];
    const removes: string[] = [];
    let field = 0;
    for (const [name, value] of Object.entries(step.set)) {
      if (value === undefined || name === 'version') continue;
      names[`#f${field}`] = name;
      values[`:f${field}`] = value;
      sets.push(`#dlv.#c.#f${field} = :f${field}`);
      field += 1;
    }
    for (const name of step.clear) {
      if (!(name in delivery)) continue;
      names[`#f${field}`] = name;
      removes.push(`#dlv.#c.#f${field}`);
      field += 1;
    }
    const conditions = ['#dlv.#c.#version = :v'];
    const transact: Record<string, unknown>[] = [];
    const report = delivery[RECORD_REPORT];
    if (step.report.length > 0) {
      if (report && report.length + step.report.length > REPORT_CAP) {
        // Spill the oldest entries into an item of their own; the record keeps the newest.
        const all = [...report, ...step.report];
        const keep = all.slice(all.length - Math.floor(REPORT_CAP / 2));
        const spill = all.slice(0, all.length - keep.length);
        transact.push({
          Put: {
            TableName: this.tableName,
            Item: { ...keys.reportSpill(delivery.flowId, delivery.messageId, spill[0]!.at), entries: spill },
          },
        });
        values[':report'] = keep;
        values[':reportSize'] = report.length;
        sets.push('#report = :report');
        conditions.push('size(#report) = :reportSize');
      } else {
        values[':report'] = step.report;
        values[':empty'] = [];
        sets.push('#report = list_append(if_not_exists(#report, :empty), :report)');
      }
    } else {
      delete names['#report'];
    }
    const update = {
      TableName: this.tableName,
      Key: key,
      UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    const before = indexItem(delivery, receivedAt);
    const after = indexItem(next, receivedAt);
    if (!sameItem(before, after)) {
      if (after) transact.push({ Put: { TableName: this.tableName, Item: after } });
      else
        transact.push({
          Delete: { TableName: this.tableName, Key: keys.deliveryIndex(delivery.flowId, delivery.messageId, delivery.connectionId) },
        });
    }
    for (const item of extras.alsoPut ?? []) transact.push({ Put: { TableName: this.tableName, Item: item } });
    for (const k of extras.alsoDelete ?? []) transact.push({ Delete: { TableName: this.tableName, Key: k } });
    for (const k of extras.requireExists ?? []) {
      transact.push({ ConditionCheck: { TableName: this.tableName, Key: k, ConditionExpression: 'attribute_exists(pk)' } });
    }
    try {
      if (transact.length === 0) await this.documents.send(new UpdateCommand(update));
      else await this.documents.send(new TransactWriteCommand({ TransactItems: [{ Update: update }, ...transact] as never }));
    } catch (error) {
      if (isConditionFailure(error) || isTransactionConflict(error)) throw new StaleDeliveryError(deliveryKey(delivery));
      throw error;
    }
    const reportAfter =
      step.report.length === 0
        ? report
        : report && values[':reportSize'] !== undefined
          ? (values[':report'] as ReportEntry[])
          : [...(report ?? []), ...step.report];
    Object.defineProperty(next, RECORD_REPORT, { value: reportAfter, enumerable: true });
    return next;
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
    await this.documents
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: chainBlockKey(flowId, chainId, connectionId),
          UpdateExpression: 'SET releasing = :t',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':t': true },
        }),
      )
      .catch((error) => {
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
  async suspended(flowId: string, chainId: string, connectionId: string): Promise<LoadedDelivery[]> {
    const items = await queryAll(this.documents, {
      TableName: this.tableName,
      IndexName: 'gsi3',
      KeyConditionExpression: 'gsi3pk = :p',
      ExpressionAttributeValues: { ':p': `SUSPENDED#${flowId}#${chainId}#${connectionId}` },
    });
    return this.full(items);
  }

  /** Deliveries held in flight on a connection (paused, unauthorized, in error), with their receipts. */
  async held(
    connectionId: string,
  ): Promise<Pick<Delivery, 'flowId' | 'messageId' | 'connectionId' | 'lane' | 'status' | 'heldReceipt' | 'heldTicketAt'>[]> {
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
    return { items: await this.full(items), ...(lastKey ? { lastKey } : {}) };
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

  /** Deliveries re-queued by an operator before `before` that the deliverer has not seen yet. */
  async pendingRequeues(before: string, limit = 100): Promise<LoadedDelivery[]> {
    const { Items = [] } = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :p AND gsi2sk < :before',
        ExpressionAttributeValues: { ':p': 'REQUEUE', ':before': before },
        Limit: limit,
      }),
    );
    return this.full(Items);
  }
}
