import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import * as sdk from '@aws-sdk/client-dynamodb';
import * as lib from '@aws-sdk/lib-dynamodb';
import { AwsClient } from '../../adapters/aws/protocol/client';
import * as ddb from '../../adapters/aws/protocol/dynamodb';
import * as docs from '../../adapters/aws/protocol/dynamodb-documents';
import type { Command, EndpointContext } from '../../adapters/aws/protocol/operation';
import { sharedEmulators, startEmulators, type Emulators } from '../../local/emulators';
import type { SdkClients } from '../../local/sdk-clients';
import { AwsEndpoint, type ScriptedAnswer } from '../helpers/aws-endpoint';
import { emulatorClients } from '../helpers/emulator-clients';
import { sdkRequestOf } from '../helpers/sdk-oracle';

/**
 * DynamoDB's protocol against the AWS SDK as the oracle: each raw operation's request must
 * be the one `@aws-sdk/client-dynamodb` sends and each answer must read as it reads it; the
 * document client must give what `@aws-sdk/lib-dynamodb` gives against a real DynamoDB
 * (DynamoDB Local); and a transaction must survive the loss of its answer.
 */

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Bytes that start past offset 0 of a larger buffer (a pooled Buffer, a subarray), which a naive encoder reads wrong. */
const pooled = () => Buffer.from('AQIDBAUGBwgJCgsMDQ4PEA==', 'base64');
const sliced = () => new Uint8Array([9, 9, 0, 1, 254, 255, 9]).subarray(2, 6);

type SdkCommand = new (input: any) => any;
type OurCommand = new (input: any) => Command<any, any>;

interface Pair {
  title: string;
  sdk: SdkCommand;
  ours: OurCommand;
  input: () => Record<string, any>;
}

const key = () => ({ pk: { S: 'erp#m-1' }, sk: { B: sliced() } });
const item = () => ({
  pk: { S: 'erp#m-1' },
  sk: { B: pooled() },
  body: { S: '' },
  n: { N: '-12.50e3' },
  ok: { BOOL: false },
  nothing: { NULL: true },
  bs: { BS: [pooled(), sliced()] },
  ss: { SS: ['a', 'ü'] },
  ns: { NS: ['1', '2.5'] },
  m: { M: { l: { L: [{ B: sliced() }, { M: { deep: { BS: [pooled()] } } }, { L: [] }] }, empty: { M: {} } } },
});

