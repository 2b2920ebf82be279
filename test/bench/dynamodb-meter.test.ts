import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { startEmulators, type Emulators } from '../../local/emulators';
import { DynamoDbMeter, type RequestUnits } from '../../bench/dynamodb-meter';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const TableName = 'meter-test';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
let emulators: Emulators | undefined;
let raw: DynamoDBClient;
let metered: DynamoDBClient;
let documents: DynamoDBDocumentClient;
const billed: { operation: string; units: RequestUnits }[] = [];

/** Units billed by the calls `fn` makes. */
async function unitsOf(fn: () => Promise<unknown>): Promise<{ read: number; write: number; index: Record<string, number> }> {
  const from = billed.length;
  await fn();
  const mine = billed.slice(from);
  const index: Record<string, number> = {};
  for (const b of mine) for (const [n, u] of Object.entries(b.units.indexWriteUnits)) index[n] = (index[n] ?? 0) + u;
  return { read: mine.reduce((s, b) => s + b.units.readUnits, 0), write: mine.reduce((s, b) => s + b.units.writeUnits, 0), index };
}

/** A document of exactly `bytes` by DynamoDB's size rules: pk, sk and a `data` string filling the rest. */
function doc(pk: string, sk: string, bytes: number, extra: Record<string, string> = {}) {
  const fixed = 2 + pk.length + 2 + sk.length + 4 + Object.entries(extra).reduce((n, [k, v]) => n + k.length + v.length, 0);
  return { pk, sk, ...extra, data: 'x'.repeat(bytes - fixed) };
}

before(async () => {
  emulators = await startEmulators();
  const config = { region: 'us-east-1', endpoint: emulators.dynamodbEndpoint, credentials };
  raw = new DynamoDBClient(config);
  metered = new DynamoDBClient(config);
  documents = DynamoDBDocumentClient.from(metered);
  await raw.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: ['pk', 'sk', 'gpk', 'gsk', 'kpk'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byStatus',
          KeySchema: [
            { AttributeName: 'gpk', KeyType: 'HASH' },
            { AttributeName: 'gsk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        { IndexName: 'keysOnly', KeySchema: [{ AttributeName: 'kpk', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } },
      ],
    }),
  );
  // Written before the meter was there: the meter must read it to know its size.
  await raw.send(new PutItemCommand({ TableName, Item: { pk: { S: 'old' }, sk: { S: 'x' }, data: { S: 'x'.repeat(2000) } } }));
  new DynamoDbMeter({ raw, onUnits: (operation, units) => billed.push({ operation, units }) }).instrument(metered);
});

after(async () => {
  raw?.destroy();
  metered?.destroy();
  await emulators?.stop();
});

