import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as sdkEvents from '@aws-sdk/client-eventbridge';
import * as sdkKms from '@aws-sdk/client-kms';
import * as sdkScheduler from '@aws-sdk/client-scheduler';
import * as sdkSqs from '@aws-sdk/client-sqs';
import { AwsClient } from '../../adapters/aws/protocol/client';
import { AwsServiceError } from '../../adapters/aws/protocol/errors';
import * as events from '../../adapters/aws/protocol/event-bridge';
import * as kms from '../../adapters/aws/protocol/kms';
import type { Command, EndpointContext, WireResponse } from '../../adapters/aws/protocol/operation';
import * as scheduler from '../../adapters/aws/protocol/scheduler';
import * as sqs from '../../adapters/aws/protocol/sqs';
import { enableAwsFifoBatches } from '../../local/fifo-batches';
import { startTestSqs, type TestSqs } from '../helpers/emulator-sqs';
import { sdkRequestOf } from '../helpers/sdk-oracle';

/**
 * The AWS SDK's clients are the oracle: each operation's request must be the one the
 * SDK would send, and each answer (a success or an error) must read as the SDK reads it.
 */

const REGION = 'eu-west-1';
const LOCAL_ENDPOINT = 'http://127.0.0.1:9324';
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

type SdkClientClass = new (config: any) => { send(command: any): Promise<any>; middlewareStack: any; destroy(): void };
type SdkCommandClass = new (input: any) => unknown;
type OurCommandClass = new (input: any) => Command<any, any>;

interface Pair {
  title: string;
  client: SdkClientClass;
  sdk: SdkCommandClass;
  ours: OurCommandClass;
  input: () => Record<string, unknown>;
}

/** What of a request the tests hold equal: the signature and the SDK's own headers (user agent, invocation id) aside. */
interface Laid {
  method: string;
  url: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body: unknown;
}

const MEANINGFUL_HEADERS = ['content-type', 'x-amz-target', 'x-amzn-query-mode'];

const pickHeaders = (headers: Record<string, string>) => Object.fromEntries(MEANINGFUL_HEADERS.map((name) => [name, headers[name]]));

function parseBody(body: unknown): unknown {
  if (body === undefined || body === null) return undefined;
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body as Uint8Array);
  return text === '' ? undefined : JSON.parse(text);
}

/** The request the SDK client would send, taken just before it would go out. */
async function sdkRequest(pair: Pair, endpoint?: string): Promise<Laid> {
  const client = new pair.client({ region: REGION, credentials, logger: quiet, ...(endpoint ? { endpoint } : {}) });
  const request = await sdkRequestOf(client, new pair.sdk(pair.input()));
  return {
    method: request.method,
    url: `${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ''}${request.path}`,
    query: { ...request.query },
    headers: pickHeaders(request.headers),
    body: parseBody(request.body),
  };
}

function ourRequest(pair: Pair, endpoint?: string): Laid {
  const command = new pair.ours(pair.input());
  const context: EndpointContext = { region: REGION, ...(endpoint ? { endpoint: new URL(endpoint) } : {}) };
  const request = command.operation.serialize(command.input, context);
  return {
    method: request.method,
    url: `${request.url.origin}${request.url.pathname}`,
    query: Object.fromEntries(request.url.searchParams),
    headers: pickHeaders(request.headers),
    body: parseBody(request.body),
  };
}

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-delivery.fifo';
const KEY_ID = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const CONTEXT = { connectionId: 'erp', purpose: 'credentials' };
/** A Buffer from the pool, as `Buffer.from(base64)` gives: its bytes start past offset 0 of a larger buffer. */
const pooledBytes = () => Buffer.from('AQIDBAUGBwgJCgsMDQ4PEA==', 'base64');

