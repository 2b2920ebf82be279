// The Lambda entry wrapper, run as Lambda runs it: a trace header in the environment,
// an X-Ray daemon address (a real UDP socket here that receives what is sent), a Lambda
// context, and a local HTTP server standing in for DynamoDB and for a partner's endpoint.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, get, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import { createAwsClients } from '../../adapters/all-services';
import { dynamodbService, GetItemCommand } from '../../adapters/aws/protocol/dynamodb';
import { daemonAddress, sampledTrace, XRay } from '../../adapters/aws/x-ray';
import { instrument } from '../../functions/instrument';
import { waitFor } from '../helpers/emulator-wait';

const TRACE_ROOT = '1-6741a0c0-0123456789abcdef01234567';
const FACADE = '53995c3f42cd8ad8';

function lambdaContext(requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'sluice-ingest',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:sluice-ingest',
    memoryLimitInMB: '256',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/sluice-ingest',
    logStreamName: '2026/11/23/[$LATEST]abcdef',
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const config = (endpoint: string) => ({
  region: 'us-east-1',
  tableName: 't',
  queueUrl: 'q',
  bucketName: 'b',
  localMode: false,
  allowPrivateTargets: false,
  endpoints: { dynamodb: endpoint },
});

/** A DynamoDB request as the stand-in received it. */
interface DynamoRequest {
  table: string;
  headers: IncomingHttpHeaders;
}

describe('Lambda entry instrumentation (logger context, X-Ray subsegments)', () => {
  let daemon: Socket;
  let daemonPort: number;
  let server: Server;
  let serverUrl: string;
  const documents: any[] = [];
  const dynamoRequests: DynamoRequest[] = [];
  /** Tables whose next answer is a 500: a transient fault the client retries. */
  const failOnce = new Set<string>();
  const lines: string[] = [];
  const originalWrite = process.stdout.write.bind(process.stdout) as (...args: any[]) => boolean;
  const lambdaEnv = (sampled: '0' | '1', extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemonPort}`,
    AWS_REGION: 'us-east-1',
    _HANDLER: 'index.handler',
    _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=${FACADE};Sampled=${sampled}`,
    ...extra,
  });

  before(async () => {
    // What the logger reads for its context (cold start: an on-demand initialization).
    Object.assign(process.env, {
      LAMBDA_TASK_ROOT: '/var/task',
      AWS_LAMBDA_FUNCTION_NAME: 'sluice-ingest',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    });
    daemon = createSocket('udp4');
    daemon.on('message', (message) => {
      // Each datagram: a JSON header line, then the segment document.
      const [header, body] = message.toString('utf8').split('\n');
      assert.equal(header, '{"format":"json","version":1}');
      if (body) documents.push(JSON.parse(body));
    });
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    daemonPort = (daemon.address() as AddressInfo).port;
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (!request.headers['x-amz-target']) {
          // A partner's endpoint.
          response.writeHead(request.url?.startsWith('/missing') ? 404 : 200).end('ok');
          return;
        }
        const table = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { TableName: string }).TableName;
        dynamoRequests.push({ table, headers: request.headers });
        const requestId = `ddb-${dynamoRequests.length}`;
        const headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId };
        if (failOnce.delete(table)) {
          response.writeHead(500, headers).end('{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"try again"}');
        } else if (table === 'missing') {
          response
            .writeHead(400, headers)
            .end('{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}');
        } else {
          response.writeHead(200, headers).end('{}');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The logger writes JSON lines to stdout, which the test runner also uses: take only
    // this test's lines and pass everything else through.
    process.stdout.write = ((chunk: any, ...rest: any[]) => {
      const text = String(chunk);
      if (text.includes('"handling"')) {
        lines.push(...text.split('\n').filter(Boolean));
        return true;
      }
      return originalWrite(chunk, ...rest);
    }) as typeof process.stdout.write;
  });

  after(() => {
    process.stdout.write = originalWrite;
    daemon?.close();
    server?.close();
  });

  const partnerCall = (path: string) =>
    new Promise<number>((resolve, reject) => {
      get(`${serverUrl}${path}`, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      }).on('error', reject);
    });

  const traceHeader = (id: string) => `Root=${TRACE_ROOT};Parent=${id};Sampled=1`;

  it('log lines carry the request id and cold start; the handler, its AWS calls and HTTP requests get subsegments', async () => {
    const logger = new Logger({ serviceName: 'sluice-ingest' });
    const clients = createAwsClients(config(serverUrl));
    const xray = new XRay('sluice-ingest', { env: lambdaEnv('1') });
    dynamoRequests.length = 0;
    const handler = instrument({ logger, clients }, xray, async (event: { fail?: boolean }) => {
      logger.info('handling');
      await clients.dynamodb.send(new GetItemCommand({ TableName: 'ok', Key: { pk: { S: 'a' } } }));
      assert.equal(await partnerCall('/hooks/orders?token=secret'), 200);
      assert.equal(await partnerCall('/missing'), 404);
      if (event.fail) throw new Error('boom');
      return { ok: true };
    });

    assert.deepEqual(await handler({}, lambdaContext('req-1')), { ok: true });
    await assert.rejects(handler({ fail: true }, lambdaContext('req-2')), /boom/);

    const logged = lines.filter((line) => line.includes('handling')).map((line) => JSON.parse(line));
    assert.equal(logged.length, 2);
    assert.equal(logged[0].function_request_id, 'req-1');
    assert.equal(logged[0].cold_start, true);
    assert.equal(logged[0].function_name, 'sluice-ingest');
    assert.equal(logged[1].function_request_id, 'req-2');
    assert.equal(logged[1].cold_start, false);

    // A handler's subsegment is sent last, after everything inside it, over the one socket.
    await waitFor(() => documents.filter((d) => d.name === '## index.handler').length === 2, {
      timeoutMs: 5000,
      what: 'both handler subsegments at the X-Ray daemon',
    });
    // Per invocation: the handler's, one DynamoDB call, two partner requests.
    assert.equal(documents.length, 8);
    for (const document of documents) {
      assert.equal(document.trace_id, TRACE_ROOT);
      assert.equal(document.type, 'subsegment');
      assert.ok(document.end_time >= document.start_time, 'closed');
    }
    const subsegments = documents.filter((d) => d.name === '## index.handler');
    for (const subsegment of subsegments) {
      assert.equal(subsegment.parent_id, FACADE);
      assert.equal(subsegment.annotations.Service, 'sluice-ingest');
      assert.doesNotMatch(JSON.stringify(subsegment), /"ok"/, 'responses are not recorded');
    }
    assert.equal(subsegments[0].annotations.ColdStart, true);
    assert.equal(subsegments[1].annotations.ColdStart, false);
    assert.equal(subsegments[0].fault, undefined);
    assert.equal(subsegments[1].fault, true);
    assert.equal(subsegments[1].cause.exceptions[0].message, 'boom');

    const dynamodb = documents.filter((d) => d.namespace === 'aws');
    assert.deepEqual(
      dynamodb.map((d) => [d.name, d.aws, d.http, d.parent_id, d.error, d.fault]),
      subsegments.map((s, i) => [
        'DynamoDB',
        { operation: 'GetItem', region: 'us-east-1', request_id: `ddb-${i + 1}`, retries: 0 },
        { response: { status: 200 } },
        s.id,
        undefined,
        undefined,
      ]),
    );
    // The call's trace header names its subsegment, so DynamoDB's side joins the trace; the signature leaves it out.
    assert.deepEqual(
      dynamoRequests.map((r) => r.headers['x-amzn-trace-id']),
      dynamodb.map((d) => traceHeader(d.id)),
    );
    for (const { headers } of dynamoRequests) assert.doesNotMatch(String(headers.authorization), /x-amzn-trace-id/);

    // The AWS client's own HTTP request is part of its call's subsegment, not a remote one of its own.
    const remote = documents.filter((d) => d.namespace === 'remote');
    // Their URLs without the query, which may carry a secret.
    assert.deepEqual(
      remote.map((d) => d.http.request.url),
      [`${serverUrl}/hooks/orders`, `${serverUrl}/missing`, `${serverUrl}/hooks/orders`, `${serverUrl}/missing`],
    );
    const [ok, missing] = remote;
    assert.equal(ok.name, '127.0.0.1');
    assert.equal(ok.http.request.method, 'GET');
    assert.equal(ok.http.response.status, 200);
    assert.equal(ok.error, undefined);
    assert.equal(ok.parent_id, subsegments[0].id);
    assert.equal(missing.http.response.status, 404);
    assert.equal(missing.error, true);
    assert.equal(missing.fault, undefined);
  });

  it('an AWS call that failed or was retried: its status, request id, retries and error, still no remote subsegment', async () => {
    const logger = new Logger({ serviceName: 'sluice-ingest' });
    const clients = createAwsClients(config(serverUrl));
    const sent: any[] = [];
    const xray = new XRay('sluice-ingest', { env: lambdaEnv('1'), send: (document) => sent.push(JSON.parse(document)) });
    dynamoRequests.length = 0;
    failOnce.add('flaky');
    const handler = instrument({ logger, clients }, xray, async () => {
      await clients.dynamodb.send(new GetItemCommand({ TableName: 'flaky', Key: { pk: { S: 'a' } } }));
      return clients.dynamodb.send(new GetItemCommand({ TableName: 'missing', Key: { pk: { S: 'a' } } }));
    });
    await assert.rejects(handler({}, lambdaContext('req-4')), { name: 'ResourceNotFoundException' });

    // The invocation's own subsegment is sent last.
    assert.deepEqual(
      sent.map((d) => [d.name, d.namespace]),
      [
        ['DynamoDB', 'aws'],
        ['DynamoDB', 'aws'],
        ['## index.handler', undefined],
      ],
    );
    const [flaky, missing] = sent;
    assert.deepEqual(flaky.aws, { operation: 'GetItem', region: 'us-east-1', request_id: 'ddb-2', retries: 1 });
    assert.deepEqual(flaky.http, { response: { status: 200 } });
    assert.equal(flaky.fault, undefined);
    assert.deepEqual(missing.aws, { operation: 'GetItem', region: 'us-east-1', request_id: 'ddb-3', retries: 0 });
    assert.deepEqual(missing.http, { response: { status: 400 } });
    assert.equal(missing.error, true);
    assert.equal(missing.fault, undefined);
    assert.equal(missing.throttle, undefined);
    assert.deepEqual(
      missing.cause.exceptions.map((e: any) => [e.type, e.message, e.remote]),
      [['ResourceNotFoundException', 'Requested resource not found', true]],
    );
    // Both attempts of the retried call carry its subsegment's trace header.
    assert.deepEqual(
      dynamoRequests.map((r) => [r.table, r.headers['x-amzn-trace-id']]),
      [
        ['flaky', traceHeader(flaky.id)],
        ['flaky', traceHeader(flaky.id)],
        ['missing', traceHeader(missing.id)],
      ],
    );
  });

  it('an AWS call that got no answer is a fault, after its retries', async () => {
    // A port with nothing listening: a server opened and closed again.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const logger = new Logger({ serviceName: 'sluice-ingest' });
    const clients = createAwsClients(config(`http://127.0.0.1:${port}`));
    const sent: any[] = [];
    const xray = new XRay('sluice-ingest', { env: lambdaEnv('1'), send: (document) => sent.push(JSON.parse(document)) });
    const handler = instrument({ logger, clients }, xray, () =>
      clients.dynamodb.send(new GetItemCommand({ TableName: 'ok', Key: { pk: { S: 'a' } } })),
    );
    await assert.rejects(handler({}, lambdaContext('req-5')), { name: 'AwsNetworkError' });

    assert.deepEqual(
      sent.map((d) => d.name),
      ['DynamoDB', '## index.handler'],
    );
    const [call] = sent;
    // DynamoDB's SDK default: 4 attempts, so 3 retries of the refused connection.
    assert.deepEqual(call.aws, { operation: 'GetItem', region: 'us-east-1', retries: dynamodbService.defaultMaxAttempts! - 1 });
    assert.equal(dynamodbService.defaultMaxAttempts, 4);
    assert.equal(call.http, undefined);
    assert.equal(call.fault, true);
    assert.deepEqual(
      call.cause.exceptions.map((e: any) => [e.type, e.remote]),
      [['AwsNetworkError', undefined]],
    );
  });

  it('sends nothing when the invocation is not sampled, tracing is off or no daemon is there', async () => {
    const logger = new Logger({ serviceName: 'sluice-ingest' });
    for (const env of [
      lambdaEnv('0'),
      lambdaEnv('1', { SLUICE_TRACING: 'false' }),
      { ...lambdaEnv('1'), AWS_XRAY_DAEMON_ADDRESS: undefined },
    ]) {
      const sent: string[] = [];
      dynamoRequests.length = 0;
      const clients = createAwsClients(config(serverUrl));
      const handler = instrument(
        { logger, clients },
        new XRay('sluice-ingest', { env, send: (document) => sent.push(document) }),
        async () => {
          await clients.dynamodb.send(new GetItemCommand({ TableName: 'ok', Key: { pk: { S: 'a' } } }));
          return partnerCall('/hooks');
        },
      );
      assert.equal(await handler({}, lambdaContext('req-3')), 200);
      assert.deepEqual(sent, []);
      assert.deepEqual(
        dynamoRequests.map((r) => r.headers['x-amzn-trace-id']),
        [undefined],
      );
    }
  });

  it('reads the daemon address and the trace header as Lambda writes them', () => {
    assert.deepEqual(daemonAddress('169.254.79.129:2000'), { host: '169.254.79.129', port: 2000 });
    assert.deepEqual(daemonAddress('tcp:127.0.0.1:2000 udp:127.0.0.2:2001'), { host: '127.0.0.2', port: 2001 });
    assert.equal(daemonAddress(undefined), undefined);
    assert.deepEqual(sampledTrace(`Root=${TRACE_ROOT};Parent=${FACADE};Sampled=1;Lineage=a:0`), { root: TRACE_ROOT, parent: FACADE });
    assert.equal(sampledTrace(`Root=${TRACE_ROOT};Parent=${FACADE};Sampled=0`), undefined);
    assert.equal(sampledTrace(`Root=${TRACE_ROOT};Sampled=1`), undefined);
  });
});
