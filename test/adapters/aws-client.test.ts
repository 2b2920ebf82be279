import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { AwsClient, type AwsClientOptions } from '../../adapters/aws/protocol/client';
import { GetItemCommand, dynamodbService } from '../../adapters/aws/protocol/dynamodb';
import { DecryptCommand, kmsService } from '../../adapters/aws/protocol/kms';
import type { Command, ServiceProtocol } from '../../adapters/aws/protocol/operation';
import { GetQueueAttributesCommand, sqsService } from '../../adapters/aws/protocol/sqs';
import { TestTarget, type Reply } from '../helpers/target';

/**
 * The AWS client's own behaviour, whatever the service: which failures it retries and how
 * often (the SDK's standard strategy and classification), what it makes of answers that
 * are broken, and the trace header it carries in Lambda. A real HTTP server answers as
 * each test scripts it; backoff stays short because the failures retried are transient
 * (the SDK waits up to 50 ms × 2^n for those) or the attempts are capped at two.
 */

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'req-1', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const dynamoError = (status: number, type: string, message = type): Reply =>
  json(status, { __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });
const item: Reply = json(200, { Item: { pk: { S: 'erp#m-1' } } });
/** The connection drops before any answer. */
const reset: Reply = { status: 0, reset: true };
/** No answer at all: the client's attempt timeout has to give up on it. */
const silent: Reply = { status: 0, hang: true };

/** The tests' scripted target, answering as each test scripts it. */
class ScriptedServer {
  private replies: Reply[] = [];

  private constructor(private readonly target: TestTarget) {}

  static async start(): Promise<ScriptedServer> {
    let scripted!: ScriptedServer;
    const target = await TestTarget.start(() =>
      scripted.replies.length > 1 ? scripted.replies.shift()! : (scripted.replies[0] ?? json(200, {})),
    );
    scripted = new ScriptedServer(target);
    return scripted;
  }

  /** The requests since the last script, headers and body as they arrived. */
  get requests(): { headers: IncomingHttpHeaders; body: string }[] {
    return this.target.received.map((request) => ({ headers: request.headers, body: request.body.toString('utf8') }));
  }

  /** Replies in order; the last one repeats. */
  script(...replies: Reply[]): void {
    this.target.received.length = 0;
    this.replies = replies;
  }

  client(service: ServiceProtocol, options: Partial<AwsClientOptions> = {}): AwsClient {
    return new AwsClient(service, {
      region: 'us-east-1',
      endpoint: this.target.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      ...options,
    });
  }

  close(): Promise<void> {
    return this.target.stop();
  }
}

const getItem = () => new GetItemCommand({ TableName: 'sluice-messages', Key: { pk: { S: 'erp#m-1' } } });

let server: ScriptedServer;
before(async () => {
  server = await ScriptedServer.start();
});
after(() => server?.close());