const pairs: Pair[] = [
  {
    title: 'SQS SendMessageBatch',
    client: sdkSqs.SQSClient,
    sdk: sdkSqs.SendMessageBatchCommand,
    ours: sqs.SendMessageBatchCommand,
    input: () => ({
      QueueUrl: QUEUE_URL,
      Entries: [
        { Id: '0', MessageBody: '{"messageId":"m-1"}', MessageGroupId: 'erp#default', MessageDeduplicationId: 'd-1' },
        {
          Id: '1',
          MessageBody: 'ünïcode body',
          MessageGroupId: 'erp#bulk',
          MessageDeduplicationId: 'd-2',
          DelaySeconds: 0,
          MessageAttributes: {
            kind: { DataType: 'String', StringValue: 'ticket' },
            raw: { DataType: 'Binary', BinaryValue: pooledBytes() },
          },
        },
      ],
    }),
  },
  {
    title: 'SQS ChangeMessageVisibility',
    client: sdkSqs.SQSClient,
    sdk: sdkSqs.ChangeMessageVisibilityCommand,
    ours: sqs.ChangeMessageVisibilityCommand,
    input: () => ({ QueueUrl: QUEUE_URL, ReceiptHandle: 'AQEB+handle/1==', VisibilityTimeout: 930 }),
  },
  {
    title: 'SQS GetQueueAttributes',
    client: sdkSqs.SQSClient,
    sdk: sdkSqs.GetQueueAttributesCommand,
    ours: sqs.GetQueueAttributesCommand,
    input: () => ({ QueueUrl: QUEUE_URL, AttributeNames: ['CreatedTimestamp'] }),
  },
  {
    title: 'SQS GetQueueAttributes of a queue URL in the legacy form (its host, not the region, is where it goes)',
    client: sdkSqs.SQSClient,
    sdk: sdkSqs.GetQueueAttributesCommand,
    ours: sqs.GetQueueAttributesCommand,
    input: () => ({ QueueUrl: 'https://queue.amazonaws.com/123456789012/sluice-delivery.fifo', AttributeNames: ['All'] }),
  },
  {
    title: 'SQS ReceiveMessage',
    client: sdkSqs.SQSClient,
    sdk: sdkSqs.ReceiveMessageCommand,
    ours: sqs.ReceiveMessageCommand,
    input: () => ({
      QueueUrl: QUEUE_URL,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 20,
      VisibilityTimeout: 60,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
      ReceiveRequestAttemptId: 'attempt-1',
    }),
  },
  {
    title: 'SQS DeleteMessageBatch',
    client: sdkSqs.SQSClient,
    sdk: sdkSqs.DeleteMessageBatchCommand,
    ours: sqs.DeleteMessageBatchCommand,
    input: () => ({
      QueueUrl: QUEUE_URL,
      Entries: [
        { Id: '0', ReceiptHandle: 'h-0' },
        { Id: '1', ReceiptHandle: 'h-1' },
      ],
    }),
  },
  {
    title: 'SQS DeleteMessage',
    client: sdkSqs.SQSClient,
    sdk: sdkSqs.DeleteMessageCommand,
    ours: sqs.DeleteMessageCommand,
    input: () => ({ QueueUrl: QUEUE_URL, ReceiptHandle: 'h-0' }),
  },
  {
    title: 'KMS GenerateDataKey',
    client: sdkKms.KMSClient,
    sdk: sdkKms.GenerateDataKeyCommand,
    ours: kms.GenerateDataKeyCommand,
    input: () => ({ KeyId: KEY_ID, KeySpec: 'AES_256', EncryptionContext: CONTEXT }),
  },
  {
    title: 'KMS Decrypt',
    client: sdkKms.KMSClient,
    sdk: sdkKms.DecryptCommand,
    ours: kms.DecryptCommand,
    input: () => ({ KeyId: KEY_ID, CiphertextBlob: pooledBytes(), EncryptionContext: CONTEXT }),
  },
  {
    title: 'EventBridge PutEvents',
    client: sdkEvents.EventBridgeClient,
    sdk: sdkEvents.PutEventsCommand,
    ours: events.PutEventsCommand,
    input: () => ({
      Entries: [
        {
          EventBusName: 'sluice-events',
          Source: 'sluice',
          DetailType: 'connection.down',
          Time: new Date('2026-11-22T10:00:00.123Z'),
          Detail: JSON.stringify({ connectionId: 'erp' }),
        },
        {
          EventBusName: 'sluice-events',
          Source: 'sluice',
          DetailType: 'connection.up',
          Time: new Date('2026-11-22T10:05:00Z'),
          Detail: '{}',
        },
        { EventBusName: 'sluice-events', Source: 'sluice', DetailType: 'no.time', Detail: '{}' },
      ],
    }),
  },
  {
    title: 'Scheduler CreateSchedule',
    client: sdkScheduler.SchedulerClient,
    sdk: sdkScheduler.CreateScheduleCommand,
    ours: scheduler.CreateScheduleCommand,
    input: () => ({
      Name: 'sluice-probe-0123456789abcdef01234567-60s',
      GroupName: 'sluice-probes',
      Description: 'Sluice fast probe of connection erp, 60 s after it went down',
      ScheduleExpression: 'at(2026-11-22T10:01:00)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      ClientToken: 'f3a1c2d4-0000-4000-8000-000000000001',
      Target: {
        Arn: 'arn:aws:lambda:eu-west-1:123456789012:function:sluice-prober',
        RoleArn: 'arn:aws:iam::123456789012:role/sluice-scheduler',
        Input: JSON.stringify({ kind: 'probe', connectionIds: ['erp'] }),
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
      },
    }),
  },
  {
    title: 'Scheduler CreateSchedule with a start and an end date',
    client: sdkScheduler.SchedulerClient,
    sdk: sdkScheduler.CreateScheduleCommand,
    ours: scheduler.CreateScheduleCommand,
    input: () => ({
      Name: 'with dates (and a space)',
      ScheduleExpression: 'rate(5 minutes)',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 5 },
      StartDate: new Date('2026-11-22T10:00:00.250Z'),
      EndDate: new Date('2026-11-23T10:00:00Z'),
      ClientToken: 'f3a1c2d4-0000-4000-8000-000000000002',
      Target: {
        Arn: 'arn:aws:sqs:eu-west-1:123456789012:q',
        RoleArn: 'arn:aws:iam::123456789012:role/r',
        SqsParameters: { MessageGroupId: 'g' },
      },
    }),
  },
  {
    title: 'Scheduler DeleteSchedule',
    client: sdkScheduler.SchedulerClient,
    sdk: sdkScheduler.DeleteScheduleCommand,
    ours: scheduler.DeleteScheduleCommand,
    input: () => ({
      Name: 'sluice-probe-0123456789abcdef01234567-60s',
      GroupName: 'sluice probes',
      ClientToken: 'f3a1c2d4-0000-4000-8000-000000000003',
    }),
  },
  {
    title: 'Scheduler DeleteSchedule in the default group',
    client: sdkScheduler.SchedulerClient,
    sdk: sdkScheduler.DeleteScheduleCommand,
    ours: scheduler.DeleteScheduleCommand,
    input: () => ({ Name: 'probe', ClientToken: 'f3a1c2d4-0000-4000-8000-000000000004' }),
  },
];