const pairs: Pair[] = [
  {
    title: 'PutItem',
    sdk: sdk.PutItemCommand,
    ours: ddb.PutItemCommand,
    input: () => ({
      TableName: 'sluice-messages',
      Item: item(),
      ConditionExpression: 'attribute_not_exists(pk) OR #s = :s',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': { S: 'queued' } },
      ReturnValues: 'ALL_OLD',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }),
  },
  {
    title: 'GetItem',
    sdk: sdk.GetItemCommand,
    ours: ddb.GetItemCommand,
    input: () => ({
      TableName: 'sluice-messages',
      Key: key(),
      ConsistentRead: true,
      ProjectionExpression: '#s, m.l[1]',
      ExpressionAttributeNames: { '#s': 'status' },
    }),
  },
  {
    title: 'UpdateItem',
    sdk: sdk.UpdateItemCommand,
    ours: ddb.UpdateItemCommand,
    input: () => ({
      TableName: 'sluice-messages',
      Key: key(),
      UpdateExpression: 'SET #s = :s, attempts = if_not_exists(attempts, :zero) + :one, raw = :b ADD tags :t REMOVE lease',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: {
        ':s': { S: 'sent' },
        ':zero': { N: '0' },
        ':one': { N: '1' },
        ':t': { SS: ['x'] },
        ':b': { B: pooled() },
      },
      ReturnValues: 'UPDATED_NEW',
      ReturnConsumedCapacity: 'TOTAL',
    }),
  },
  {
    title: 'DeleteItem',
    sdk: sdk.DeleteItemCommand,
    ours: ddb.DeleteItemCommand,
    input: () => ({
      TableName: 'sluice-messages',
      Key: key(),
      ConditionExpression: 'lease = :l',
      ExpressionAttributeValues: { ':l': { B: sliced() } },
      ReturnValues: 'ALL_OLD',
    }),
  },
  {
    title: 'Query',
    sdk: sdk.QueryCommand,
    ours: ddb.QueryCommand,
    input: () => ({
      TableName: 'sluice-messages',
      IndexName: 'by-lane',
      KeyConditionExpression: 'pk = :p AND sk > :from',
      FilterExpression: 'contains(ss, :x)',
      ExpressionAttributeValues: { ':p': { S: 'erp#m-1' }, ':from': { B: sliced() }, ':x': { S: 'a' } },
      ExclusiveStartKey: key(),
      Limit: 25,
      ScanIndexForward: false,
      ReturnConsumedCapacity: 'INDEXES',
    }),
  },
  {
    title: 'Scan',
    sdk: sdk.ScanCommand,
    ours: ddb.ScanCommand,
    input: () => ({
      TableName: 'sluice-messages',
      Segment: 1,
      TotalSegments: 4,
      Limit: 100,
      ConsistentRead: true,
      Select: 'ALL_ATTRIBUTES',
      ExclusiveStartKey: key(),
      FilterExpression: 'attribute_exists(m)',
    }),
  },
  {
    title: 'BatchGetItem',
    sdk: sdk.BatchGetItemCommand,
    ours: ddb.BatchGetItemCommand,
    input: () => ({
      RequestItems: {
        'sluice-messages': {
          Keys: [key(), { pk: { S: 'erp#m-2' }, sk: { B: pooled() } }],
          ConsistentRead: true,
          ProjectionExpression: 'pk, sk',
        },
        'sluice-lanes': { Keys: [{ pk: { S: 'erp' }, sk: { B: new Uint8Array() } }] },
      },
      ReturnConsumedCapacity: 'TOTAL',
    }),
  },
  {
    title: 'BatchWriteItem',
    sdk: sdk.BatchWriteItemCommand,
    ours: ddb.BatchWriteItemCommand,
    input: () => ({
      RequestItems: { 'sluice-messages': [{ PutRequest: { Item: item() } }, { DeleteRequest: { Key: key() } }] },
      ReturnConsumedCapacity: 'INDEXES',
      ReturnItemCollectionMetrics: 'SIZE',
    }),
  },
  {
    title: 'TransactWriteItems with a token of its own',
    sdk: sdk.TransactWriteItemsCommand,
    ours: ddb.TransactWriteItemsCommand,
    input: () => ({
      ClientRequestToken: 'accept-erp-m-1',
      TransactItems: [
        { Put: { TableName: 'sluice-messages', Item: item(), ConditionExpression: 'attribute_not_exists(pk)' } },
        {
          Update: {
            TableName: 'sluice-lanes',
            Key: key(),
            UpdateExpression: 'ADD depth :one',
            ExpressionAttributeValues: { ':one': { N: '1' } },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        { Delete: { TableName: 'sluice-leases', Key: key() } },
        {
          ConditionCheck: {
            TableName: 'sluice-partners',
            Key: key(),
            ConditionExpression: 'enabled = :t',
            ExpressionAttributeValues: { ':t': { BOOL: true } },
          },
        },
      ],
      ReturnConsumedCapacity: 'TOTAL',
      ReturnItemCollectionMetrics: 'SIZE',
    }),
  },
];

/** What of a request the tests hold equal: the signature and the SDK's own headers (user agent, invocation id) aside. */
interface Laid {
  method: string;
  url: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body: any;
}

const pickHeaders = (headers: Record<string, string>) => ({
  'content-type': headers['content-type'],
  'x-amz-target': headers['x-amz-target'],
});
const parseBody = (body: unknown) => JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body as Uint8Array));

/** The request the SDK client would send, taken just before it would go out. */
async function sdkRequest(pair: Pair, region: string, endpoint?: string): Promise<Laid> {
  const client = new sdk.DynamoDBClient({ region, credentials, logger: quiet, ...(endpoint ? { endpoint } : {}) });
  const request = await sdkRequestOf(client, new pair.sdk(pair.input()));
  return {
    method: request.method,
    url: `${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ''}${request.path}`,
    query: { ...request.query },
    headers: pickHeaders(request.headers),
    body: parseBody(request.body),
  };
}

function ourRequest(pair: Pair, region: string, endpoint?: string): Laid {
  const command = new pair.ours(pair.input());
  const context: EndpointContext = { region, ...(endpoint ? { endpoint: new URL(endpoint) } : {}) };
  const request = command.operation.serialize(command.input, context);
  return {
    method: request.method,
    url: `${request.url.origin}${request.url.pathname}`,
    query: Object.fromEntries(request.url.searchParams),
    headers: pickHeaders(request.headers),
    body: parseBody(request.body),
  };
}

const places = [
  { where: 'on AWS', region: 'eu-west-1', host: 'https://dynamodb.eu-west-1.amazonaws.com/' },
  { where: 'on AWS in China', region: 'cn-north-1', host: 'https://dynamodb.cn-north-1.amazonaws.com.cn/' },
  { where: 'on a custom endpoint', region: 'us-east-1', endpoint: 'http://127.0.0.1:8000', host: 'http://127.0.0.1:8000/' },
];

