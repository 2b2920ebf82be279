// The ingest handler behind both kinds of partner API: API Gateway REST APIs send payload
// format 1.0, HTTP APIs (the default) 2.0. The two sample events in ./fixtures are the
// ones AWS documents for Lambda proxy integrations ("Create AWS Lambda proxy integrations
// for HTTP APIs", payload format structure); the rest are built from them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2 } from 'aws-lambda';
import { fromApiGatewayEvent, isPayloadV2, routePathV2 } from '../../adapters/http/apigateway';
import { PARTNER_API_RESOURCES } from '../../api/apis';
import { createIngestHandler } from '../../functions/ingest/handler';
import { captureOutput, TestGateway } from '../helpers/gateway';
import { messageOf } from '../../adapters/aws/message-store';

const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
const sampleV2 = (): APIGatewayProxyEventV2 => fixture('http-api-v2-sample.json');
const sampleV1 = (): APIGatewayProxyEvent => fixture('rest-api-v1-sample.json');

/** The documented 2.0 sample, sent to one of the partner API's routes. */
function partnerEventV2(
  method: string,
  resource: string,
  pathParameters: Record<string, string>,
  overrides: Partial<APIGatewayProxyEventV2> = {},
): APIGatewayProxyEventV2 {
  const sample = sampleV2();
  const rawPath = resource.replace(/\{(\w+)\}/g, (_, name: string) => pathParameters[name]!);
  const routeKey = `${method} ${resource}`;
  return {
    ...sample,
    routeKey,
    rawPath,
    rawQueryString: '',
    queryStringParameters: undefined,
    cookies: undefined,
    headers: {},
    pathParameters,
    body: undefined,
    isBase64Encoded: false,
    stageVariables: undefined,
    requestContext: { ...sample.requestContext, routeKey, http: { ...sample.requestContext.http, method, path: rawPath } },
    ...overrides,
  };
}

/** The documented 1.0 sample, sent to one of the partner API's resources. */
function partnerEventV1(
  method: string,
  resource: string,
  pathParameters: Record<string, string>,
  overrides: Partial<APIGatewayProxyEvent> = {},
): APIGatewayProxyEvent {
  const sample = sampleV1();
  const path = resource.replace(/\{(\w+)\}/g, (_, name: string) => pathParameters[name]!);
  return {
    ...sample,
    resource,
    path,
    httpMethod: method,
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters,
    body: null,
    isBase64Encoded: false,
    requestContext: { ...sample.requestContext, httpMethod: method, path, resourcePath: resource },
    ...overrides,
  };
}

const MESSAGES = '/v1/flows/{flowId}/messages';
const MESSAGE = '/v1/flows/{flowId}/messages/{messageId}';