describe('requests as the AWS SDK lays them out', () => {
  for (const pair of pairs) {
    test(`${pair.title}, on AWS`, async () => {
      const expected = await sdkRequest(pair);
      assert.ok(expected.url.startsWith('https://'));
      assert.deepEqual(ourRequest(pair), expected);
    });
    test(`${pair.title}, on a custom endpoint`, async () => {
      const expected = await sdkRequest(pair, LOCAL_ENDPOINT);
      assert.ok(expected.url.startsWith(`${LOCAL_ENDPOINT}/`));
      assert.deepEqual(ourRequest(pair, LOCAL_ENDPOINT), expected);
    });
  }

  test('SQS carries the query-compatibility header the SDK sends', async () => {
    const laid = ourRequest(pairs[0]!);
    assert.equal(laid.headers['x-amzn-query-mode'], 'true');
    assert.equal(laid.headers['x-amz-target'], 'AmazonSQS.SendMessageBatch');
  });

  test('the path label and the query are percent-encoded as the signature canonicalises them', () => {
    const command = new scheduler.DeleteScheduleCommand({ Name: "a b!'()*", GroupName: 'g+h i', ClientToken: 't' });
    const { url } = command.operation.serialize(command.input, { region: REGION });
    assert.equal(url.pathname, '/schedules/a%20b%21%27%28%29%2A');
    assert.equal(url.search, '?groupName=g%2Bh%20i&clientToken=t');
  });

  test('a create or a delete without a client token gets a fresh UUID, as the SDK fills it', () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const create = () => {
      const command = new scheduler.CreateScheduleCommand({
        Name: 'n',
        ScheduleExpression: 'rate(1 hour)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: 'a', RoleArn: 'r' },
      });
      return (parseBody(command.operation.serialize(command.input, { region: REGION }).body) as { ClientToken: string }).ClientToken;
    };
    const remove = () => {
      const command = new scheduler.DeleteScheduleCommand({ Name: 'n' });
      return command.operation.serialize(command.input, { region: REGION }).url.searchParams.get('clientToken')!;
    };
    const tokens = [create(), create(), remove(), remove()];
    for (const token of tokens) assert.match(token, uuid);
    assert.equal(new Set(tokens).size, tokens.length);
  });

  test('a schedule without a name is refused before it is sent', () => {
    const command = new scheduler.DeleteScheduleCommand({ Name: undefined });
    assert.throws(() => command.operation.serialize(command.input, { region: REGION }), /Name/);
  });
});