describe('DynamoDB requests as the AWS SDK lays them out', () => {
  const transact: Pair = {
    ...pairs.at(-1)!,
    title: 'TransactWriteItems without a token',
    input: () => {
      const { ClientRequestToken: _token, ...input } = pairs.at(-1)!.input();
      return input;
    },
  };

  for (const pair of [...pairs, transact]) {
    for (const place of places) {
      test(`${pair.title}, ${place.where}`, async () => {
        const expected = await sdkRequest(pair, place.region, place.endpoint);
        const actual = ourRequest(pair, place.region, place.endpoint);
        assert.equal(expected.url, place.host);
        if (pair === transact) {
          // Each side draws its own token: both are UUIDs, and otherwise the requests agree.
          assert.match(expected.body.ClientRequestToken, UUID);
          assert.match(actual.body.ClientRequestToken, UUID);
          expected.body.ClientRequestToken = actual.body.ClientRequestToken = 'drawn';
        }
        assert.deepEqual(actual, expected);
      });
    }
  }

  test('binary values travel as the base64 of their own bytes, not of the buffer around them', () => {
    const { body } = ourRequest(pairs[0]!, 'eu-west-1');
    assert.equal(body.Item.sk.B, 'AQIDBAUGBwgJCgsMDQ4PEA==');
    assert.deepEqual(body.Item.bs.BS, ['AQIDBAUGBwgJCgsMDQ4PEA==', Buffer.from([0, 1, 254, 255]).toString('base64')]);
  });

  test('a transaction without a token gets a fresh UUID per call; one with a token keeps it', () => {
    const token = (input: Record<string, unknown>) => ourRequest({ ...transact, input: () => input }, 'eu-west-1').body.ClientRequestToken;
    const drawn = [token(transact.input()), token(transact.input())];
    for (const t of drawn) assert.match(t, UUID);
    assert.notEqual(drawn[0], drawn[1]);
    assert.equal(token(pairs.at(-1)!.input()), 'accept-erp-m-1');
  });

  test('every attempt of one transaction carries the same token', async () => {
    const endpoint = await AwsEndpoint.start();
    try {
      endpoint.on('TransactWriteItems', { status: 500, errorType: 'InternalServerError' }, { status: 503 }, {});
      const client = endpoint.client(ddb.dynamodbService, { maxAttempts: 3 });
      await client.send(new ddb.TransactWriteItemsCommand(transact.input() as sdk.TransactWriteItemsCommandInput));
      await client.send(new ddb.TransactWriteItemsCommand(transact.input() as sdk.TransactWriteItemsCommandInput));
      const tokens = endpoint.of('TransactWriteItems').map((request) => request.body.ClientRequestToken);
      assert.equal(tokens.length, 4);
      assert.match(tokens[0], UUID);
      assert.deepEqual(tokens.slice(0, 3), [tokens[0], tokens[0], tokens[0]], 'the retries of the first call');
      assert.notEqual(tokens[3], tokens[0], 'the second call');
    } finally {
      await endpoint.close();
    }
  });
});

// ---- Answers

const json10 = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'req-1' };
const b64 = (bytes: number[]) => Buffer.from(bytes).toString('base64');
const wireItem = {
  pk: { S: 'erp#m-1' },
  sk: { B: b64([0, 1]) },
  bs: { BS: [b64([2]), b64([255, 0])] },
  n: { N: '12345678901234567890' },
  m: { M: { l: { L: [{ B: b64([7]) }, { M: { x: { BS: [b64([8])] } } }, { NULL: true }] } } },
};
const wireKey = { pk: { S: 'erp#m-1' }, sk: { B: b64([0, 1]) } };

interface AnswerCase {
  title: string;
  pair: string;
  status?: number;
  body: unknown;
}