describe('API Gateway payload format 2.0 (HTTP API)', () => {
  it('reads the documented sample: method, $default route on rawPath, joined headers, cookies, last query value, source IP', () => {
    const event = sampleV2();
    assert.ok(isPayloadV2(event));
    const request = fromApiGatewayEvent(event);
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/my/path');
    assert.equal(request.headers.header1, 'value1');
    // Not a header Sluice reads as a single token: its commas are passed on as sent.
    assert.equal(request.headers.header2, 'value1,value2');
    assert.equal(request.repeatedHeaders, undefined);
    assert.equal(request.headers.cookie, 'cookie1; cookie2');
    // 2.0 joins repeated parameters with commas; the raw query string keeps them apart.
    assert.deepEqual(request.query, { parameter1: 'value2', parameter2: 'value' });
    assert.equal(request.body.toString('utf8'), 'Hello from Lambda');
    assert.equal(request.sourceIp, '192.0.2.1');
    assert.equal(request.requestId, 'id');
    // A JWT authorizer is not an IAM principal.
    assert.equal(request.principal, undefined);
  });

  it('routes on the route key and path parameters, whatever rawPath carries', () => {
    for (const resource of PARTNER_API_RESOURCES) {
      const parameters = { flowId: 'orders', messageId: 'PO-1' };
      const event = partnerEventV2('POST', resource, parameters, { rawPath: `/sluice${resource}` });
      const expected = resource.replace('{flowId}', 'orders').replace('{messageId}', 'PO-1');
      assert.equal(fromApiGatewayEvent(event).path, expected, resource);
    }
    // The batch route exists on both flavours of the partner API.
    assert.equal(
      routePathV2({
        routeKey: 'POST /v1/flows/{flowId}/batches',
        rawPath: '/v1/flows/orders/batches',
        pathParameters: { flowId: 'orders' },
      }),
      '/v1/flows/orders/batches',
    );
  });

  it('falls back to rawPath for $default and for a route key whose parameters are missing', () => {
    assert.equal(routePathV2({ routeKey: '$default', rawPath: '/v1/elsewhere', pathParameters: undefined }), '/v1/elsewhere');
    assert.equal(
      routePathV2({ routeKey: `GET ${MESSAGE}`, rawPath: '/v1/flows/o/messages/m', pathParameters: { flowId: 'o' } }),
      '/v1/flows/o/messages/m',
    );
    assert.equal(
      routePathV2({ routeKey: 'ANY /v1/{proxy+}', rawPath: '/ops/x', pathParameters: { proxy: 'flows/o/pause' } }),
      '/v1/flows/o/pause',
    );
  });

  it('decodes a base64-encoded binary body byte for byte', () => {
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x0d, 0x0a, 0xfe]);
    const request = fromApiGatewayEvent(
      partnerEventV2('POST', MESSAGES, { flowId: 'orders' }, { body: bytes.toString('base64'), isBase64Encoded: true }),
    );
    assert.deepEqual(request.body, bytes);
  });

  it('lower-cases mixed-case header names', () => {
    const request = fromApiGatewayEvent(
      partnerEventV2('POST', MESSAGES, { flowId: 'orders' }, { headers: { 'X-Aux-System-Msg-Id': 'PO-7', 'Content-Type': 'text/plain' } }),
    );
    assert.equal(request.headers['x-aux-system-msg-id'], 'PO-7');
    assert.equal(request.headers['content-type'], 'text/plain');
    assert.equal(request.repeatedHeaders, undefined);
  });

  it('reports a single-token header that API Gateway joined with commas as repeated; quoted commas do not count', () => {
    const request = fromApiGatewayEvent(
      partnerEventV2(
        'POST',
        MESSAGES,
        { flowId: 'orders' },
        {
          headers: {
            'x-aux-system-msg-id': 'PO-1,PO-2',
            authorization: 'Bearer a,Bearer b',
            'content-type': 'multipart/mixed; boundary="a,b"',
            'x-correlation-id': 'order 7, line 2',
          },
        },
      ),
    );
    assert.deepEqual([...(request.repeatedHeaders ?? [])].sort(), ['authorization', 'x-aux-system-msg-id']);
    // One value sent twice is not ambiguous, as in 1.0: it is read once.
    const twice = fromApiGatewayEvent(partnerEventV2('POST', MESSAGES, { flowId: 'o' }, { headers: { 'x-api-key': 'k, k' } }));
    assert.equal(twice.repeatedHeaders, undefined);
    assert.equal(twice.headers['x-api-key'], 'k');
  });

  it('takes the IAM principal from an IAM-authorized route', () => {
    const event = partnerEventV2('GET', MESSAGE, { flowId: 'o', messageId: 'm' });
    const withIam = {
      ...event,
      requestContext: { ...event.requestContext, authorizer: { iam: { userArn: 'arn:aws:iam::123456789012:user/ops' } } },
    };
    assert.equal(fromApiGatewayEvent(withIam as APIGatewayProxyEventV2).principal, 'arn:aws:iam::123456789012:user/ops');
  });
});

describe('API Gateway payload format 1.0 (REST API)', () => {
  it('reads the documented sample: method, resource path, last header value and the repeated one', () => {
    const event = sampleV1();
    assert.ok(!isPayloadV2(event));
    const request = fromApiGatewayEvent(event);
    assert.equal(request.method, 'GET');
    assert.equal(request.path, '/my/path');
    assert.equal(request.headers.header2, 'value2');
    assert.deepEqual(request.repeatedHeaders, ['header2']);
    assert.deepEqual(request.query, { parameter1: 'value1', parameter2: 'value' });
    assert.equal(request.body.toString('utf8'), 'Hello from Lambda!');
    assert.equal(request.sourceIp, '192.0.2.1');
  });

  it('decodes a base64-encoded binary body and lower-cases mixed-case names', () => {
    const bytes = Buffer.from([0x00, 0xff, 0x7f, 0x80]);
    const request = fromApiGatewayEvent(
      partnerEventV1(
        'POST',
        MESSAGES,
        { flowId: 'orders' },
        {
          body: bytes.toString('base64'),
          isBase64Encoded: true,
          headers: { 'X-Aux-System-Msg-Id': 'PO-9' },
          multiValueHeaders: { 'X-Aux-System-Msg-Id': ['PO-9'] },
        },
      ),
    );
    assert.deepEqual(request.body, bytes);
    assert.equal(request.headers['x-aux-system-msg-id'], 'PO-9');
  });
});