/** An answer as it comes off the wire: lower-case header names, as Node's HTTP client gives them. */
interface Raw {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

/** Strips what only one side has and holds bytes as bytes (the SDK may hand back a Buffer, we a Uint8Array). */
function comparable(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(comparable);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key, v]) => v !== undefined && key !== '$metadata')
        .map(([key, v]) => [key, comparable(v)]),
    );
  }
  return value;
}

type Outcome = { output: unknown } | { error: Record<string, unknown> };

function errorFields(error: any, extra: string[]): Record<string, unknown> {
  return {
    name: error.name,
    message: error.message,
    httpStatusCode: error.$metadata?.httpStatusCode,
    requestId: error.$metadata?.requestId,
    ...Object.fromEntries(extra.map((key) => [key, error[key]])),
  };
}

async function sdkOutcome(pair: Pair, raw: Raw, extra: string[]): Promise<Outcome> {
  const client = new pair.client({
    region: REGION,
    credentials,
    logger: quiet,
    maxAttempts: 1,
    requestHandler: {
      handle: async () => ({
        response: { statusCode: raw.status, reason: '', headers: { ...raw.headers }, body: Readable.from([Buffer.from(raw.body, 'utf8')]) },
      }),
    },
  });
  try {
    return { output: comparable(await client.send(new pair.sdk(pair.input()))) };
  } catch (error) {
    return { error: errorFields(error, extra) };
  } finally {
    client.destroy();
  }
}

function ourOutcome(pair: Pair, raw: Raw, extra: string[]): Outcome {
  const { operation } = new pair.ours(pair.input());
  const response: WireResponse = { statusCode: raw.status, headers: { ...raw.headers }, body: new TextEncoder().encode(raw.body) };
  if (raw.status >= 200 && raw.status < 300) return { output: comparable(operation.deserialize(response)) };
  const error = operation.service.error(response);
  assert.ok(error instanceof AwsServiceError);
  return { error: errorFields(error, extra) };
}

const pairNamed = (title: string) => pairs.find((pair) => pair.title === title)!;

interface AnswerCase {
  title: string;
  pair: string;
  raw: Raw;
  /** What Sluice's code relies on, beside agreeing with the SDK. */
  expect?: Record<string, unknown>;
  /** Error fields to compare beside name, message, status and request id. */
  extra?: string[];
  /** A message of our own where the SDK's carries nothing. */
  message?: { sdk: string; ours: string };
}