describe('retries', () => {
  test("a server error is retried until DynamoDB's four attempts are spent", async () => {
    server.script(dynamoError(500, 'InternalServerError'));
    await assert.rejects(server.client(dynamodbService).send(getItem()), (error: any) => {
      assert.equal(error.name, 'InternalServerError');
      assert.equal(error.$metadata.httpStatusCode, 500);
      assert.equal(error.$metadata.attempts, 4);
      return true;
    });
    assert.equal(server.requests.length, 4);
  });

  const others: [string, ServiceProtocol, () => Command<any, any>][] = [
    [
      'SQS',
      sqsService,
      () => new GetQueueAttributesCommand({ QueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/q', AttributeNames: ['All'] }),
    ],
    ['KMS', kmsService, () => new DecryptCommand({ CiphertextBlob: new Uint8Array([1]) })],
  ];
  for (const [label, service, command] of others) {
    test(`${label}: a service unavailable is retried until the default three attempts are spent`, async () => {
      server.script(json(503, ''));
      await assert.rejects(server.client(service).send(command()), (error: any) => {
        assert.equal(error.$metadata.httpStatusCode, 503);
        assert.equal(error.$metadata.attempts, 3);
        return true;
      });
      assert.equal(server.requests.length, 3);
    });
  }

  test('a 500 and a 503, then an answer: the call gives the answer', async () => {
    server.script(dynamoError(500, 'InternalServerError'), json(503, ''), item);
    const output = await server.client(dynamodbService).send(getItem());
    assert.deepEqual(output.Item, { pk: { S: 'erp#m-1' } });
    assert.equal(server.requests.length, 3);
  });

  test('a connection reset before the answer is retried', async () => {
    server.script(reset, item);
    const output = await server.client(dynamodbService).send(getItem());
    assert.deepEqual(output.Item, { pk: { S: 'erp#m-1' } });
    assert.equal(server.requests.length, 2);
  });

  test('a connection reset on every attempt fails as a network error, with the attempts made', async () => {
    server.script(reset);
    await assert.rejects(server.client(dynamodbService, { maxAttempts: 2 }).send(getItem()), (error: any) => {
      assert.equal(error.name, 'AwsNetworkError');
      assert.equal(error.cause.code, 'ECONNRESET');
      assert.equal(error.$metadata.attempts, 2);
      return true;
    });
    assert.equal(server.requests.length, 2);
  });

  test('an attempt without an answer times out and is retried', { timeout: 10_000 }, async () => {
    server.script(silent, item);
    const started = Date.now();
    const output = await server.client(dynamodbService, { attemptTimeoutMs: 200 }).send(getItem());
    assert.deepEqual(output.Item, { pk: { S: 'erp#m-1' } });
    assert.equal(server.requests.length, 2);
    assert.ok(Date.now() - started >= 200, 'the first attempt waited out its timeout');
  });

  test('an attempt timeout on every attempt fails as a network error', { timeout: 10_000 }, async () => {
    server.script(silent);
    await assert.rejects(server.client(dynamodbService, { attemptTimeoutMs: 100, maxAttempts: 2 }).send(getItem()), (error: any) => {
      assert.equal(error.name, 'AwsNetworkError');
      assert.equal(error.cause.code, 'ETIMEDOUT');
      assert.equal(error.$metadata.attempts, 2);
      return true;
    });
    assert.equal(server.requests.length, 2);
  });

  test('throttling (ProvisionedThroughputExceededException) is retried', async () => {
    server.script(dynamoError(400, 'ProvisionedThroughputExceededException'), item);
    const output = await server.client(dynamodbService, { maxAttempts: 2 }).send(getItem());
    assert.deepEqual(output.Item, { pk: { S: 'erp#m-1' } });
    assert.equal(server.requests.length, 2);
  });

  test('throttling (HTTP 429) is retried, and fails with its status once the attempts are spent', async () => {
    server.script(json(429, ''));
    await assert.rejects(server.client(dynamodbService, { maxAttempts: 2 }).send(getItem()), (error: any) => {
      assert.equal(error.$metadata.httpStatusCode, 429);
      assert.equal(error.$metadata.attempts, 2);
      return true;
    });
    assert.equal(server.requests.length, 2);
  });

  for (const type of ['ConditionalCheckFailedException', 'ValidationException']) {
    test(`${type} is not retried`, async () => {
      server.script(dynamoError(400, type), item);
      await assert.rejects(server.client(dynamodbService).send(getItem()), (error: any) => {
        assert.equal(error.name, type);
        assert.equal(error.$metadata.httpStatusCode, 400);
        assert.equal(error.$metadata.attempts, 1);
        return true;
      });
      assert.equal(server.requests.length, 1);
    });
  }
});

describe('broken answers', () => {
  test('a success whose JSON is cut short is an error, not an empty answer', async () => {
    server.script(json(200, '{"Item":{"pk":{"S":"erp#m-1"'));
    await assert.rejects(server.client(dynamodbService).send(getItem()), (error: any) => {
      assert.equal(error.name, 'SerializationException');
      assert.equal(error.$metadata.httpStatusCode, 200);
      return true;
    });
    assert.equal(server.requests.length, 1);
  });

  test('a client error without a body is named, with its status', async () => {
    server.script(json(413, ''));
    await assert.rejects(server.client(dynamodbService, { maxAttempts: 1 }).send(getItem()), (error: any) => {
      assert.equal(error.name, 'UnknownError');
      assert.equal(error.message, 'UnknownError (HTTP 413)');
      assert.equal(error.$metadata.httpStatusCode, 413);
      assert.equal(error.$fault, 'client');
      return true;
    });
  });

  test('a server error without a body is named, with its status', async () => {
    server.script(json(502, '', { 'content-type': 'text/html' }));
    await assert.rejects(server.client(dynamodbService, { maxAttempts: 1 }).send(getItem()), (error: any) => {
      assert.equal(error.name, 'InternalServerError');
      assert.equal(error.$metadata.httpStatusCode, 502);
      assert.equal(error.$fault, 'server');
      return true;
    });
  });

  test('an error without a body but with its type in the header takes that name', async () => {
    server.script(
      json(400, '', { 'x-amzn-errortype': 'ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.dynamodb/' }),
    );
    await assert.rejects(server.client(dynamodbService, { maxAttempts: 1 }).send(getItem()), (error: any) => {
      assert.equal(error.name, 'ResourceNotFoundException');
      assert.equal(error.$metadata.httpStatusCode, 400);
      return true;
    });
  });
});

describe('the trace header (recursion detection)', () => {
  const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0';
  const saved = { name: process.env.AWS_LAMBDA_FUNCTION_NAME, trace: process.env._X_AMZN_TRACE_ID };
  afterEach(() => {
    for (const [variable, value] of [
      ['AWS_LAMBDA_FUNCTION_NAME', saved.name],
      ['_X_AMZN_TRACE_ID', saved.trace],
    ] as const) {
      if (value === undefined) delete process.env[variable];
      else process.env[variable] = value;
    }
  });

  const sentTrace = async () => {
    server.script(item);
    await server.client(dynamodbService).send(getItem());
    return server.requests[0]!.headers['x-amzn-trace-id'];
  };

  test("in Lambda, every call carries the invocation's trace header", async () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'sluice-deliver';
    process.env._X_AMZN_TRACE_ID = TRACE;
    assert.equal(await sentTrace(), TRACE);
  });

  test('outside Lambda, no call carries one', async () => {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    delete process.env._X_AMZN_TRACE_ID;
    assert.equal(await sentTrace(), undefined);
    // A trace id without a function is not an invocation's.
    process.env._X_AMZN_TRACE_ID = TRACE;
    assert.equal(await sentTrace(), undefined);
  });

  test('a header the caller set (a traced call of its own) stays', async () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'sluice-deliver';
    process.env._X_AMZN_TRACE_ID = TRACE;
    const client = server.client(dynamodbService);
    client.middlewareStack.add(
      ((next: (args: any) => Promise<unknown>) => (args: any) =>
        next({ ...args, request: { ...args.request, headers: { ...args.request.headers, 'x-amzn-trace-id': 'Root=own' } } })) as never,
      { step: 'build', priority: 'high' },
    );
    server.script(item);
    await client.send(getItem());
    assert.equal(server.requests[0]!.headers['x-amzn-trace-id'], 'Root=own');
  });
});