const answerCases: AnswerCase[] = [
  { title: 'GetItem with binary members at every depth', pair: 'GetItem', body: { Item: wireItem } },
  { title: 'GetItem of a missing item', pair: 'GetItem', body: {} },
  { title: 'PutItem with its old item', pair: 'PutItem', body: { Attributes: wireItem } },
  {
    title: 'UpdateItem with attributes and consumed capacity',
    pair: 'UpdateItem',
    body: { Attributes: wireItem, ConsumedCapacity: { TableName: 'sluice-messages', CapacityUnits: 1.5 } },
  },
  { title: 'DeleteItem with its old item', pair: 'DeleteItem', body: { Attributes: wireItem } },
  {
    title: 'Query with a binary last key',
    pair: 'Query',
    body: { Items: [wireItem, wireKey], Count: 2, ScannedCount: 3, LastEvaluatedKey: wireKey },
  },
  { title: 'Scan of nothing', pair: 'Scan', body: { Items: [], Count: 0, ScannedCount: 0 } },
  {
    title: 'BatchGetItem with responses and unprocessed keys',
    pair: 'BatchGetItem',
    body: {
      Responses: { 'sluice-messages': [wireItem], 'sluice-lanes': [] },
      UnprocessedKeys: { 'sluice-messages': { Keys: [wireKey], ProjectionExpression: 'pk, sk', ConsistentRead: true } },
    },
  },
  {
    title: 'BatchWriteItem with unprocessed items',
    pair: 'BatchWriteItem',
    body: {
      UnprocessedItems: { 'sluice-messages': [{ PutRequest: { Item: wireItem } }, { DeleteRequest: { Key: wireKey } }] },
      ItemCollectionMetrics: { 'sluice-messages': [{ ItemCollectionKey: { pk: { S: 'erp#m-1' } }, SizeEstimateRangeGB: [0, 1] }] },
    },
  },
  { title: 'BatchWriteItem with everything processed', pair: 'BatchWriteItem', body: { UnprocessedItems: {} } },
  {
    title: 'BatchWriteItem with item collection metrics by table',
    pair: 'BatchWriteItem',
    body: {
      UnprocessedItems: {},
      ItemCollectionMetrics: { 'sluice-messages': [{ ItemCollectionKey: wireKey, SizeEstimateRangeGB: [0, 1] }] },
    },
  },
  {
    title: 'UpdateItem with item collection metrics',
    pair: 'UpdateItem',
    body: { Attributes: wireItem, ItemCollectionMetrics: { ItemCollectionKey: wireKey, SizeEstimateRangeGB: [0, 1] } },
  },
  {
    title: 'TransactWriteItems with item collection metrics',
    pair: 'TransactWriteItems with a token of its own',
    body: { ItemCollectionMetrics: { 'sluice-messages': [{ ItemCollectionKey: wireKey, SizeEstimateRangeGB: [0, 1] }] } },
  },
  {
    title: 'error: a failed condition with the item it found',
    pair: 'PutItem',
    status: 400,
    body: {
      __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
      message: 'The conditional request failed',
      Item: wireItem,
    },
  },
  {
    title: 'error: a cancelled transaction with its reasons and the item one found',
    pair: 'TransactWriteItems with a token of its own',
    status: 400,
    body: {
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
      Message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]',
      CancellationReasons: [
        { Code: 'None' },
        { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: wireItem },
      ],
    },
  },
  {
    title: 'error: throttled',
    pair: 'Query',
    status: 400,
    body: {
      __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
      message: 'The level of configured provisioned throughput for the table was exceeded.',
    },
  },
  {
    title: 'error: a server fault',
    pair: 'GetItem',
    status: 500,
    body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'Internal server error' },
  },
];

/** Without what only one side has: `$metadata` (the SDK's), members left undefined. */
function comparable(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString('hex'), type: value.constructor.name };
  if (Array.isArray(value)) return value.map(comparable);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([name, member]) => member !== undefined && name !== '$metadata' && name !== '$response')
        .map(([name, member]) => [name, comparable(member)]),
    );
  }
  return value;
}

/** An error's name, message, status, fault and service fields (the SDK also keeps the raw `__type`, which the name says). */
function errorFields(error: any) {
  const { __type: _type, ...fields } = error;
  return {
    ...(comparable(fields) as Record<string, unknown>),
    name: error.name,
    message: error.message,
    httpStatusCode: error.$metadata?.httpStatusCode,
    requestId: error.$metadata?.requestId,
  };
}

async function sdkOutcome(pair: Pair, status: number, body: string) {
  const client = new sdk.DynamoDBClient({
    region: 'eu-west-1',
    credentials,
    logger: quiet,
    maxAttempts: 1,
    requestHandler: {
      handle: async () => ({
        response: { statusCode: status, reason: '', headers: { ...json10 }, body: Readable.from([Buffer.from(body)]) },
      }),
    },
  });
  try {
    return { output: comparable(await client.send(new pair.sdk(pair.input()))) };
  } catch (error) {
    return { error: errorFields(error) };
  } finally {
    client.destroy();
  }
}

function ourOutcome(pair: Pair, status: number, body: string) {
  const { operation } = new pair.ours(pair.input());
  const response = { statusCode: status, headers: { ...json10 }, body: new TextEncoder().encode(body) };
  if (status < 300) return { output: comparable(operation.deserialize(response)) };
  return { error: errorFields(operation.service.error(response)) };
}

describe('DynamoDB answers read as the AWS SDK reads them', () => {
  for (const answer of answerCases) {
    test(answer.title, async () => {
      const pair = pairs.find((p) => p.title === answer.pair)!;
      const text = JSON.stringify(answer.body);
      const expected = await sdkOutcome(pair, answer.status ?? 200, text);
      assert.deepEqual(ourOutcome(pair, answer.status ?? 200, text), expected);
    });
  }
});