const json10 = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'req-1' };
const json11 = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'req-2' };
const restJson = { 'content-type': 'application/json', 'x-amzn-requestid': 'req-3' };

const answers: AnswerCase[] = [
  {
    title: 'SQS SendMessageBatch with a failed entry',
    pair: 'SQS SendMessageBatch',
    raw: {
      status: 200,
      headers: json10,
      body: JSON.stringify({
        Successful: [{ Id: '0', MessageId: 'm-0', MD5OfMessageBody: md5('{"messageId":"m-1"}'), SequenceNumber: '18880000000000000001' }],
        Failed: [{ Id: '1', SenderFault: true, Code: 'InvalidParameterValue', Message: 'Value for parameter DelaySeconds is invalid.' }],
      }),
    },
  },
  {
    title: 'SQS ReceiveMessage with system and binary attributes',
    pair: 'SQS ReceiveMessage',
    raw: {
      status: 200,
      headers: json10,
      body: JSON.stringify({
        Messages: [
          {
            MessageId: 'm-0',
            ReceiptHandle: 'h-0',
            MD5OfBody: md5('ticket'),
            Body: 'ticket',
            Attributes: { ApproximateFirstReceiveTimestamp: '1763805600000', MessageGroupId: 'erp#default', SequenceNumber: '1' },
            MD5OfMessageAttributes: 'x',
            MessageAttributes: {
              raw: { DataType: 'Binary', BinaryValue: 'AQID' },
              kind: { DataType: 'String', StringValue: 'ticket' },
            },
          },
        ],
      }),
    },
  },
  { title: 'SQS ReceiveMessage of an empty queue', pair: 'SQS ReceiveMessage', raw: { status: 200, headers: json10, body: '{}' } },
  { title: 'SQS ChangeMessageVisibility', pair: 'SQS ChangeMessageVisibility', raw: { status: 200, headers: json10, body: '{}' } },
  { title: 'SQS DeleteMessage answered with no body', pair: 'SQS DeleteMessage', raw: { status: 200, headers: json10, body: '' } },
  {
    title: 'SQS DeleteMessageBatch',
    pair: 'SQS DeleteMessageBatch',
    raw: {
      status: 200,
      headers: json10,
      body: JSON.stringify({
        Successful: [{ Id: '0' }],
        Failed: [{ Id: '1', SenderFault: true, Code: 'ReceiptHandleIsInvalid', Message: 'The receipt handle is not valid.' }],
      }),
    },
  },
  {
    title: 'SQS GetQueueAttributes',
    pair: 'SQS GetQueueAttributes',
    raw: { status: 200, headers: json10, body: JSON.stringify({ Attributes: { CreatedTimestamp: '1763805600' } }) },
    expect: { output: { Attributes: { CreatedTimestamp: '1763805600' } } },
  },
  {
    title: 'SQS error: a missing queue, named by its query code',
    pair: 'SQS GetQueueAttributes',
    raw: {
      status: 400,
      headers: { ...json10, 'x-amzn-query-error': 'AWS.SimpleQueueService.NonExistentQueue;Sender' },
      body: JSON.stringify({ __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'The specified queue does not exist.' }),
    },
    expect: { name: 'QueueDoesNotExist', message: 'The specified queue does not exist.', httpStatusCode: 400 },
    extra: ['Code', 'Type'],
  },
  {
    title: 'SQS error: a missing queue, without the query header',
    pair: 'SQS GetQueueAttributes',
    raw: {
      status: 400,
      headers: json10,
      body: JSON.stringify({ __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'The specified queue does not exist.' }),
    },
    expect: { name: 'QueueDoesNotExist' },
  },
  {
    title: 'SQS error: a query code that is its own name',
    pair: 'SQS ChangeMessageVisibility',
    raw: {
      status: 404,
      headers: { ...json10, 'x-amzn-query-error': 'ReceiptHandleIsInvalid;Sender' },
      body: JSON.stringify({ __type: 'com.amazonaws.sqs#ReceiptHandleIsInvalid', message: 'The input receipt handle is invalid.' }),
    },
    extra: ['Code', 'Type'],
  },
  {
    title: 'SQS error: the queue key throttled',
    pair: 'SQS SendMessageBatch',
    raw: {
      status: 400,
      headers: { ...json10, 'x-amzn-query-error': 'KMS.ThrottlingException;Sender' },
      body: JSON.stringify({ __type: 'com.amazonaws.sqs#KmsThrottled', message: 'Rate exceeded.' }),
    },
    expect: { name: 'KmsThrottled' },
    extra: ['Code', 'Type'],
  },
  {
    title: 'SQS error: an unmodelled query code names the error',
    pair: 'SQS ChangeMessageVisibility',
    raw: {
      status: 400,
      headers: { ...json10, 'x-amzn-query-error': 'InvalidParameterValue;Sender' },
      body: JSON.stringify({
        __type: 'com.amazon.coral.validate#ValidationException',
        message: 'Value 50000 for parameter VisibilityTimeout is invalid.',
      }),
    },
    expect: { name: 'InvalidParameterValue' },
    extra: ['Code', 'Type'],
  },
  {
    title: 'SQS error: a server fault',
    pair: 'SQS SendMessageBatch',
    raw: {
      status: 500,
      headers: { ...json10, 'x-amzn-query-error': 'InternalError;Receiver' },
      body: JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: 'We encountered an internal error.' }),
    },
    extra: ['Code', 'Type', '$fault'],
  },
  {
    title: 'KMS GenerateDataKey',
    pair: 'KMS GenerateDataKey',
    raw: {
      status: 200,
      headers: json11,
      body: JSON.stringify({
        CiphertextBlob: Buffer.from('wrapped key bytes').toString('base64'),
        Plaintext: Buffer.alloc(32, 7).toString('base64'),
        KeyId: KEY_ID,
        KeyMaterialId: 'km-1',
      }),
    },
  },
  {
    title: 'KMS Decrypt',
    pair: 'KMS Decrypt',
    raw: {
      status: 200,
      headers: json11,
      body: JSON.stringify({ KeyId: KEY_ID, Plaintext: Buffer.alloc(32, 9).toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }),
    },
  },
  {
    title: 'KMS error: a ciphertext that does not open, with a message',
    pair: 'KMS Decrypt',
    raw: {
      status: 400,
      headers: json11,
      body: JSON.stringify({ __type: 'InvalidCiphertextException', message: 'The ciphertext is invalid.' }),
    },
    expect: { name: 'InvalidCiphertextException' },
  },
  {
    title: 'KMS error: a ciphertext that does not open, as KMS says it (no message)',
    pair: 'KMS Decrypt',
    raw: { status: 400, headers: json11, body: JSON.stringify({ __type: 'InvalidCiphertextException' }) },
    expect: { name: 'InvalidCiphertextException' },
    // Where the SDK says 'UnknownError', json-protocol.ts names the error and the status: more use in a log.
    message: { sdk: 'UnknownError', ours: 'InvalidCiphertextException (HTTP 400)' },
  },
  {
    title: 'KMS error: a missing key',
    pair: 'KMS GenerateDataKey',
    raw: {
      status: 400,
      headers: json11,
      body: JSON.stringify({ __type: 'NotFoundException', message: `Key '${KEY_ID}' does not exist` }),
    },
  },
  {
    title: 'KMS error: throttled',
    pair: 'KMS Decrypt',
    raw: { status: 400, headers: json11, body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }) },
  },
  {
    title: 'EventBridge PutEvents with a failed entry',
    pair: 'EventBridge PutEvents',
    raw: {
      status: 200,
      headers: json11,
      body: JSON.stringify({
        FailedEntryCount: 1,
        Entries: [{ EventId: '11710aed-b79e-4468-a20b-bb3c0c3b4860' }, { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }, {}],
      }),
    },
  },
  {
    title: 'EventBridge error: a missing bus',
    pair: 'EventBridge PutEvents',
    raw: {
      status: 400,
      headers: json11,
      body: JSON.stringify({ __type: 'ResourceNotFoundException', message: 'Event bus sluice-events does not exist.' }),
    },
  },
  {
    title: 'Scheduler CreateSchedule',
    pair: 'Scheduler CreateSchedule',
    raw: {
      status: 200,
      headers: restJson,
      body: JSON.stringify({ ScheduleArn: 'arn:aws:scheduler:eu-west-1:123456789012:schedule/sluice-probes/p' }),
    },
  },
  { title: 'Scheduler DeleteSchedule', pair: 'Scheduler DeleteSchedule', raw: { status: 200, headers: restJson, body: '{}' } },
  {
    title: 'Scheduler error: the schedule exists (ConflictException)',
    pair: 'Scheduler CreateSchedule',
    raw: {
      status: 409,
      headers: { ...restJson, 'x-amzn-errortype': 'ConflictException:http://internal.amazon.com/coral/com.amazonaws.chronos/' },
      body: JSON.stringify({ Message: 'Schedule sluice-probe-0123456789abcdef01234567-60s already exists.' }),
    },
    expect: { name: 'ConflictException', httpStatusCode: 409 },
  },
  {
    title: 'Scheduler error: no such schedule (ResourceNotFoundException)',
    pair: 'Scheduler DeleteSchedule',
    raw: {
      status: 404,
      headers: { ...restJson, 'x-amzn-errortype': 'ResourceNotFoundException' },
      body: JSON.stringify({ Message: 'Schedule sluice-probe-0123456789abcdef01234567-60s does not exist.' }),
    },
    expect: { name: 'ResourceNotFoundException', httpStatusCode: 404 },
  },
  {
    title: 'Scheduler error: named by the body alone',
    pair: 'Scheduler CreateSchedule',
    raw: {
      status: 400,
      headers: restJson,
      body: JSON.stringify({ __type: 'com.amazonaws.scheduler#ValidationException', Message: 'Invalid Schedule Expression' }),
    },
    expect: { name: 'ValidationException' },
  },
];

