/**
 * Middleware that bills every DynamoDB request the gateway makes by AWS's rules
 * (dynamodb-units.ts), from the requests and responses themselves.
 *
 * To bill an update or a replacing put, the size of the item before and after is needed.
 * The meter keeps an image (size and index entries, not the item) of every item the gateway
 * writes or reads in full, and fills the gaps itself:
 * - put and delete: asks for ReturnValues ALL_OLD when the caller asked for nothing (and hides
 *   the answer from the caller);
 * - update: asks for ALL_NEW when the caller asked for nothing (hidden likewise); when the caller
 *   asked for something else, reads the item back;
 * - anything it has no image of: reads the item first (GetItem or BatchGetItem, strongly
 *   consistent), on a client of its own that is neither metered nor attributed to a handler;
 * - Query and Scan with a projection, a filter or a COUNT: runs the same key condition again
 *   without them, to see every item read.
 * Two concurrent writes of one item may both bill against the same "before": the error is
 * the difference in size between them, which is bytes for the counters this concerns.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import { BatchGetItemCommand, DescribeTableCommand, QueryCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  imageOf,
  itemKey,
  itemSize,
  readUnits,
  totalWriteUnits,
  unchangedWriteCost,
  writeCost,
  type Item,
  type ItemImage,
  type TableSchema,
  type WriteCost,
} from './dynamodb-units';

/** Units of one request, as billed. */
export interface RequestUnits {
  readUnits: number;
  writeUnits: number;
  /** Of `writeUnits`, spent on global secondary indexes, by index. */
  indexWriteUnits: Record<string, number>;
}

export interface DynamoDbMeterOptions {
  /** A client without the meter: the meter's own reads are not billed to the gateway. */
  raw: DynamoDBClient;
  /** Called once per billed request. */
  onUnits: (operation: string, units: RequestUnits) => void;
  /** Called when billing a request failed (the request itself is unaffected). */
  onError?: (error: unknown) => void;
  /** Runs the meter's own work outside any handler's scope (its CPU is not the handler's). */
  detached?: <T>(fn: () => T) => T;
  /** Table schemas by name; others are described on first use. */
  schemas?: TableSchema[];
  /**
   * The meter has seen every write since the table was created (a fresh in-memory emulator,
   * metered from the start): an item it has no image of does not exist, and is not read.
   * @default false
   */
  unseenItemsAreAbsent?: boolean;
}

type Middleware = (next: (args: any) => Promise<any>, context: { commandName?: string }) => (args: any) => Promise<any>;

const WRITES_WITHOUT_ANSWER = new Set([undefined, 'NONE']);

/** The schema of a table as DescribeTable reports it (keys, indexes, projections). */
export async function describeSchema(client: DynamoDBClient, tableName: string): Promise<TableSchema> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const keys = (schema: { AttributeName?: string; KeyType?: string }[] | undefined) =>
    [...(schema ?? [])].sort((a, b) => (a.KeyType === 'HASH' ? -1 : b.KeyType === 'HASH' ? 1 : 0)).map((k) => k.AttributeName!);
  return {
    tableName,
    keyAttributes: keys(Table?.KeySchema),
    globalSecondaryIndexes: (Table?.GlobalSecondaryIndexes ?? []).map((index) => ({
      name: index.IndexName!,
      keyAttributes: keys(index.KeySchema),
      projection:
        index.Projection?.ProjectionType === 'INCLUDE'
          ? { type: 'INCLUDE' as const, nonKeyAttributes: index.Projection.NonKeyAttributes ?? [] }
          : { type: (index.Projection?.ProjectionType ?? 'ALL') as 'ALL' | 'KEYS_ONLY' },
    })),
  };
}

