import {
  DeleteCommand,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DocumentClient,
} from './protocol/dynamodb-documents';
import { applyStep, expiryPlan, FINAL_STATUSES, isFinal, listingsOf, type Step } from '../../core/lifecycle';
import { DEFAULT_RETENTION_DAYS, type Delivery, type DeliveryStatus, type FailureType, type ReportEntry } from '../../core/model';
import { TABLE } from './definitions';
import { isConditionFailure, isTransactionConflict } from './dynamo-errors';
import { queryAll } from './dynamo-query';
import type { FlowStore } from './flow-store';
import { keys, withoutKeys } from './keys';
import { DELIVERIES_ATTRIBUTE, deliveryAttribute, encodeEntries, isDefaultDeliveryValue, REPORT_ATTRIBUTE } from './record-codec';
import {
  deliveryOf,
  RECORD_REPORT,
  RECORD_STATE,
  REPORT_CAP,
  SPILLS_ATTRIBUTE,
  type LoadedDelivery,
  type MessageStore,
  type RecordState,
} from './message-store';

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
  /**
   * The flow's `retentionDays`, for a step that may make the message final; the store reads
   * the flow when it needs it and it is not given. @default the flow's setting
   */
  retentionDays?: number;
}

/** Times a step is written again when only the rest of its record changed meanwhile. */
const RECORD_RETRIES = 5;
/** DynamoDB's limit on the items of one transaction. */
const MAX_TRANSACTION_ITEMS = 100;

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
    private readonly documents: DocumentClient,
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
    return this.messages.deliveries(refs);
  }

  /**
   * Applies one lifecycle step to a delivery: one conditional update of its message's
   * record, checked against the delivery's version. Index items, report spill-over and
   * `extras` join it in a transaction only when the step needs them (never on the happy
   * path). The step's retention effect (`expiryPlan`) rides on the same write: the record's
   * TTL is set by the step that leaves every delivery final, cleared by one that takes the
   * message up again. Throws StaleDeliveryError when the delivery changed since it was read;
   * when only the rest of the record did (another branch finished, the report grew), the
   * step is written again against it.
   */
  async apply(delivery: LoadedDelivery, step: Step, extras: StepExtras = {}, receivedAt?: string): Promise<LoadedDelivery> {
    let current = delivery[RECORD_STATE] ? delivery : await this.withRecord(delivery);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.write(current, step, extras, receivedAt);
      if (outcome !== 'record-changed') return outcome;
      if (attempt >= RECORD_RETRIES) throw new StaleDeliveryError(deliveryKey(delivery));
      current = await this.withRecord(delivery);
    }
  }

  /** The delivery as the caller holds it, with the rest of its record read again; stale if the delivery itself changed. */
  private async withRecord(delivery: LoadedDelivery): Promise<LoadedDelivery> {
    const fresh = await this.get(delivery.flowId, delivery.messageId, delivery.connectionId);
    if (!fresh || (fresh.version ?? 0) !== (delivery.version ?? 0)) throw new StaleDeliveryError(deliveryKey(delivery));
    return Object.assign({ ...delivery }, { [RECORD_REPORT]: fresh[RECORD_REPORT], [RECORD_STATE]: fresh[RECORD_STATE] });
  }

  /** The flow's retention, when the step makes its message final (the caller usually knows it). */
  private async retentionDays(flowId: string, known: number | undefined): Promise<number> {
    if (known !== undefined) return known;
    return (await this.flows.get(flowId))?.retentionDays ?? DEFAULT_RETENTION_DAYS;
  }

  private async write(
    delivery: LoadedDelivery,
    step: Step,
    extras: StepExtras,
    receivedAt: string | undefined,
  ): Promise<LoadedDelivery | 'record-changed'> {
    const state = delivery[RECORD_STATE]!;
    const version = delivery.version ?? 0;
    const next = { ...applyStep(delivery, step), version: version + 1 } as LoadedDelivery;
    const key = keys.message(delivery.flowId, delivery.messageId);
    const names: Record<string, string> = {
      '#dlv': DELIVERIES_ATTRIBUTE,
      '#c': delivery.connectionId,
      '#version': deliveryAttribute('version'),
      '#report': REPORT_ATTRIBUTE,
    };
    const values: Record<string, unknown> = { ':v': version, ':nv': version + 1 };
    const sets: string[] = ['#dlv.#c.#version = :nv'];
    const removes: string[] = [];
    let field = 0;
    for (const [name, value] of Object.entries(step.set)) {
      if (value === undefined || name === 'version') continue;
      names[`#f${field}`] = deliveryAttribute(name);
      // A default value is not stored: removing the attribute writes it.
      if (isDefaultDeliveryValue(name, value)) {
        removes.push(`#dlv.#c.#f${field}`);
      } else {
        values[`:f${field}`] = value;
        sets.push(`#dlv.#c.#f${field} = :f${field}`);
      }
      field += 1;
    }
    for (const name of step.clear) {
      if (!(name in delivery)) continue;
      names[`#f${field}`] = deliveryAttribute(name);
      removes.push(`#dlv.#c.#f${field}`);
      field += 1;
    }
    const conditions = ['#dlv.#c.#version = :v'];
    const transact: Record<string, unknown>[] = [];

    // Retention (SPEC semantics 16): the TTL goes with the write that makes the message final.
    const allOthersFinal = Object.values(state.others).every(isFinal);
    const days =
      step.retention === 'final' && allOthersFinal
        ? await this.retentionDays(delivery.flowId, extras.retentionDays)
        : DEFAULT_RETENTION_DAYS;
    const plan = expiryPlan(step, state, days);
    const retentionConditions = plan.kind !== 'unchanged';
    let expiresAfter = state.expiresAt;
    // Another delivery's status in a condition (names and values are added only when used).
    const otherStatus = (connectionId: string, i: number) => {
      names['#status'] = deliveryAttribute('status');
      names[`#o${i}`] = connectionId;
      return `#dlv.#o${i}.#status`;
    };
    const finals = () =>
      FINAL_STATUSES.map((status, i) => {
        values[`:final${i}`] = status;
        return `:final${i}`;
      }).join(', ');
    switch (plan.kind) {
      case 'set':
        names['#ttl'] = TABLE.timeToLiveAttribute;
        values[':ttl'] = plan.expiresAt;
        sets.push('#ttl = :ttl');
        plan.othersFinal.forEach((connectionId, i) => conditions.push(`${otherStatus(connectionId, i)} IN (${finals()})`));
        expiresAfter = plan.expiresAt;
        break;
      case 'open':
        conditions.push(
          `(${plan.othersOpen.map((connectionId, i) => `NOT (${otherStatus(connectionId, i)} IN (${finals()}))`).join(' OR ')})`,
        );
        break;
      case 'clear':
        names['#ttl'] = TABLE.timeToLiveAttribute;
        values[':expected'] = plan.expected;
        removes.push('#ttl');
        conditions.push('#ttl = :expected');
        expiresAfter = undefined;
        break;
      case 'absent':
        names['#ttl'] = TABLE.timeToLiveAttribute;
        conditions.push('attribute_not_exists(#ttl)');
        break;
      case 'unchanged':
        break;
    }

    const report = delivery[RECORD_REPORT];
    let spilledKey: string | undefined;
    let keptReport: ReportEntry[] | undefined;
    if (step.report.length > 0) {
      if (report && report.length + step.report.length > REPORT_CAP) {
        // Spill the oldest entries into an item of their own; the record keeps the newest.
        const all = [...report, ...step.report];
        const keep = all.slice(all.length - Math.floor(REPORT_CAP / 2));
        keptReport = keep;
        const spill = all.slice(0, all.length - keep.length);
        const spillKey = keys.reportSpill(delivery.flowId, delivery.messageId, spill[0]!.at);
        spilledKey = spillKey.sk;
        transact.push({
          Put: {
            TableName: this.tableName,
            Item: {
              ...spillKey,
              entries: encodeEntries(spill),
              ...(expiresAfter !== undefined ? { [TABLE.timeToLiveAttribute]: expiresAfter } : {}),
            },
          },
        });
        names['#spills'] = SPILLS_ATTRIBUTE;
        values[':report'] = encodeEntries(keep);
        values[':reportSize'] = report.length;
        values[':spilled'] = [spillKey.sk];
        values[':empty'] = [];
        sets.push('#report = :report', '#spills = list_append(if_not_exists(#spills, :empty), :spilled)');
        conditions.push('size(#report) = :reportSize');
      } else {
        values[':report'] = encodeEntries(step.report);
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
    // The spilled report items expire with the record (only a message with a long report has any).
    const spillUpdates =
      plan.kind === 'set' || plan.kind === 'clear' ? state.spills.map((sk) => this.spillExpiry(delivery, sk, expiresAfter)) : [];
    const room = Math.max(0, MAX_TRANSACTION_ITEMS - 1 - transact.length);
    transact.push(...spillUpdates.slice(0, room));
    try {
      if (transact.length === 0) await this.documents.send(new UpdateCommand(update));
      else await this.documents.send(new TransactWriteCommand({ TransactItems: [{ Update: update }, ...transact] as never }));
    } catch (error) {
      if (isConditionFailure(error) && (retentionConditions || values[':reportSize'] !== undefined)) return 'record-changed';
      if (isConditionFailure(error) || isTransactionConflict(error)) throw new StaleDeliveryError(deliveryKey(delivery));
      throw error;
    }
    // More spilled items than one transaction holds (a report of thousands of entries): the rest follow.
    for (const rest of spillUpdates.slice(room)) await this.documents.send(new UpdateCommand(rest.Update as never));
    const reportAfter = step.report.length === 0 ? report : (keptReport ?? [...(report ?? []), ...step.report]);
    Object.defineProperty(next, RECORD_REPORT, { value: reportAfter, enumerable: true });
    const stateAfter: RecordState = {
      others: state.others,
      ...(expiresAfter !== undefined ? { expiresAt: expiresAfter } : {}),
      spills: spilledKey ? [...state.spills, spilledKey] : state.spills,
    };
    Object.defineProperty(next, RECORD_STATE, { value: stateAfter, enumerable: true });
    return next;
  }

  /** Sets or removes the TTL of one spilled report item, as a transaction entry. */
  private spillExpiry(d: Pick<Delivery, 'flowId' | 'messageId'>, sk: string, expiresAt: number | undefined): Record<string, unknown> {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: keys.messagePartition(d.flowId, d.messageId), sk },
        UpdateExpression: expiresAt !== undefined ? 'SET #ttl = :ttl' : 'REMOVE #ttl',
        ExpressionAttributeNames: { '#ttl': TABLE.timeToLiveAttribute },
        ...(expiresAt !== undefined ? { ExpressionAttributeValues: { ':ttl': expiresAt } } : {}),
      },
    };
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
