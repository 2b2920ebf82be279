import { randomBytes } from 'node:crypto';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Delivery, Message, MessageStatus, ReportEntry } from '../../core/model';
import { isConditionFailure } from './dynamo-errors';
import { queryAll } from './dynamo-query';
import type { FlowStore } from './flow-store';
import { decodeCursor, encodeCursor, keys, listings, withoutKeys } from './keys';

/** A message record with its bookkeeping. */
export interface StoredMessage extends Message {
  status: MessageStatus;
  /** Epoch ms until which one request owns the enqueue of a pending message. */
  enqueueLeaseUntil?: number;
}

export interface MessageDetail {
  message: StoredMessage;
  deliveries: Delivery[];
  report: ReportEntry[];
}

let reportSequence = 0;

/** Sort key that keeps report entries in the order they were written, even within one millisecond. */
function reportKey(at: string): string {
  reportSequence = (reportSequence + 1) % 1_000_000;
  return `${keys.reportPrefix}${at}#${String(reportSequence).padStart(6, '0')}${randomBytes(2).toString('hex')}`;
}

export class MessageStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly flows: FlowStore,
  ) {}

  reportPut(flowId: string, messageId: string, entry: ReportEntry) {
    return {
      TableName: this.tableName,
      Item: { pk: keys.messagePartition(flowId, messageId), sk: reportKey(entry.at), ...entry },
    };
  }

  /**
   * Records a new message, its deliveries and its first report entry in one
   * transaction, conditional on the (flow, GUID) key being new. Returns false when
   * the GUID was already recorded: no read-then-write race.
   */
  async accept(message: StoredMessage, deliveries: Delivery[], received: ReportEntry, inlinePayload?: Buffer): Promise<boolean> {
    const counts = this.flows.countsUpdate(message.flowId, { accepted: 1, queued: deliveries.length }, message.messageId);
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...keys.message(message.flowId, message.messageId),
                  ...message,
                  gsi1pk: listings.flowMessages(message.flowId),
                  gsi1sk: `${message.receivedAt}#${message.messageId}`,
                  gsi2pk: listings.pendingEnqueue,
                  gsi2sk: `${message.receivedAt}#${message.flowId}#${message.messageId}`,
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            ...(inlinePayload
              ? [{ Put: { TableName: this.tableName, Item: { ...keys.inlinePayload(message.flowId, message.messageId), body: inlinePayload } } }]
              : []),
            ...deliveries.map((delivery) => ({
              Put: {
                TableName: this.tableName,
                Item: { ...keys.delivery(delivery.flowId, delivery.messageId, delivery.connectionId), ...delivery },
              },
            })),
            { Put: this.reportPut(message.flowId, message.messageId, received) },
            ...(counts ? [{ Update: counts }] : []),
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async get(flowId: string, messageId: string, consistent = false): Promise<StoredMessage | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.message(flowId, messageId), ConsistentRead: consistent }),
    );
    return Item ? withoutKeys<StoredMessage>(Item) : undefined;
  }

  /** The message, its deliveries and its execution report, from one partition. */
  async detail(flowId: string, messageId: string): Promise<MessageDetail | undefined> {
    const items = await queryAll(this.documents, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': keys.messagePartition(flowId, messageId) },
      ConsistentRead: true,
    });
    const messageItem = items.find((item) => item.sk === 'MESSAGE');
    if (!messageItem) return undefined;
    return {
      message: withoutKeys<StoredMessage>(messageItem),
      deliveries: items.filter((item) => String(item.sk).startsWith('DLV#')).map((item) => withoutKeys<Delivery>(item)),
      report: items
        .filter((item) => String(item.sk).startsWith(keys.reportPrefix))
        .map((item) => withoutKeys<ReportEntry>(item)),
    };
  }

  /**
   * Takes the enqueue lease of a pending message when it is free or expired.
   * Returns false when another request holds it or the enqueue is done.
   */
  async claimEnqueue(flowId: string, messageId: string, nowMs: number, leaseMs: number): Promise<boolean> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.message(flowId, messageId),
          UpdateExpression: 'SET enqueueLeaseUntil = :until',
          ConditionExpression: 'enqueue = :pending AND (attribute_not_exists(enqueueLeaseUntil) OR enqueueLeaseUntil < :now)',
          ExpressionAttributeValues: { ':until': nowMs + leaseMs, ':pending': 'pending', ':now': nowMs },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async releaseEnqueue(flowId: string, messageId: string): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.message(flowId, messageId),
        UpdateExpression: 'REMOVE enqueueLeaseUntil',
        ConditionExpression: 'enqueue = :pending',
        ExpressionAttributeValues: { ':pending': 'pending' },
      }),
    ).catch((error) => {
      if (!isConditionFailure(error)) throw error;
    });
  }

  /** The bytes of an inline payload (kept in their own item beside the message). */
  async inlinePayload(flowId: string, messageId: string): Promise<Buffer> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.inlinePayload(flowId, messageId), ConsistentRead: true }),
    );
    if (!Item) throw new Error(`inline payload of ${flowId}/${messageId} is missing`);
    return Buffer.from(Item.body as Uint8Array);
  }

  /**
   * Marks every destination queued; the message leaves the sweep's index. Not a
   * transaction: the report entry follows the state change it describes, and a
   * request that loses the race to finish the same enqueue writes no second entry.
   */
  async markEnqueued(flowId: string, messageId: string, queued: ReportEntry): Promise<void> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.message(flowId, messageId),
          UpdateExpression: 'SET enqueue = :done, #status = :queued REMOVE enqueueLeaseUntil, gsi2pk, gsi2sk',
          ConditionExpression: 'enqueue = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':done': 'done', ':queued': 'queued', ':pending': 'pending' },
        }),
      );
    } catch (error) {
      // Another request finished the same enqueue first: the outcome is the same.
      if (isConditionFailure(error)) return;
      throw error;
    }
    await this.documents.send(new PutCommand(this.reportPut(flowId, messageId, queued)));
  }

  /** Messages still pending enqueue that were received before `before`, oldest first. */
  async pendingEnqueue(before: Date, limit = 100): Promise<{ flowId: string; messageId: string }[]> {
    const { Items = [] } = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :p AND gsi2sk < :before',
        ExpressionAttributeValues: { ':p': listings.pendingEnqueue, ':before': before.toISOString() },
        Limit: limit,
      }),
    );
    return Items.map((item) => ({ flowId: String(item.flowId), messageId: String(item.messageId) }));
  }

  async list(
    flowId: string,
    options: { status?: MessageStatus; limit: number; cursor?: string },
  ): Promise<{ items: StoredMessage[]; cursor?: string }> {
    const { Items = [], LastEvaluatedKey } = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p',
        ...(options.status
          ? { FilterExpression: '#status = :s', ExpressionAttributeNames: { '#status': 'status' } }
          : {}),
        ExpressionAttributeValues: { ':p': listings.flowMessages(flowId), ...(options.status ? { ':s': options.status } : {}) },
        Limit: options.limit,
        ExclusiveStartKey: decodeCursor(options.cursor),
      }),
    );
    return { items: Items.map((item) => withoutKeys<StoredMessage>(item)), cursor: encodeCursor(LastEvaluatedKey) };
  }

  /**
   * A message of the flow whose deliveries are not all final (`delivered`, `discarded`):
   * a message's status is its least advanced branch, so its own status tells. Reads
   * pages until one is found; undefined when there is none.
   */
  async firstUnfinished(flowId: string): Promise<string | undefined> {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :p',
          FilterExpression: 'NOT (#status IN (:delivered, :discarded))',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':p': listings.flowMessages(flowId), ':delivered': 'delivered', ':discarded': 'discarded' },
          ExclusiveStartKey: start,
        }),
      );
      const found = page.Items?.[0];
      if (found) return String(found.messageId);
      start = page.LastEvaluatedKey;
    } while (start);
    return undefined;
  }
}