const documentAnswers: { title: string; operation: string; command: (C: Commands) => unknown; answer: ScriptedAnswer }[] = [
  {
    title: 'Put with its old item and item collection metrics',
    operation: 'PutItem',
    command: (C) => new C.PutCommand({ TableName: 'T', Item: { pk: 'p' }, ReturnValues: 'ALL_OLD', ReturnItemCollectionMetrics: 'SIZE' }),
    answer: { body: { Attributes: wireItem, ItemCollectionMetrics: { ItemCollectionKey: wireKey, SizeEstimateRangeGB: [0, 1] } } },
  },
  {
    title: 'Query with a binary last key',
    operation: 'Query',
    command: (C) => new C.QueryCommand({ TableName: 'T', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'p' } }),
    answer: { body: { Items: [wireItem], Count: 1, ScannedCount: 1, LastEvaluatedKey: wireKey } },
  },
  {
    title: 'BatchGet with unprocessed keys',
    operation: 'BatchGetItem',
    command: (C) => new C.BatchGetCommand({ RequestItems: { T: { Keys: [{ pk: 'p' }] } } }),
    answer: { body: { Responses: { T: [wireItem] }, UnprocessedKeys: { T: { Keys: [wireKey], ProjectionExpression: 'pk' } } } },
  },
  {
    title: 'BatchWrite with unprocessed items and item collection metrics',
    operation: 'BatchWriteItem',
    command: (C) =>
      new C.BatchWriteCommand({ RequestItems: { T: [{ PutRequest: { Item: { pk: 'p' } } }] }, ReturnItemCollectionMetrics: 'SIZE' }),
    answer: {
      body: {
        UnprocessedItems: { T: [{ PutRequest: { Item: wireItem } }, { DeleteRequest: { Key: wireKey } }] },
        ItemCollectionMetrics: { T: [{ ItemCollectionKey: wireKey, SizeEstimateRangeGB: [0, 1] }] },
      },
    },
  },
  {
    title: 'TransactWrite with item collection metrics',
    operation: 'TransactWriteItems',
    command: (C) =>
      new C.TransactWriteCommand({ TransactItems: [{ Put: { TableName: 'T', Item: { pk: 'p' } } }], ReturnItemCollectionMetrics: 'SIZE' }),
    answer: { body: { ItemCollectionMetrics: { T: [{ ItemCollectionKey: wireKey, SizeEstimateRangeGB: [0, 1] }] } } },
  },
  {
    title: 'a failed condition with the item it found (left marshalled, as lib-dynamodb leaves it)',
    operation: 'PutItem',
    command: (C) =>
      new C.PutCommand({
        TableName: 'T',
        Item: { pk: 'p' },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    answer: { errorType: 'ConditionalCheckFailedException', body: { message: 'The conditional request failed', Item: wireItem } },
  },
];

describe('document answers read as lib-dynamodb reads them', () => {
  let endpoint: AwsEndpoint;
  let ours: docs.DocumentClient;
  let theirs: lib.DynamoDBDocumentClient;

  before(async () => {
    endpoint = await AwsEndpoint.start();
    ours = new docs.DocumentClient(endpoint.client(ddb.dynamodbService));
    theirs = lib.DynamoDBDocumentClient.from(
      new sdk.DynamoDBClient({ region: 'us-east-1', endpoint: endpoint.url, credentials, logger: quiet, maxAttempts: 1 }),
      { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false } },
    );
  });
  after(async () => {
    theirs?.destroy();
    await endpoint?.close();
  });

  for (const answer of documentAnswers) {
    test(answer.title, async () => {
      const read = async (client: DocumentSender, C: Commands) => {
        endpoint.reset();
        endpoint.on(answer.operation, answer.answer);
        try {
          const { $metadata: _metadata, ...output } = await client.send(answer.command(C));
          return { output };
        } catch (error) {
          return { error: errorFields(error) };
        }
      };
      assert.deepEqual(await read(ours, docs), await read(theirs, lib));
    });
  }
});

// ---- The document client against DynamoDB Local, lib-dynamodb as the oracle

interface Emulated {
  emulators: Emulators;
  clients: SdkClients;
  stop(): Promise<void>;
}

/** The test run's shared emulators when there are some, else emulators of this file's own. */
async function emulated(): Promise<Emulated> {
  const shared = sharedEmulators();
  const emulators = shared ?? (await startEmulators());
  const clients = emulatorClients(emulators);
  return {
    emulators,
    clients,
    async stop() {
      clients.dynamodb.destroy();
      clients.sqs.destroy();
      clients.s3.destroy();
      if (!shared) await emulators.stop();
    },
  };
}