describe('the ingest handler answers both formats alike (DynamoDB Local, emulated SQS and S3)', () => {
  let gw: TestGateway;
  let apiKey: string;
  const ingest = () => createIngestHandler(gw.runtime);

  before(async () => {
    await captureOutput(async () => {
      gw = await TestGateway.start({ deliver: false });
      apiKey = await gw.partner('acme');
      await gw.connection('erp', { url: 'http://127.0.0.1:9/erp' });
      await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
    });
  });

  after(async () => {
    await gw?.stop();
  });

  const body = (result: { body: string }) => JSON.parse(result.body);

  it('accepts a binary message posted as payload 2.0 and reads it back as 2.0 and 1.0', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80]);
    const { result: posted } = await captureOutput(() =>
      ingest()(
        partnerEventV2(
          'POST',
          MESSAGES,
          { flowId: 'orders' },
          {
            headers: { Authorization: `Bearer ${apiKey}`, 'X-Aux-System-Msg-Id': 'BIN-1', 'content-type': 'application/octet-stream' },
            cookies: ['session=ignored'],
            body: bytes.toString('base64'),
            isBase64Encoded: true,
          },
        ),
      ),
    );
    assert.equal(posted.statusCode, 202, posted.body);
    assert.equal(body(posted).messageId, 'BIN-1');
    const headers = { authorization: `Bearer ${apiKey}` };
    const { result: v2 } = await captureOutput(() =>
      ingest()(partnerEventV2('GET', MESSAGE, { flowId: 'orders', messageId: 'BIN-1' }, { headers })),
    );
    const { result: v1 } = await captureOutput(() =>
      ingest()(
        partnerEventV1(
          'GET',
          MESSAGE,
          { flowId: 'orders', messageId: 'BIN-1' },
          { headers, multiValueHeaders: { authorization: [headers.authorization] } },
        ),
      ),
    );
    assert.equal(v2.statusCode, 200, v2.body);
    assert.deepEqual(body(v1), body(v2));
    assert.equal(body(v2).messageId, 'BIN-1');
    const record = (await gw.tableItems()).find((item) => String(item.pk).endsWith('#BIN-1') && item.sk === 'MESSAGE');
    assert.ok(record, 'the message record is written');
    assert.equal(messageOf(record).bytes, bytes.length);
  });

  it('refuses the GUID header sent twice (2.0 joins it with a comma) as invalid-header, and stores nothing', async () => {
    // Derived items (counts, listing pages) of earlier posts land first: the stream is drained.
    await gw.countsSettled();
    const before = (await gw.tableItems()).length;
    const { result } = await captureOutput(() =>
      ingest()(
        partnerEventV2(
          'POST',
          MESSAGES,
          { flowId: 'orders' },
          {
            headers: { 'x-api-key': apiKey, 'x-aux-system-msg-id': 'DUP-1,DUP-2', 'content-type': 'text/plain' },
            body: 'twice',
          },
        ),
      ),
    );
    assert.equal(result.statusCode, 400, result.body);
    assert.equal(result.headers?.['content-type'], 'application/problem+json');
    assert.equal(body(result).code, 'invalid-header');
    assert.equal((await gw.tableItems()).length, before);
  });

  it('refuses the GUID header sent twice in payload 1.0 the same way', async () => {
    const { result } = await captureOutput(() =>
      ingest()(
        partnerEventV1(
          'POST',
          MESSAGES,
          { flowId: 'orders' },
          {
            headers: { 'x-api-key': apiKey, 'x-aux-system-msg-id': 'DUP-2' },
            multiValueHeaders: { 'x-api-key': [apiKey], 'x-aux-system-msg-id': ['DUP-1', 'DUP-2'] },
            body: 'twice',
          },
        ),
      ),
    );
    assert.equal(result.statusCode, 400, result.body);
    assert.equal(body(result).code, 'invalid-header');
  });
});