describe('DynamoDB meter against DynamoDB Local, checked by hand', () => {
  it('a new 1,500 B item in an ALL index: 2 WRU on the table + 2 on the index; the caller sees no injected ReturnValues', async () => {
    let answer: any;
    const units = await unitsOf(async () => {
      answer = await documents.send(new PutCommand({ TableName, Item: doc('m1', 'a', 1500, { gpk: 'F', gsk: 'failed' }) }));
    });
    assert.deepEqual(units, { read: 0, write: 4, index: { byStatus: 2 } });
    assert.equal(answer.Attributes, undefined);
  });

  it('an update that grows the item from 900 B to 1,100 B bills the larger: 2 WRU', async () => {
    await documents.send(new PutCommand({ TableName, Item: doc('m2', 'a', 900) }));
    const units = await unitsOf(() =>
      documents.send(
        new UpdateCommand({
          TableName,
          Key: { pk: 'm2', sk: 'a' },
          UpdateExpression: 'SET more = :m',
          ExpressionAttributeValues: { ':m': 'y'.repeat(196) },
        }),
      ),
    );
    // 900 + "more" (4) + 196 = 1,100 B
    assert.deepEqual(units, { read: 0, write: 2, index: {} });
  });

  it('an update that moves the item in an index (key change) costs a delete and a put there', async () => {
    await documents.send(new PutCommand({ TableName, Item: doc('m3', 'a', 1100, { gpk: 'F', gsk: 'held' }) }));
    let answer: any;
    const units = await unitsOf(async () => {
      answer = await documents.send(
        new UpdateCommand({
          TableName,
          Key: { pk: 'm3', sk: 'a' },
          UpdateExpression: 'SET gsk = :s',
          ExpressionAttributeValues: { ':s': 'done' },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
    });
    // table: 1,100 B → 2; index byStatus: delete 2 + put 2
    assert.deepEqual(units, { read: 0, write: 6, index: { byStatus: 4 } });
    assert.deepEqual(answer.Attributes, { gsk: 'done' }, 'the caller gets what it asked for');
  });

  it('a transaction doubles every item: new 500 B put, 2,000 B update of an item written before metering, condition check', async () => {
    await documents.send(new PutCommand({ TableName, Item: doc('m4', 'a', 300) }));
    const units = await unitsOf(() =>
      documents.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName, Item: doc('m5', 'a', 500), ConditionExpression: 'attribute_not_exists(pk)' } },
            { Update: { TableName, Key: { pk: 'old', sk: 'x' }, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': 1 } } },
            { ConditionCheck: { TableName, Key: { pk: 'm4', sk: 'a' }, ConditionExpression: 'attribute_exists(pk)' } },
          ],
        }),
      ),
    );
    // put 2 × 1; update 2 × ceil(2,014 B / 1 KB) = 2 × 2 (the item: pk "old" 5 + sk "x" 3 + data 2,004 + n 2); check 2 × 1
    assert.deepEqual(units, { read: 0, write: 8, index: {} });
  });

  it('a failed conditional write still bills the existing item: 2,500 B → 3 WRU', async () => {
    await documents.send(new PutCommand({ TableName, Item: doc('m6', 'a', 2500) }));
    const units = await unitsOf(() =>
      assert.rejects(
        documents.send(new PutCommand({ TableName, Item: doc('m6', 'a', 100), ConditionExpression: 'attribute_not_exists(pk)' })),
        /ConditionalCheckFailed/,
      ),
    );
    assert.deepEqual(units, { read: 0, write: 3, index: {} });
  });

  it('a query sums the items read, then rounds to 4 KB; a projection does not reduce it; eventual reads cost half', async () => {
    for (const sk of ['1', '2', '3']) await documents.send(new PutCommand({ TableName, Item: doc('q', sk, 1500) }));
    const query = (extra: object) =>
      documents.send(
        new QueryCommand({ TableName, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'q' }, ...extra }),
      );
    // 3 × 1,500 = 4,500 B → 2 RRU strongly consistent, 1 eventually
    assert.deepEqual(await unitsOf(() => query({ ConsistentRead: true })), { read: 2, write: 0, index: {} });
    assert.deepEqual(await unitsOf(() => query({})), { read: 1, write: 0, index: {} });
    assert.deepEqual(await unitsOf(() => query({ ConsistentRead: true, ProjectionExpression: 'sk' })), { read: 2, write: 0, index: {} });
  });

  it('batches bill per item: BatchWriteItem 1 KB per put, BatchGetItem 4 KB per item (not summed)', async () => {
    const write = await unitsOf(() =>
      documents.send(
        new BatchWriteCommand({
          RequestItems: { [TableName]: [{ PutRequest: { Item: doc('b', '1', 1500) } }, { PutRequest: { Item: doc('b', '2', 5000) } }] },
        }),
      ),
    );
    assert.deepEqual(write, { read: 0, write: 2 + 5, index: {} });
    const read = await unitsOf(() =>
      documents.send(
        new BatchGetCommand({
          RequestItems: {
            [TableName]: {
              Keys: [
                { pk: 'b', sk: '1' },
                { pk: 'b', sk: '2' },
              ],
              ConsistentRead: true,
            },
          },
        }),
      ),
    );
    // 1 + 2, where the summed 6,500 B would be 2
    assert.deepEqual(read, { read: 3, write: 0, index: {} });
  });

  it('a meter that cannot bill (its own reads fail) never breaks the request', async () => {
    const errors: unknown[] = [];
    const client = new DynamoDBClient({ region: 'us-east-1', endpoint: emulators!.dynamodbEndpoint, credentials });
    const broken = new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials, maxAttempts: 1 });
    try {
      new DynamoDbMeter({
        raw: broken,
        onUnits: () => assert.fail('nothing can be billed without the schema'),
        onError: (e) => errors.push(e),
      }).instrument(client);
      const answer = await DynamoDBDocumentClient.from(client).send(new PutCommand({ TableName, Item: doc('e', 'a', 100) }));
      assert.equal(answer.$metadata.httpStatusCode, 200);
      assert.equal(errors.length, 1);
    } finally {
      client.destroy();
      broken.destroy();
    }
  });

  it('GetItem: 4 KB units by the full item, a missing item costs the minimum', async () => {
    await documents.send(new PutCommand({ TableName, Item: doc('g', 'a', 5000) }));
    assert.deepEqual(await unitsOf(() => documents.send(new GetCommand({ TableName, Key: { pk: 'g', sk: 'a' }, ConsistentRead: true }))), {
      read: 2,
      write: 0,
      index: {},
    });
    assert.deepEqual(
      await unitsOf(() => documents.send(new GetCommand({ TableName, Key: { pk: 'g', sk: 'a' }, ProjectionExpression: 'pk' }))),
      { read: 1, write: 0, index: {} },
    );
    assert.deepEqual(
      await unitsOf(() => documents.send(new GetCommand({ TableName, Key: { pk: 'nothing', sk: 'a' }, ConsistentRead: true }))),
      { read: 1, write: 0, index: {} },
    );
  });
});
