import { randomUUID } from 'node:crypto';
import type {
  AttributeValue,
  BatchGetItemCommandInput,
  BatchGetItemCommandOutput,
  BatchWriteItemCommandInput,
  BatchWriteItemCommandOutput,
  DeleteItemCommandInput,
  DeleteItemCommandOutput,
  GetItemCommandInput,
  GetItemCommandOutput,
  PutItemCommandInput,
  PutItemCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
  ScanCommandInput,
  ScanCommandOutput,
  TransactWriteItemsCommandInput,
  TransactWriteItemsCommandOutput,
  UpdateItemCommandInput,
  UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { blobOf, jsonService } from './json-protocol';
import { commandFor, regionalHost } from './operation';

/** DynamoDB's JSON protocol; binary attributes travel as base64. */
export const dynamodbService = jsonService({
  label: 'DynamoDB',
  signingName: 'dynamodb',
  host: (region) => regionalHost('dynamodb', region),
  version: '1.0',
  targetPrefix: 'DynamoDB_20120810',
  // The SDK's default for DynamoDB in the version this project locks.
  defaultMaxAttempts: 4,
  readErrorFields: readErrorItems,
});

/** An attribute value from the wire: binary members back to bytes, maps and lists walked. */
function attributeOf(value: any): AttributeValue {
  if (value === null || typeof value !== 'object') return value;
  if ('B' in value) return { B: blobOf(value.B)! };
  if ('BS' in value) return { BS: (value.BS as string[]).map((b) => blobOf(b)!) };
  if ('M' in value) return { M: itemOf(value.M)! };
  if ('L' in value) return { L: (value.L as unknown[]).map(attributeOf) };
  return value;
}

function itemOf(item: any): Record<string, AttributeValue> | undefined {
  if (!item) return item;
  const out: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(item)) out[name] = attributeOf(value);
  return out;
}

const itemsOf = (items: any) => (Array.isArray(items) ? items.map(itemOf) : items);

function itemsByTable(byTable: any): any {
  if (!byTable) return byTable;
  return Object.fromEntries(Object.entries(byTable).map(([table, items]) => [table, itemsOf(items)]));
}

/** An item collection's metrics, the collection's key with its binary values restored. */
const metricsOf = (metrics: any) =>
  metrics?.ItemCollectionKey ? { ...metrics, ItemCollectionKey: itemOf(metrics.ItemCollectionKey) } : metrics;

/**
 * The item-bearing members of any DynamoDB answer, with their binary values restored.
 * A batch's or a transaction's item collection metrics come by table (`metricsByTable`).
 */
function readItems(output: Record<string, any>, metricsByTable = false): any {
  const read = { ...output };
  if (read.Item) read.Item = itemOf(read.Item);
  if (read.Items) read.Items = itemsOf(read.Items);
  if (read.Attributes) read.Attributes = itemOf(read.Attributes);
  if (read.LastEvaluatedKey) read.LastEvaluatedKey = itemOf(read.LastEvaluatedKey);
  if (read.Responses) read.Responses = itemsByTable(read.Responses);
  if (read.UnprocessedKeys) {
    read.UnprocessedKeys = Object.fromEntries(
      Object.entries(read.UnprocessedKeys as Record<string, any>).map(([table, request]) => [
        table,
        { ...request, Keys: itemsOf(request.Keys) },
      ]),
    );
  }
  if (read.UnprocessedItems) {
    read.UnprocessedItems = Object.fromEntries(
      Object.entries(read.UnprocessedItems as Record<string, any[]>).map(([table, requests]) => [
        table,
        requests.map((r) => ({
          ...(r.PutRequest ? { PutRequest: { Item: itemOf(r.PutRequest.Item) } } : {}),
          ...(r.DeleteRequest ? { DeleteRequest: { Key: itemOf(r.DeleteRequest.Key) } } : {}),
        })),
      ]),
    );
  }
  if (read.ItemCollectionMetrics) {
    read.ItemCollectionMetrics = metricsByTable
      ? Object.fromEntries(
          Object.entries(read.ItemCollectionMetrics as Record<string, unknown[]>).map(([table, metrics]) => [
            table,
            metrics.map(metricsOf),
          ]),
        )
      : metricsOf(read.ItemCollectionMetrics);
  }
  return read;
}

/** The items an error carries (a failed condition's, a cancelled transaction's reasons'), read as an answer's. */
function readErrorItems(fields: Record<string, any>): Record<string, unknown> {
  const read = { ...fields };
  if (read.Item) read.Item = itemOf(read.Item);
  if (Array.isArray(read.CancellationReasons)) {
    read.CancellationReasons = read.CancellationReasons.map((reason: any) =>
      reason?.Item ? { ...reason, Item: itemOf(reason.Item) } : reason,
    );
  }
  return read;
}

const op = <I, O>(name: string, read: (output: Record<string, any>) => any = readItems) => dynamodbService.operation<I, O>(name, read);
const byTable = (output: Record<string, any>) => readItems(output, true);

export const PutItemCommand = commandFor(op<PutItemCommandInput, PutItemCommandOutput>('PutItem'));
export const GetItemCommand = commandFor(op<GetItemCommandInput, GetItemCommandOutput>('GetItem'));
export const UpdateItemCommand = commandFor(op<UpdateItemCommandInput, UpdateItemCommandOutput>('UpdateItem'));
export const DeleteItemCommand = commandFor(op<DeleteItemCommandInput, DeleteItemCommandOutput>('DeleteItem'));
export const QueryCommand = commandFor(op<QueryCommandInput, QueryCommandOutput>('Query'));
export const ScanCommand = commandFor(op<ScanCommandInput, ScanCommandOutput>('Scan'));
export const BatchGetItemCommand = commandFor(op<BatchGetItemCommandInput, BatchGetItemCommandOutput>('BatchGetItem'));
export const BatchWriteItemCommand = commandFor(op<BatchWriteItemCommandInput, BatchWriteItemCommandOutput>('BatchWriteItem', byTable));
/**
 * A transaction carries an idempotency token, as the SDK fills one in: an attempt retried
 * after a lost answer then finds the transaction done instead of failing its own conditions.
 * The token is drawn once per call (serialization runs outside the retry loop).
 */
const transactWriteItems = op<TransactWriteItemsCommandInput, TransactWriteItemsCommandOutput>('TransactWriteItems', byTable);
export const TransactWriteItemsCommand = commandFor<TransactWriteItemsCommandInput, TransactWriteItemsCommandOutput>({
  ...transactWriteItems,
  serialize: (input, context) =>
    transactWriteItems.serialize({ ...input, ClientRequestToken: input.ClientRequestToken ?? randomUUID() }, context),
});