describe('answers read as the AWS SDK reads them', () => {
  for (const answer of answers) {
    test(answer.title, async () => {
      const pair = pairNamed(answer.pair);
      const extra = answer.extra ?? [];
      const expected = await sdkOutcome(pair, answer.raw, extra);
      const actual = ourOutcome(pair, answer.raw, extra);
      if (answer.message && 'error' in expected && 'error' in actual) {
        assert.equal(expected.error.message, answer.message.sdk);
        assert.equal(actual.error.message, answer.message.ours);
        expected.error.message = actual.error.message;
      }
      assert.deepEqual(actual, expected);
      if (answer.expect) {
        const seen: Record<string, unknown> = 'error' in actual ? actual.error : actual;
        for (const [key, value] of Object.entries(answer.expect)) assert.deepEqual(seen[key], value, key);
      }
    });
  }

  test('blobs come back as bytes', () => {
    const { operation } = new kms.DecryptCommand({ CiphertextBlob: new Uint8Array([1]) });
    const output = operation.deserialize({ statusCode: 200, headers: {}, body: new TextEncoder().encode('{"Plaintext":"AQID"}') });
    assert.ok(output.Plaintext instanceof Uint8Array);
    assert.deepEqual([...output.Plaintext], [1, 2, 3]);
  });
});