/** A table of its own, with a local secondary index to query. */
async function createTable(clients: SdkClients, prefix: string): Promise<string> {
  const TableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  await clients.dynamodb.send(
    new sdk.CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'lsk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      LocalSecondaryIndexes: [
        {
          IndexName: 'by-lsk',
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'lsk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  return TableName;
}

type DocumentSender = { send(command: any): Promise<any> };
/** The commands of lib-dynamodb or of dynamodb-documents.ts, used alike. */
type Commands = Record<
  | 'GetCommand'
  | 'PutCommand'
  | 'UpdateCommand'
  | 'DeleteCommand'
  | 'QueryCommand'
  | 'ScanCommand'
  | 'BatchGetCommand'
  | 'BatchWriteCommand'
  | 'TransactWriteCommand',
  new (
    input: any,
  ) => any
>;

/** An item with every kind of value, and members left undefined (which the marshaller drops). */
const documentItem = (sk: string) => ({
  pk: 'erp',
  sk,
  lsk: `l-${sk}`,
  text: 'ünïcode',
  empty: '',
  n: 1,
  float: 1.5,
  negative: -0.25,
  big: Number.MAX_SAFE_INTEGER,
  zero: 0,
  no: false,
  nothing: null,
  bytes: new Uint8Array([0, 1, 255]),
  buffer: Buffer.from('hi'),
  strings: new Set(['a', 'b']),
  numbers: new Set([1, 2.5]),
  blobs: new Set([new Uint8Array([1]), new Uint8Array([2])]),
  mixed: [1, 'x', null, [true], { m: 1 }, new Uint8Array([7]), ''],
  emptyList: [],
  emptyMap: {},
  nested: { a: { b: { c: 'deep', gone: undefined } }, gone: undefined, list: [1, { x: new Set(['q']) }] },
  gone: undefined,
});

interface Step {
  title: string;
  run: (client: DocumentSender, C: Commands, TableName: string) => Promise<unknown>;
  /** The error the step must end in; a step without one must succeed (an error on both sides would agree too). */
  error?: string;
}

/** Run in order on each client's own table, so each step finds the same state on both. */
const steps: Step[] = [
  {
    title: 'Put',
    run: (c, C, T) => c.send(new C.PutCommand({ TableName: T, Item: documentItem('1'), ReturnItemCollectionMetrics: 'SIZE' })),
  },
  {
    title: 'Put over an item, returning the old one',
    run: (c, C, T) => c.send(new C.PutCommand({ TableName: T, Item: { ...documentItem('1'), extra: 'x' }, ReturnValues: 'ALL_OLD' })),
  },
  {
    title: 'Put a second and a third',
    run: async (c, C, T) => [
      await c.send(new C.PutCommand({ TableName: T, Item: documentItem('2') })),
      await c.send(new C.PutCommand({ TableName: T, Item: documentItem('3') })),
    ],
  },
  { title: 'Get', run: (c, C, T) => c.send(new C.GetCommand({ TableName: T, Key: { pk: 'erp', sk: '1' }, ConsistentRead: true })) },
  { title: 'Get a missing item', run: (c, C, T) => c.send(new C.GetCommand({ TableName: T, Key: { pk: 'erp', sk: 'none' } })) },
  {
    title: 'Get a projection',
    run: (c, C, T) =>
      c.send(
        new C.GetCommand({
          TableName: T,
          Key: { pk: 'erp', sk: '1' },
          ProjectionExpression: '#n.a, blobs, mixed[5]',
          ExpressionAttributeNames: { '#n': 'nested' },
        }),
      ),
  },
  {
    title: 'Update, returning the new item',
    run: (c, C, T) =>
      c.send(
        new C.UpdateCommand({
          TableName: T,
          Key: { pk: 'erp', sk: '1' },
          UpdateExpression: 'SET #a = :m, n = n + :one, mixed = list_append(mixed, :l), e = :e ADD strings :s REMOVE extra',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(z) OR z <> :v)',
          ExpressionAttributeNames: { '#a': 'added' },
          ExpressionAttributeValues: {
            ':m': { x: [1, { y: new Set(['q']) }], gone: undefined },
            ':one': 1,
            ':l': [new Uint8Array([9])],
            ':s': new Set(['c']),
            ':e': '',
            ':v': 'v',
          },
          ReturnValues: 'ALL_NEW',
          ReturnItemCollectionMetrics: 'SIZE',
        }),
      ),
  },
  {
    title: 'Update, returning the old values it changed',
    run: (c, C, T) =>
      c.send(
        new C.UpdateCommand({
          TableName: T,
          Key: { pk: 'erp', sk: '2' },
          UpdateExpression: 'SET n = :n',
          ExpressionAttributeValues: { ':n': 5 },
          ReturnValues: 'UPDATED_OLD',
        }),
      ),
  },
  {
    title: 'Query a page, with its last key',
    run: (c, C, T) =>
      c.send(
        new C.QueryCommand({
          TableName: T,
          KeyConditionExpression: 'pk = :p AND sk >= :s',
          ExpressionAttributeValues: { ':p': 'erp', ':s': '0' },
          Limit: 1,
          ScanIndexForward: false,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
  },
  {
    title: 'Query from a start key, filtered',
    run: (c, C, T) =>
      c.send(
        new C.QueryCommand({
          TableName: T,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': 'erp', ':b': new Uint8Array([0, 1, 255]) },
          FilterExpression: 'bytes = :b',
          Limit: 2,
          ExclusiveStartKey: { pk: 'erp', sk: '1' },
        }),
      ),
  },
  {
    title: 'Query an index',
    run: (c, C, T) =>
      c.send(
        new C.QueryCommand({
          TableName: T,
          IndexName: 'by-lsk',
          KeyConditionExpression: 'pk = :p AND lsk > :l',
          ExpressionAttributeValues: { ':p': 'erp', ':l': 'l-1' },
          Limit: 1,
        }),
      ),
  },
  { title: 'Scan a page', run: (c, C, T) => c.send(new C.ScanCommand({ TableName: T, Limit: 2 })) },
  { title: 'Scan counting', run: (c, C, T) => c.send(new C.ScanCommand({ TableName: T, Select: 'COUNT' })) },
  {
    title: 'BatchGet',
    run: async (c, C, T) => {
      const output = await c.send(
        new C.BatchGetCommand({
          RequestItems: {
            [T]: {
              Keys: [
                { pk: 'erp', sk: '1' },
                { pk: 'erp', sk: '2' },
                { pk: 'erp', sk: 'none' },
              ],
              ProjectionExpression: 'pk, sk, bytes, numbers, nested',
            },
          },
        }),
      );
      // A batch's answer comes in no particular order.
      output.Responses[T].sort((a: { sk: string }, b: { sk: string }) => a.sk.localeCompare(b.sk));
      return output;
    },
  },
  {
    title: 'BatchWrite',
    run: (c, C, T) =>
      c.send(
        new C.BatchWriteCommand({
          RequestItems: { [T]: [{ PutRequest: { Item: documentItem('4') } }, { DeleteRequest: { Key: { pk: 'erp', sk: '3' } } }] },
          ReturnItemCollectionMetrics: 'SIZE',
        }),
      ),
  },
  {
    title: 'TransactWrite',
    run: (c, C, T) =>
      c.send(
        new C.TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: T, Item: documentItem('5'), ConditionExpression: 'attribute_not_exists(pk)' } },
            {
              Update: {
                TableName: T,
                Key: { pk: 'erp', sk: '1' },
                UpdateExpression: 'SET t = :t',
                ExpressionAttributeValues: { ':t': { nested: [new Set([1])], gone: undefined } },
              },
            },
            {
              ConditionCheck: {
                TableName: T,
                Key: { pk: 'erp', sk: '2' },
                ConditionExpression: 'n = :five',
                ExpressionAttributeValues: { ':five': 5 },
              },
            },
            { Delete: { TableName: T, Key: { pk: 'erp', sk: '4' } } },
          ],
          ReturnItemCollectionMetrics: 'SIZE',
        }),
      ),
  },
  {
    title: 'a failed condition',
    error: 'ConditionalCheckFailedException',
    run: (c, C, T) =>
      c.send(
        new C.PutCommand({
          TableName: T,
          Item: documentItem('1'),
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
  },
  {
    title: 'a cancelled transaction',
    error: 'TransactionCanceledException',
    run: (c, C, T) =>
      c.send(
        new C.TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: T, Item: documentItem('6') } },
            {
              ConditionCheck: {
                TableName: T,
                Key: { pk: 'erp', sk: '1' },
                ConditionExpression: 'attribute_not_exists(pk)',
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ],
        }),
      ),
  },
  {
    title: 'Delete, returning the old item',
    run: (c, C, T) =>
      c.send(
        new C.DeleteCommand({ TableName: T, Key: { pk: 'erp', sk: '2' }, ReturnValues: 'ALL_OLD', ReturnItemCollectionMetrics: 'SIZE' }),
      ),
  },
  { title: 'Scan everything left', run: (c, C, T) => c.send(new C.ScanCommand({ TableName: T, ConsistentRead: true })) },
];