/** Names (#n) and values (:v) an expression uses, so that a re-run sends no unused ones. */
function usedPlaceholders<T>(
  expressions: (string | undefined)[],
  placeholders: Record<string, T> | undefined,
): Record<string, T> | undefined {
  if (!placeholders) return undefined;
  const text = expressions.filter(Boolean).join(' ');
  const used = Object.fromEntries(
    Object.entries(placeholders).filter(([name]) =>
      new RegExp(`${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_])`).test(text),
    ),
  );
  return Object.keys(used).length > 0 ? used : undefined;
}

export class DynamoDbMeter {
  private readonly images = new Map<string, ItemImage | undefined>();
  private readonly schemas = new Map<string, Promise<TableSchema>>();
  private readonly detached: <T>(fn: () => T) => T;

  constructor(private readonly options: DynamoDbMeterOptions) {
    this.detached = options.detached ?? ((fn) => fn());
    for (const schema of options.schemas ?? []) this.schemas.set(schema.tableName, Promise.resolve(schema));
  }

  /**
   * Adds the meter to a client. Two middlewares: one before serialization asks for the
   * ReturnValues billing needs (and hides them from the caller); one at the build step bills
   * from the wire form of the request (the document client has marshalled it by then).
   */
  instrument(client: { middlewareStack: unknown }): void {
    const stack = client.middlewareStack as unknown as { add: (m: Middleware, o: object) => void };
    stack.add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? '').replace(/Command$/, '');
        const input = args.input ?? {};
        const wanted =
          operation === 'UpdateItem' ? 'ALL_NEW' : operation === 'PutItem' || operation === 'DeleteItem' ? 'ALL_OLD' : undefined;
        const ask = wanted !== undefined && WRITES_WITHOUT_ANSWER.has(input.ReturnValues);
        if (!ask) return next(args);
        const original = input.ReturnValues;
        input.ReturnValues = wanted;
        try {
          const result = await next(args);
          if (result.output) delete result.output.Attributes;
          return result;
        } finally {
          input.ReturnValues = original;
        }
      },
      { step: 'serialize', priority: 'high', name: 'benchDynamoDbReturnValues' },
    );
    stack.add(
      (next, context: any) => async (args) => {
        const document = context.__aws_sdk_context?.features?.DDB_MAPPER === 'd';
        let sent = false;
        let answer: any;
        let failure: { error: unknown } | undefined;
        try {
          await this.handle((context.commandName ?? '').replace(/Command$/, ''), args, async (a) => {
            sent = true;
            try {
              answer = await next(a);
            } catch (error) {
              failure = { error };
              throw error;
            }
            return document ? { ...answer, output: this.wire(answer.output) } : answer;
          });
        } catch (error) {
          if (failure) throw failure.error;
          // The meter itself failed: the request goes on unbilled, never broken by the bench.
          this.options.onError?.(error);
          if (!sent) return next(args);
        }
        // The caller gets the answer as the client made it, never the meter's wire copy.
        return answer;
      },
      { step: 'build', priority: 'high', name: 'benchDynamoDbUnits' },
    );
  }

  /** The document client hands back plain objects: billing needs the wire form of the items. */
  private wire(output: any): any {
    if (!output) return output;
    const m = (item: any) => (item ? marshall(item, { convertClassInstanceToMap: true, removeUndefinedValues: true }) : item);
    return this.detached(() => ({
      ...output,
      ...(output.Item ? { Item: m(output.Item) } : {}),
      ...(output.Items ? { Items: output.Items.map(m) } : {}),
      ...(output.Attributes ? { Attributes: m(output.Attributes) } : {}),
      ...(output.Responses && !Array.isArray(output.Responses)
        ? { Responses: Object.fromEntries(Object.entries<any[]>(output.Responses).map(([t, items]) => [t, items.map(m)])) }
        : {}),
    }));
  }

  private schema(tableName: string): Promise<TableSchema> {
    let schema = this.schemas.get(tableName);
    if (!schema) {
      schema = this.detached(() => describeSchema(this.options.raw, tableName));
      this.schemas.set(tableName, schema);
    }
    return schema;
  }

  private bill(operation: string, costs: WriteCost[], reads = 0): void {
    const indexWriteUnits: Record<string, number> = {};
    for (const cost of costs)
      for (const [name, units] of Object.entries(cost.indexes)) indexWriteUnits[name] = (indexWriteUnits[name] ?? 0) + units;
    this.options.onUnits(operation, { readUnits: reads, writeUnits: costs.reduce((s, c) => s + totalWriteUnits(c), 0), indexWriteUnits });
  }

  /** Images of items by key, from memory or read (strongly consistent, unmetered). */
  private async before(schema: TableSchema, keys: Item[]): Promise<(ItemImage | undefined)[]> {
    const missing = keys.filter((k) => !this.images.has(itemKey(schema, k)));
    if (missing.length > 0 && !this.options.unseenItemsAreAbsent) await this.load(schema, missing);
    return keys.map((k) => this.images.get(itemKey(schema, k)));
  }

  /** Reads items (unmetered) and remembers their images; absent items are remembered as absent. */
  private async load(schema: TableSchema, keys: Item[]): Promise<void> {
    const projected = (k: Item) => Object.fromEntries(schema.keyAttributes.map((a) => [a, k[a]!]));
    for (let i = 0; i < keys.length; i += 100) {
      const chunk = keys.slice(i, i + 100).map(projected);
      for (const k of chunk) this.images.set(itemKey(schema, k), undefined);
      let request: Record<string, any> | undefined = { [schema.tableName]: { Keys: chunk, ConsistentRead: true } };
      while (request && Object.keys(request).length > 0) {
        const result: any = await this.detached(() => this.options.raw.send(new BatchGetItemCommand({ RequestItems: request })));
        for (const item of result.Responses?.[schema.tableName] ?? []) this.remember(schema, item);
        request = result.UnprocessedKeys;
      }
    }
  }

  private remember(schema: TableSchema, item: Item | undefined, key?: Item): ItemImage | undefined {
    const image = imageOf(schema, item);
    this.images.set(itemKey(schema, item ?? key!), image);
    return image;
  }

  private async handle(operation: string, args: any, next: (args: any) => Promise<any>): Promise<any> {
    const input = args.input ?? {};
    switch (operation) {
      case 'GetItem':
        return this.getItem(input, args, next);
      case 'BatchGetItem':
        return this.batchGetItem(input, args, next);
      case 'TransactGetItems':
        return this.transactGetItems(input, args, next);
      case 'Query':
      case 'Scan':
        return this.queryOrScan(operation, input, args, next);
      case 'PutItem':
      case 'DeleteItem':
        return this.putOrDelete(operation, input, args, next);
      case 'UpdateItem':
        return this.updateItem(input, args, next);
      case 'BatchWriteItem':
        return this.batchWriteItem(input, args, next);
      case 'TransactWriteItems':
        return this.transactWriteItems(input, args, next);
      default:
        return next(args);
    }
  }

  private async getItem(input: any, args: any, next: (args: any) => Promise<any>) {
    const schema = await this.schema(input.TableName);
    const result = await next(args);
    const item: Item | undefined = result.output?.Item;
    const size = input.ProjectionExpression
      ? ((await this.before(schema, [input.Key]))[0]?.size ?? 0)
      : (this.detached(() => this.remember(schema, item, input.Key))?.size ?? 0);
    this.bill('GetItem', [], readUnits(size, input.ConsistentRead ? 'strong' : 'eventual'));
    return result;
  }

  private async batchGetItem(input: any, args: any, next: (args: any) => Promise<any>) {
    const result = await next(args);
    let reads = 0;
    for (const [table, request] of Object.entries<any>(input.RequestItems ?? {})) {
      const schema = await this.schema(table);
      const unprocessed = new Set(((result.output?.UnprocessedKeys?.[table]?.Keys ?? []) as Item[]).map((k) => itemKey(schema, k)));
      const keys = (request.Keys as Item[]).filter((k) => !unprocessed.has(itemKey(schema, k)));
      if (!request.ProjectionExpression)
        this.detached(() => (result.output?.Responses?.[table] ?? []).forEach((item: Item) => this.remember(schema, item)));
      const sizes = await this.before(schema, keys);
      for (const image of sizes) reads += readUnits(image?.size ?? 0, request.ConsistentRead ? 'strong' : 'eventual');
    }
    this.bill('BatchGetItem', [], reads);
    return result;
  }

  private async transactGetItems(input: any, args: any, next: (args: any) => Promise<any>) {
    const result = await next(args);
    let reads = 0;
    for (const { Get } of input.TransactItems ?? []) {
      const schema = await this.schema(Get.TableName);
      const [image] = await this.before(schema, [Get.Key]);
      reads += 2 * readUnits(image?.size ?? 0, 'strong');
    }
    this.bill('TransactGetItems', [], reads);
    return result;
  }

  private async queryOrScan(operation: 'Query' | 'Scan', input: any, args: any, next: (args: any) => Promise<any>) {
    const result = await next(args);
    const partial =
      input.ProjectionExpression || input.FilterExpression || (input.Select && input.Select !== 'ALL_ATTRIBUTES') || input.AttributesToGet;
    let items: Item[] = result.output?.Items ?? [];
    if (partial) {
      // The same page again, every attribute of every item read: what AWS bills.
      const rerun: any = {
        TableName: input.TableName,
        IndexName: input.IndexName,
        KeyConditionExpression: input.KeyConditionExpression,
        ExclusiveStartKey: input.ExclusiveStartKey,
        Limit: input.Limit,
        ScanIndexForward: input.ScanIndexForward,
        ConsistentRead: input.ConsistentRead,
        Segment: input.Segment,
        TotalSegments: input.TotalSegments,
        ExpressionAttributeNames: usedPlaceholders([input.KeyConditionExpression], input.ExpressionAttributeNames),
        ExpressionAttributeValues: usedPlaceholders([input.KeyConditionExpression], input.ExpressionAttributeValues),
      };
      const again: any = await this.detached(() =>
        this.options.raw.send(operation === 'Query' ? new QueryCommand(rerun) : new ScanCommand(rerun)),
      );
      items = again.Items ?? [];
    } else if (!input.IndexName) {
      const schema = await this.schema(input.TableName);
      this.detached(() => items.forEach((item) => this.remember(schema, item)));
    }
    const bytes = this.detached(() => items.reduce((n, item) => n + itemSize(item), 0));
    this.bill(operation, [], readUnits(bytes, input.ConsistentRead ? 'strong' : 'eventual'));
    return result;
  }

  private async putOrDelete(operation: 'PutItem' | 'DeleteItem', input: any, args: any, next: (args: any) => Promise<any>) {
    const schema = await this.schema(input.TableName);
    const key: Item = operation === 'PutItem' ? input.Item : input.Key;
    let result: any;
    try {
      result = await next(args);
    } catch (error) {
      await this.billFailure(operation, schema, [key], error, false);
      throw error;
    }
    const before =
      input.ReturnValues === 'ALL_OLD'
        ? this.detached(() => imageOf(schema, result.output?.Attributes))
        : (await this.before(schema, [key]))[0];
    const after = this.detached(() =>
      operation === 'PutItem' ? this.remember(schema, input.Item) : this.remember(schema, undefined, key),
    );
    this.bill(operation, [writeCost(schema, before, after)]);
    return result;
  }

  private async updateItem(input: any, args: any, next: (args: any) => Promise<any>) {
    const schema = await this.schema(input.TableName);
    const [before] = await this.before(schema, [input.Key]);
    let result: any;
    try {
      result = await next(args);
    } catch (error) {
      await this.billFailure('UpdateItem', schema, [input.Key], error, false);
      throw error;
    }
    let after: ItemImage | undefined;
    if (input.ReturnValues === 'ALL_NEW') after = this.detached(() => this.remember(schema, result.output?.Attributes, input.Key));
    else {
      await this.load(schema, [input.Key]);
      after = this.images.get(itemKey(schema, input.Key));
    }
    this.bill('UpdateItem', [writeCost(schema, before, after)]);
    return result;
  }

  private async billFailure(operation: string, schema: TableSchema, keys: Item[], error: unknown, transactional: boolean) {
    const name = String((error as Error)?.name);
    if (!/ConditionalCheckFailed|TransactionCanceled/.test(name)) return;
    const befores = await this.before(schema, keys);
    this.bill(
      operation,
      befores.map((b) => unchangedWriteCost(b, { transactional })),
    );
  }

  private async batchWriteItem(input: any, args: any, next: (args: any) => Promise<any>) {
    const plans: { schema: TableSchema; key: Item; item?: Item }[] = [];
    for (const [table, requests] of Object.entries<any[]>(input.RequestItems ?? {})) {
      const schema = await this.schema(table);
      for (const r of requests) plans.push({ schema, key: r.PutRequest?.Item ?? r.DeleteRequest.Key, item: r.PutRequest?.Item });
    }
    const befores = await Promise.all(plans.map((p) => this.before(p.schema, [p.key]).then(([b]) => b)));
    const result = await next(args);
    const unprocessed = new Set<string>();
    for (const [table, requests] of Object.entries<any[]>(result.output?.UnprocessedItems ?? {})) {
      const schema = await this.schema(table);
      for (const r of requests) unprocessed.add(itemKey(schema, r.PutRequest?.Item ?? r.DeleteRequest.Key));
    }
    const costs: WriteCost[] = [];
    plans.forEach((p, i) => {
      if (unprocessed.has(itemKey(p.schema, p.key))) return;
      costs.push(
        writeCost(
          p.schema,
          befores[i],
          this.detached(() => this.remember(p.schema, p.item, p.key)),
        ),
      );
    });
    this.bill('BatchWriteItem', costs);
    return result;
  }

  private async transactWriteItems(input: any, args: any, next: (args: any) => Promise<any>) {
    const actions: { kind: 'Put' | 'Update' | 'Delete' | 'ConditionCheck'; schema: TableSchema; key: Item; item?: Item }[] = [];
    for (const entry of input.TransactItems ?? []) {
      const kind = (['Put', 'Update', 'Delete', 'ConditionCheck'] as const).find((k) => entry[k] !== undefined)!;
      const action = entry[kind];
      const schema = await this.schema(action.TableName);
      actions.push({ kind, schema, key: kind === 'Put' ? action.Item : action.Key, item: kind === 'Put' ? action.Item : undefined });
    }
    const befores = await Promise.all(actions.map((a) => this.before(a.schema, [a.key]).then(([b]) => b)));
    let result: any;
    try {
      result = await next(args);
    } catch (error) {
      // A cancelled transaction still read and prepared its items (assumption: billed as unchanged writes).
      if (/TransactionCanceled/.test(String((error as Error)?.name)))
        this.bill(
          'TransactWriteItems',
          befores.map((b) => unchangedWriteCost(b, { transactional: true })),
        );
      throw error;
    }
    for (const a of actions.filter((x) => x.kind === 'Update')) await this.load(a.schema, [a.key]);
    const costs: WriteCost[] = [];
    for (const [i, a] of actions.entries()) {
      if (a.kind === 'ConditionCheck') {
        costs.push(unchangedWriteCost(befores[i], { transactional: true }));
        continue;
      }
      let after: ItemImage | undefined;
      if (a.kind === 'Put') after = this.detached(() => this.remember(a.schema, a.item));
      else if (a.kind === 'Delete') after = this.detached(() => this.remember(a.schema, undefined, a.key));
      else after = this.images.get(itemKey(a.schema, a.key));
      costs.push(writeCost(a.schema, befores[i], after, { transactional: true }));
    }
    this.bill('TransactWriteItems', costs);
    return result;
  }
}

/** For tests: the images the meter holds. */
export type { ItemImage };
