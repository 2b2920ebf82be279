import {
  DeleteCommand,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Delivery, FailureType, FlowCounts, MessageStatus, ReportEntry } from '../../core/model';
import { isConditionFailure } from './dynamo-errors';
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
   * Applies one state change atomically: the delivery (checked against its version),
   * report entries, flow counters and the message's status. Returns the new delivery.
   */
  async commit(delivery: Delivery, change: DeliveryChange): Promise<Delivery> {
    const version = delivery.version ?? 0;
    const set: Record<string, unknown> = { ...change.set, version: version + 1 };
    const names = Object.keys(set);
    const removals = (change.remove ?? []).filter((name) => !(name in set));
    const counts = change.counts ? this.flows.countsUpdate(delivery.flowId, change.counts) : undefined;
    const transact = [
      {
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
      },
      ...(change.report ?? []).map((entry) => ({ Put: this.messages.reportPut(delivery.flowId, delivery.messageId, entry) })),
      ...(counts ? [{ Update: counts }] : []),
      ...(change.messageStatus
        ? [
            {
              Update: {
                TableName: this.tableName,
                Key: keys.message(delivery.flowId, delivery.messageId),
                UpdateExpression: 'SET #status = :status',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':status': change.messageStatus },
              },
            },
          ]
        : []),
      ...(change.alsoPut ?? []).map((item) => ({ Put: { TableName: this.tableName, Item: item } })),
      ...(change.alsoDelete ?? []).map((key) => ({ Delete: { TableName: this.tableName, Key: key } })),
    ];
    try {
      await this.documents.send(new TransactWriteCommand({ TransactItems: transact }));
    } catch (error) {
      if (isConditionFailure(error)) throw new StaleDeliveryError(deliveryKey(delivery));
      throw error;
    }
    const next: Record<string, unknown> = { ...delivery, ...set };
    for (const name of removals) delete next[name];
    for (const name of deliveryIndexes.all) delete next[name];
    return next as unknown as Delivery;
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
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi3',
          KeyConditionExpression: 'gsi3pk = :p',
          ExpressionAttributeValues: { ':p': `SUSPENDED#${flowId}#${chainId}#${connectionId}` },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items.map((item) => withoutKeys<Delivery>(item));
  }

  /** Deliveries held in flight on a connection (paused, unauthorized, in error), with their receipts. */
  async held(connectionId: string): Promise<Delivery[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi2',
          KeyConditionExpression: 'gsi2pk = :p',
          ExpressionAttributeValues: { ':p': `HELD#CONN#${connectionId}` },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
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
}