/** Both tables' names as one, wherever they appear (a batch's answer is keyed by table). */
function renamed(value: unknown, from: string): unknown {
  if (value === from) return 'TABLE';
  if (Array.isArray(value)) return value.map((entry) => renamed(entry, from));
  if (value && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([name, member]) => [name === from ? 'TABLE' : name, renamed(member, from)]));
  }
  return value;
}

/** An output without the SDK's `$metadata`, or an error as code reads it. */
function outcome(result: { value: unknown } | { error: any }, table: string): unknown {
  if ('error' in result) {
    const { error } = result;
    return renamed(
      {
        error: error.name,
        message: error.message,
        fault: error.$fault,
        status: error.$metadata?.httpStatusCode,
        Item: error.Item,
        CancellationReasons: error.CancellationReasons,
      },
      table,
    );
  }
  const strip = (output: any) => {
    const { $metadata: _metadata, ...rest } = output;
    return rest;
  };
  return renamed(Array.isArray(result.value) ? result.value.map(strip) : strip(result.value), table);
}

const settle = (call: () => Promise<unknown>) =>
  call().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

const local = { accessKeyId: 'local', secretAccessKey: 'local' };
const ourDocuments = (endpoint: string) =>
  new docs.DocumentClient(new AwsClient(ddb.dynamodbService, { region: 'us-east-1', endpoint, credentials: local }));

/**
 * A proxy in front of DynamoDB Local that loses the answer to a transaction: it forwards
 * the request, lets DynamoDB answer (the transaction is done), and answers 500 instead,
 * as when a connection drops after AWS committed.
 */
