import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { apiGatewayHandler, fromApiGatewayEvent, routePath } from '../../adapters/http/apigateway';
import { errorResponse, jsonResponse } from '../../api/http';
import { matchResource, OPERATOR_API_RESOURCES, PARTNER_API_RESOURCES } from '../../api/apis';
import { Router } from '../../api/router';
import { ProblemError } from '../../core/problems';
import { proxyEvent as event } from '../helpers/aws-events';

const router = new Router([
  { method: 'GET', path: '/v1/flows/{flowId}', handler: async (_r, p) => jsonResponse(200, p) },
  { method: 'PUT', path: '/v1/flows/{flowId}', handler: async (_r, p) => jsonResponse(200, p) },
  { method: 'DELETE', path: '/v1/flows/{flowId}', handler: async (_r, p) => jsonResponse(200, p) },
  { method: 'GET', path: '/v1/flows/{flowId}/messages/{messageId}', handler: async (_r, p) => jsonResponse(200, p) },
]);

function request(method: string, path: string) {
  return { method, path, headers: {}, query: {}, body: Buffer.alloc(0), requestId: 'r' };
}

async function answer(method: string, path: string) {
  try {
    return await router.handle(request(method, path));
  } catch (error) {
    return errorResponse(error, 'r');
  }
}

describe('Router (issue 10 items 1 and 19)', () => {
  it('answers a malformed percent-escape in a path parameter with 400 invalid-path', async () => {
    for (const path of ['/v1/flows/%E0%A4%A', '/v1/flows/x/messages/%ZZ', '/v1/flows/%', '/v1/flows/%C0%80']) {
      const response = await answer('GET', path);
      assert.equal(response.statusCode, 400, path);
      assert.equal(response.headers['content-type'], 'application/problem+json');
      assert.equal(JSON.parse(response.body).code, 'invalid-path', path);
    }
  });

  it('decodes well-formed escapes once', async () => {
    const response = await answer('GET', '/v1/flows/a%2Eb/messages/m%3A1');
    assert.deepEqual(JSON.parse(response.body), { flowId: 'a.b', messageId: 'm:1' });
  });

  it('answers another method on a known path with 405 and Allow', async () => {
    const response = await answer('PATCH', '/v1/flows/orders');
    assert.equal(response.statusCode, 405);
    assert.equal(response.headers.allow, 'DELETE, GET, PUT');
    assert.equal(response.headers['content-type'], 'application/problem+json');
    assert.equal(JSON.parse(response.body).code, 'method-not-allowed');
  });

  it('keeps 404 for unknown paths', async () => {
    const response = await answer('GET', '/v1/nothing');
    assert.equal(response.statusCode, 404);
    assert.equal(JSON.parse(response.body).code, 'not-found');
  });

  it('matches() never throws, whatever the path', () => {
    assert.equal(router.matches('GET', '/v1/flows/%ZZ'), true);
    assert.equal(router.matches('POST', '/v1/flows/%ZZ'), false);
  });
});

describe('API Gateway events route on resource and path parameters (issue 10 item 12)', () => {
  it('ignores a custom-domain base path on a partner resource', () => {
    const path = routePath(
      event({
        path: '/sluice/v1/flows/orders/messages/m-1',
        resource: '/v1/flows/{flowId}/messages/{messageId}',
        pathParameters: { flowId: 'orders', messageId: 'm-1' },
      }),
    );
    assert.equal(path, '/v1/flows/orders/messages/m-1');
  });

  it('ignores a base path on the operator proxy resource', () => {
    const path = routePath(
      event({ path: '/ops/v1/flows/orders/pause', resource: '/v1/{proxy+}', pathParameters: { proxy: 'flows/orders/pause' } }),
    );
    assert.equal(path, '/v1/flows/orders/pause');
  });

  it('falls back to the path when the event has no usable resource', () => {
    assert.equal(routePath(event({ path: '/health', resource: '', pathParameters: null })), '/health');
    assert.equal(routePath(event({ path: '/v1/x', resource: '/v1/{proxy+}', pathParameters: null })), '/v1/x');
  });

  it('local mode picks the same resources the stack declares', () => {
    assert.deepEqual(matchResource(PARTNER_API_RESOURCES, '/v1/flows/orders/messages'), {
      resource: '/v1/flows/{flowId}/messages',
      pathParameters: { flowId: 'orders' },
    });
    assert.deepEqual(matchResource(PARTNER_API_RESOURCES, '/v1/flows/o/messages/%ZZ'), {
      resource: '/v1/flows/{flowId}/messages/{messageId}',
      pathParameters: { flowId: 'o', messageId: '%ZZ' },
    });
    assert.deepEqual(matchResource(OPERATOR_API_RESOURCES, '/v1/failed-events/a~b/restart'), {
      resource: '/v1/{proxy+}',
      pathParameters: { proxy: 'failed-events/a~b/restart' },
    });
    assert.deepEqual(matchResource(OPERATOR_API_RESOURCES, '/health'), { resource: '/health', pathParameters: null });
    assert.deepEqual(matchResource(OPERATOR_API_RESOURCES, '/elsewhere'), {
      resource: '/{proxy+}',
      pathParameters: { proxy: 'elsewhere' },
    });
  });

  it('reports headers sent more than once, keeping the last value as API Gateway does', () => {
    const request = fromApiGatewayEvent(
      event({
        headers: { 'X-Aux-System-Msg-Id': 'b', 'x-api-key': 'k' },
        multiValueHeaders: { 'X-Aux-System-Msg-Id': ['a', 'b'], 'x-api-key': ['k'] },
      }),
    );
    assert.equal(request.headers['x-aux-system-msg-id'], 'b');
    assert.deepEqual(request.repeatedHeaders, ['x-aux-system-msg-id']);
  });

  it('answers an event it cannot read with a 500 problem instead of throwing', async () => {
    const handler = apiGatewayHandler(async () => {
      throw new ProblemError('internal', 'unreachable');
    });
    const result = await handler({} as APIGatewayProxyEvent);
    assert.equal(result.statusCode, 500);
    assert.equal(JSON.parse(result.body).code, 'internal');
  });
});
