import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { startLocalApiServer, type LocalApiServer } from '../../local/server';

// The safety net under every handler: whatever a handler or the routing decision throws,
// the local server answers a 500 problem and keeps serving (issue 10 item 1).
describe('local API server: an unexpected error never takes it down', () => {
  let server: LocalApiServer;
  const errors: unknown[] = [];
  before(async () => {
    const handler = async (event: APIGatewayProxyEvent) => {
      if (event.path === '/throws') throw new TypeError('handler bug');
      if (event.path === '/throws-sync') return (null as unknown as { x: () => never }).x();
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
    };
    server = await startLocalApiServer({
      port: 0,
      partnerHandler: handler,
      operatorHandler: handler,
      isPartnerRequest: (_method, path) => {
        if (path === '/routing-throws') throw new RangeError('routing bug');
        return false;
      },
      onError: (error) => errors.push(error),
    });
  });
  after(() => server.close());

  it('answers 500 problem+json for a throwing handler and routing decision, then serves the next request', async () => {
    for (const path of ['/throws', '/throws-sync', '/routing-throws']) {
      const answer = await fetch(`${server.url}${path}`, { method: 'POST', body: 'x' });
      assert.equal(answer.status, 500, path);
      assert.equal(answer.headers.get('content-type'), 'application/problem+json', path);
      const problem = (await answer.json()) as { code: string; title: string; detail: string };
      assert.equal(problem.code, 'internal', path);
      assert.ok(problem.title && problem.detail, path);
      const next = await fetch(`${server.url}/fine`);
      assert.equal(next.status, 200, `after ${path}`);
    }
    assert.deepEqual(
      errors.map((error) => (error as Error).name),
      ['TypeError', 'TypeError', 'RangeError'],
      'every error reaches the error hook',
    );
  });
});