class LosingProxy {
  /** The TransactWriteItems bodies that came through, parsed. */
  readonly transactions: any[] = [];
  /** How many of the next transactions' answers to lose. */
  lose = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<LosingProxy> {
    let proxy!: LosingProxy;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        const transaction = String(request.headers['x-amz-target']).endsWith('.TransactWriteItems');
        if (transaction) proxy.transactions.push(JSON.parse(body.toString('utf8')));
        const lost = transaction && proxy.lose > 0;
        if (lost) proxy.lose--;
        const forward = httpRequest(
          new URL(request.url ?? '/', target),
          { method: request.method, headers: request.headers, agent: false },
          (answer) => {
            const parts: Buffer[] = [];
            answer.on('data', (part: Buffer) => parts.push(part));
            answer.on('end', () => {
              if (!lost) return void response.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(parts));
              response
                .writeHead(500, { 'content-type': 'application/x-amz-json-1.0' })
                .end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'the answer was lost' }));
            });
          },
        );
        forward.on('error', (error) => response.writeHead(502).end(String(error)));
        forward.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new LosingProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('against DynamoDB Local', () => {
  let env: Emulated;
  const tables: string[] = [];

  before(async () => {
    env = await emulated();
  });
  after(async () => {
    if (!env) return;
    for (const TableName of tables) await env.clients.dynamodb.send(new sdk.DeleteTableCommand({ TableName }));
    await env.stop();
  });

  const table = async (prefix: string) => {
    const name = await createTable(env.clients, prefix);
    tables.push(name);
    return name;
  };

  describe('the document client gives what lib-dynamodb gives', () => {
    let ours: docs.DocumentClient;
    let ourTable: string;
    let sdkTable: string;

    before(async () => {
      ours = ourDocuments(env.emulators.dynamodbEndpoint);
      [ourTable, sdkTable] = await Promise.all([table('ddb-protocol-ours'), table('ddb-protocol-sdk')]);
    });

    // The steps build on each other: each runs on both tables in turn.
    for (const step of steps) {
      test(step.title, async () => {
        const actual = outcome(await settle(() => step.run(ours, docs, ourTable)), ourTable) as { error?: string };
        const expected = outcome(await settle(() => step.run(env.clients.documents, lib, sdkTable)), sdkTable);
        assert.deepEqual(actual, expected);
        assert.equal(actual.error, step.error);
      });
    }
  });

  describe('a transaction whose answer is lost', () => {
    let proxy: LosingProxy;
    let TableName: string;

    before(async () => {
      proxy = await LosingProxy.start(env.emulators.dynamodbEndpoint);
      TableName = await table('ddb-protocol-lost');
    });
    after(() => proxy?.close());

    /** Accepts an order once (its condition) and counts it (a counter no condition guards). */
    const accept = (order: string) => ({
      TransactItems: [
        { Put: { TableName, Item: { pk: 'erp', sk: order }, ConditionExpression: 'attribute_not_exists(pk)' } },
        {
          Update: {
            TableName,
            Key: { pk: 'erp', sk: `${order}#count` },
            UpdateExpression: 'ADD n :one',
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
      ],
    });
    const count = async (order: string) => {
      const { Item } = await env.clients.documents.send(
        new lib.GetCommand({ TableName, Key: { pk: 'erp', sk: `${order}#count` }, ConsistentRead: true }),
      );
      return Item?.n;
    };

    test('is retried with the same token, and DynamoDB takes the retry for the transaction it already did', async () => {
      const order = `order-${randomUUID()}`;
      proxy.transactions.length = 0;
      proxy.lose = 1;
      await ourDocuments(proxy.url).send(new docs.TransactWriteCommand(accept(order)));
      assert.equal(proxy.lose, 0, 'the first answer was lost');
      assert.equal(proxy.transactions.length, 2);
      assert.match(proxy.transactions[0].ClientRequestToken, UUID);
      assert.deepEqual(proxy.transactions[1], proxy.transactions[0]);
      assert.equal(await count(order), 1, 'written once');
    });

    test('without a token, the retry fails on the condition the lost attempt satisfied', async () => {
      const order = `order-${randomUUID()}`;
      proxy.transactions.length = 0;
      proxy.lose = 1;
      // The same call over the bare operation, which sends no token.
      const tokenless = { documentInput: accept(order), rawOperation: ddb.dynamodbService.operation('TransactWriteItems') };
      await assert.rejects(ourDocuments(proxy.url).send(tokenless), (error: any) => {
        assert.equal(error.name, 'TransactionCanceledException');
        assert.deepEqual(
          error.CancellationReasons.map((reason: { Code: string }) => reason.Code),
          ['ConditionalCheckFailed', 'None'],
        );
        assert.equal(error.$metadata.attempts, 2);
        return true;
      });
      assert.equal(proxy.transactions.length, 2);
      assert.equal(proxy.transactions[0].ClientRequestToken, undefined);
      assert.equal(await count(order), 1, 'the first attempt was done; its retry was refused');
    });
  });
});
