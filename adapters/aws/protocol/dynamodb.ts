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
  readErrorFields: (fields) => readItems(fields),
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

/** Members that hold one item (or key, or value map) in a request or an answer. */
const ONE_ITEM = new Set([
  'Item',
  'Key',
  'ExclusiveStartKey',
  'ExpressionAttributeValues',
  'Attributes',
  'LastEvaluatedKey',
  'ItemCollectionKey',
]);
/** Members that hold a list of them. */
const ITEM_LIST = new Set(['Items', 'Keys']);

const isPlain = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof Set);

/**
 * Converts every item-bearing member of a DynamoDB request, answer or error, wherever it
 * sits (a transaction's `Put.Item`, a batch's `RequestItems.<table>.Keys` or
 * `UnprocessedItems.<table>[].PutRequest.Item`, an answer's `Responses.<table>`, a
 * cancellation reason's `Item`, item collection metrics by table or not), as
 * `@aws-sdk/lib-dynamodb` does per command.
 */
export function mapItems(value: unknown, convert: (item: any) => any, name?: string): unknown {
  if (name !== undefined && ONE_ITEM.has(name) && isPlain(value)) return convert(value);
  if (name !== undefined && ITEM_LIST.has(name) && Array.isArray(value)) return value.map(convert);
  if (name === 'Responses' && isPlain(value)) {
    return Object.fromEntries(Object.entries(value).map(([table, items]) => [table, Array.isArray(items) ? items.map(convert) : items]));
  }
  if (Array.isArray(value)) return value.map((entry) => mapItems(entry, convert));
  if (isPlain(value)) return Object.fromEntries(Object.entries(value).map(([key, member]) => [key, mapItems(member, convert, key)]));
  return value;
}

/** The items of an answer or of an error's fields (a failed condition's, a cancelled transaction's reasons'), their binary values restored. */
const readItems = (output: Record<string, unknown>): any => mapItems(output, itemOf);

const op = <I, O>(name: string) => dynamodbService.operation<I, O>(name, readItems);

export const PutItemCommand = commandFor(op<PutItemCommandInput, PutItemCommandOutput>('PutItem'));
export const GetItemCommand = commandFor(op<GetItemCommandInput, GetItemCommandOutput>('GetItem'));
export const UpdateItemCommand = commandFor(op<UpdateItemCommandInput, UpdateItemCommandOutput>('UpdateItem'));
export const DeleteItemCommand = commandFor(op<DeleteItemCommandInput, DeleteItemCommandOutput>('DeleteItem'));
export const QueryCommand = commandFor(op<QueryCommandInput, QueryCommandOutput>('Query'));
export const ScanCommand = commandFor(op<ScanCommandInput, ScanCommandOutput>('Scan'));
export const BatchGetItemCommand = commandFor(op<BatchGetItemCommandInput, BatchGetItemCommandOutput>('BatchGetItem'));
export const BatchWriteItemCommand = commandFor(op<BatchWriteItemCommandInput, BatchWriteItemCommandOutput>('BatchWriteItem'));
/**
 * A transaction carries an idempotency token, as the SDK fills one in: an attempt retried
 * after a lost answer then finds the transaction done instead of failing its own conditions.
 * The token is drawn once per call (serialization runs outside the retry loop).
 */
const transactWriteItems = op<TransactWriteItemsCommandInput, TransactWriteItemsCommandOutput>('TransactWriteItems');
export const TransactWriteItemsCommand = commandFor<TransactWriteItemsCommandInput, TransactWriteItemsCommandOutput>({
  ...transactWriteItems,
  serialize: (input, context) =>
    transactWriteItems.serialize({ ...input, ClientRequestToken: input.ClientRequestToken ?? randomUUID() }, context),
});