describe('SQS through the client, against the SQS emulator', () => {
  let env: TestSqs;
  let client: AwsClient;

  before(async () => {
    env = await startTestSqs();
    // A receive then hands out a group's messages together, as AWS does (local/fifo-batches.ts).
    await enableAwsFifoBatches();
    client = new AwsClient(sqs.sqsService, {
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${env.server.port}`,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });
  after(() => env.stop());

  test('a FIFO queue round trip: send a batch, receive, change visibility, delete, read the attributes', async () => {
    const queue = await env.createDeliveryQueue('protocol');
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    const sent = await client.send(
      new sqs.SendMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: [
          { Id: 'a1', MessageBody: 'A-1', MessageGroupId: 'A', MessageDeduplicationId: 'a1' },
          { Id: 'a2', MessageBody: 'A-2', MessageGroupId: 'A', MessageDeduplicationId: 'a2' },
          {
            Id: 'b1',
            MessageBody: 'B-1 ünïcode',
            MessageGroupId: 'B',
            MessageDeduplicationId: 'b1',
            MessageAttributes: { raw: { DataType: 'Binary', BinaryValue: bytes } },
          },
        ],
      }),
    );
    assert.deepEqual(sent.Failed ?? [], []);
    assert.deepEqual(sent.Successful?.map((entry) => [entry.Id, entry.MD5OfMessageBody]).sort(), [
      ['a1', md5('A-1')],
      ['a2', md5('A-2')],
      ['b1', md5('B-1 ünïcode')],
    ]);

    const receive = async () => {
      const { Messages = [] } = await client.send(
        new sqs.ReceiveMessageCommand({
          QueueUrl: queue.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      return Messages;
    };
    const received = new Map<string, Awaited<ReturnType<typeof receive>>[number]>();
    for (let round = 0; round < 5 && received.size < 3; round++)
      for (const message of await receive()) received.set(message.Body!, message);
    assert.deepEqual([...received.keys()].sort(), ['A-1', 'A-2', 'B-1 ünïcode']);
    const b1 = received.get('B-1 ünïcode')!;
    assert.equal(b1.Attributes?.MessageGroupId, 'B');
    assert.ok(b1.MessageAttributes?.raw?.BinaryValue instanceof Uint8Array);
    assert.deepEqual([...b1.MessageAttributes.raw.BinaryValue], [...bytes]);
    assert.deepEqual(await receive(), [], 'every message is in flight');

    // Visible again at once: the next receive hands B-1 out a second time.
    await client.send(
      new sqs.ChangeMessageVisibilityCommand({ QueueUrl: queue.queueUrl, ReceiptHandle: b1.ReceiptHandle, VisibilityTimeout: 0 }),
    );
    const again = await receive();
    assert.deepEqual(
      again.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount]),
      [['B-1 ünïcode', '2']],
    );

    await client.send(new sqs.DeleteMessageCommand({ QueueUrl: queue.queueUrl, ReceiptHandle: again[0]!.ReceiptHandle }));
    const deleted = await client.send(
      new sqs.DeleteMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: [
          { Id: 'a1', ReceiptHandle: received.get('A-1')!.ReceiptHandle },
          { Id: 'a2', ReceiptHandle: received.get('A-2')!.ReceiptHandle },
        ],
      }),
    );
    assert.deepEqual(deleted.Failed ?? [], []);
    assert.deepEqual(deleted.Successful?.map((entry) => entry.Id).sort(), ['a1', 'a2']);
    assert.equal(env.remaining(queue.name).total, 0);

    const { Attributes } = await client.send(
      new sqs.GetQueueAttributesCommand({
        QueueUrl: queue.queueUrl,
        AttributeNames: ['FifoQueue', 'CreatedTimestamp', 'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    assert.equal(Attributes?.FifoQueue, 'true');
    assert.equal(Attributes?.ApproximateNumberOfMessages, '0');
    assert.equal(Attributes?.ApproximateNumberOfMessagesNotVisible, '0');
    assert.match(Attributes?.CreatedTimestamp ?? '', /^\d+$/);
  });

  test('a missing queue fails as the SDK names it', async () => {
    const missing = `http://127.0.0.1:${env.server.port}/000000000000/no-such-queue.fifo`;
    await assert.rejects(client.send(new sqs.GetQueueAttributesCommand({ QueueUrl: missing, AttributeNames: ['All'] })), (error: any) => {
      assert.equal(error.name, 'QueueDoesNotExist');
      assert.equal(error.$metadata.httpStatusCode, 400);
      assert.equal(error.$metadata.attempts, 1);
      return true;
    });
  });
});
