import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Webhook } from 'standardwebhooks';
import { keys } from '../../adapters/aws/keys';
import { PutConnectionBody } from '../../api/schemas';
import { createIngestHandler } from '../../functions/ingest/handler';
import { createOperatorHandler } from '../../functions/operator/handler';
import { markConnectionDown } from '../../services/connection-health';
import { probeConnection, runProber } from '../../services/prober';
import { waitFor } from '../helpers/emulator-wait';
import { captureOutput, TestGateway, type ApiResult } from '../helpers/gateway';
import { rawHead, rawRequest, type RawResponse } from '../helpers/raw-http';
import { TargetPool, type TestTarget } from '../helpers/target';
import { proxyEvent } from '../helpers/aws-events';

/**
 * Issue 10, security and correctness: every fault found by trying the gateway as an
 * attacker, on the real local gateway (DynamoDB Local, fauxqs, real HTTP targets).
 */

const SIGNING_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

function assertProblem(result: ApiResult, status: number, code: string, label = ''): void {
  assert.equal(result.status, status, `${label}: status (body ${JSON.stringify(result.body)})`);
  assert.equal(result.headers.get('content-type'), 'application/problem+json', `${label}: content type`);
  assert.equal(result.body.code, code, `${label}: code`);
  assert.equal(result.body.status, status, `${label}: body status`);
}

function assertRawProblem(result: RawResponse, status: number, code: string, label = ''): void {
  assert.equal(result.status, status, `${label}: status`);
  assert.equal(result.headers['content-type'], 'application/problem+json', `${label}: content type`);
  assert.equal(result.json?.code, code, `${label}: code`);
  assert.equal(result.json?.status, status, `${label}: body status`);
}

/** The target's answered-200 requests for a GUID, once there is at least one. */
function deliveredTo(target: TestTarget, messageId: string) {
  return waitFor(
    () => {
      const answered = target.byId(messageId).filter((r) => r.status === 200);
      return answered.length > 0 ? answered : undefined;
    },
    { timeoutMs: 30_000, what: `${messageId} delivered` },
  );
}

describe('hardening: the gateway as an attacker sees it (issue 10)', () => {
  let gw: TestGateway;
  const pool = new TargetPool();
  let target: TestTarget;
  let acmeKey: string;
  let globexKey: string;

  before(async () => {
    await captureOutput(async () => {
      gw = await TestGateway.start();
      target = await pool.start();
      acmeKey = await gw.partner('acme');
      globexKey = await gw.partner('globex');
      await gw.connection('erp', { url: `${target.url}/in`, signingSecret: SIGNING_SECRET });
      await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
      await gw.flow('other', { partnerId: 'acme', destinations: ['erp'] });
    });
  });

  after(async () => {
    await gw?.stop();
    await pool.stopAll();
  });

  async function flowLogCodes(flowId: string): Promise<string[]> {
    const result = await gw.request('GET', `/v1/flows/${flowId}/log`);
    assert.equal(result.status, 200);
    return (result.body.entries as { code: string }[]).map((entry) => entry.code);
  }

  /** Waits until a new flow-log entry with `code` is there (entries are newest first). */
  async function expectLogged(flowId: string, code: string, before: number): Promise<void> {
    await waitFor(async () => (await flowLogCodes(flowId)).filter((c) => c === code).length > before, {
      what: `${code} in the log of ${flowId}`,
    });
  }

  describe('at least 200 malformed and hostile requests (acceptance)', () => {
    it('answers each with a problem, stores nothing, and the gateway still serves a normal round trip', async () => {
      const snapshot = async () => ({
        items: JSON.stringify(await gw.tableItems()),
        objects: (await gw.bucketKeys()).sort(),
        queued: await gw.queueDepth(),
      });
      const beforeState = await snapshot();
      const operatorToken = gw.gateway.operatorToken;
      let sent = 0;
      const refused = (result: ApiResult | RawResponse, label: string) => {
        sent += 1;
        const status = result.status;
        const type =
          'get' in result.headers
            ? (result.headers as Headers).get('content-type')
            : (result.headers as Record<string, string>)['content-type'];
        const body = 'json' in result ? result.json : (result as ApiResult).body;
        assert.ok(status >= 400 && status < 500, `${label}: ${status} ${JSON.stringify(body)}`);
        assert.equal(type, 'application/problem+json', `${label}: content type`);
        assert.equal(body?.status, status, `${label}: problem status`);
        assert.equal(typeof body?.code, 'string', `${label}: problem code`);
      };

      // Bad percent-escapes, with and without credentials, on both APIs.
      const badSegments = ['%E0%A4%A', '%ZZ', '%', '%C0%80', '%ED%A0%80', '%F4%90%80%80', 'a%', '%%', '%FF', '%2'];
      for (const segment of badSegments) {
        refused(await gw.request('POST', `/v1/flows/${segment}/messages`, { token: null, body: 'x' }), `partner post ${segment}`);
        refused(await gw.request('GET', `/v1/flows/orders/messages/${segment}`, { token: acmeKey }), `partner get ${segment}`);
        refused(await gw.request('GET', `/v1/connections/${segment}`), `operator get ${segment}`);
        refused(await gw.request('POST', `/v1/failed-events/${segment}/restart`), `operator action ${segment}`);
      }

      // Garbage, forged and moved cursors; bad limit and status values.
      const page = await gw.request('GET', '/v1/flows/orders/messages?limit=1');
      assert.equal(page.status, 200);
      const forgedKey = Buffer.from(JSON.stringify({ pk: 'MSG#x#y', sk: 'MESSAGE', gsi1pk: 'MSGS#other', gsi1sk: 'z' })).toString(
        'base64url',
      );
      const cursors = [
        'abc',
        'a.b',
        '.',
        forgedKey,
        `${forgedKey}.${'A'.repeat(43)}`,
        `${forgedKey}.${createHmac('sha256', 'guess').update('x').digest('base64url')}`,
        Buffer.from('{"pk":{"S":"x"}}').toString('base64url'),
        'eyJwayI6MX0',
        '%00',
        'null',
        '[]',
        'x'.repeat(2000),
        'x'.repeat(3000),
        '..'.repeat(30),
        `${'A'.repeat(43)}.${'B'.repeat(43)}`,
      ];
      for (const cursor of cursors) {
        refused(
          await gw.request('GET', `/v1/flows/orders/messages?cursor=${encodeURIComponent(cursor)}`),
          `messages cursor ${cursor.slice(0, 20)}`,
        );
        refused(await gw.request('GET', `/v1/failed-events?cursor=${encodeURIComponent(cursor)}`), `failed cursor ${cursor.slice(0, 20)}`);
      }
      const badQueries = [
        'limit=0',
        'limit=-1',
        'limit=abc',
        'limit=101',
        'limit=1.5',
        'limit=',
        'status=bogus',
        'status=DELIVERED',
        'status=',
        'limit=1e9',
      ];
      for (const query of badQueries) {
        refused(await gw.request('GET', `/v1/flows/orders/messages?${query}`), `messages ${query}`);
        refused(await gw.request('GET', `/v1/failed-events?${query.replace('status', 'type')}`), `failed ${query}`);
      }

      // NUL, CR and LF in headers, oversized heads, unknown methods, bad request targets.
      const heads = [
        rawHead('GET', '/health', [['X-A', 'a\u0000b']]),
        rawHead(
          'POST',
          '/v1/flows/orders/messages',
          [
            ['Authorization', `Bearer ${acmeKey}`],
            ['x-aux-system-msg-id', 'n\u0000ul'],
          ],
          'x',
        ),
        rawHead(
          'POST',
          '/v1/flows/orders/messages',
          [
            ['Authorization', `Bearer ${acmeKey}`],
            ['x-aux-system-msg-id', 'l\nf'],
          ],
          'x',
        ),
        rawHead(
          'POST',
          '/v1/flows/orders/messages',
          [
            ['Authorization', `Bearer ${acmeKey}`],
            ['x-aux-system-msg-id', 'c\rr'],
          ],
          'x',
        ),
        rawHead('GET', '/v1/flows', [['Authorization', `Bearer ${operatorToken}\u0000`]]),
        rawHead('GET', '/health', [['X Bad Name', 'v']]),
        rawHead('GET', '/health', [['X-Big', 'a'.repeat(70 * 1024)]]),
        rawHead(
          'GET',
          '/health',
          Array.from({ length: 3000 }, (_, i) => [`X-H${i}`, 'abcdefghijklmnopqrstuvwxyz'] as [string, string]),
        ),
        rawHead('GET', `/${'a'.repeat(70 * 1024)}`),
        rawHead('FOO', '/health'),
        rawHead('BREW', '/v1/flows'),
        'GET /health HTTP/9.9\r\nHost: x\r\n\r\n',
        'GET  HTTP/1.1\r\nHost: x\r\n\r\n',
        'GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n',
        `GET /v1/flows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${operatorToken}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        rawHead(
          'POST',
          '/v1/flows/orders/messages',
          [
            ['Authorization', `Bearer ${acmeKey}`],
            ['x-aux-system-msg-id', 'dup-a'],
            ['x-aux-system-msg-id', 'dup-b'],
            ['content-type', 'text/plain'],
          ],
          'x',
        ),
        rawHead(
          'POST',
          '/v1/flows/orders/messages',
          [
            ['Authorization', `Bearer ${acmeKey}`],
            ['Idempotency-Key', 'a'],
            ['Idempotency-Key', 'b'],
          ],
          'x',
        ),
        rawHead(
          'POST',
          '/v1/flows/orders/messages',
          [
            ['Authorization', `Bearer ${acmeKey}`],
            ['Authorization', `Bearer ${globexKey}`],
            ['x-aux-system-msg-id', 'two-keys'],
          ],
          'x',
        ),
        rawHead(
          'POST',
          '/v1/flows/orders/messages',
          [
            ['x-api-key', acmeKey],
            ['x-api-key', globexKey],
            ['x-aux-system-msg-id', 'two-keys-2'],
          ],
          'x',
        ),
        rawHead(
          'POST',
          '/v1/flows/orders/messages',
          [
            ['Authorization', `Bearer ${acmeKey}`],
            ['x-aux-system-msg-id', 'chain-dup'],
            ['x-chain-id', 'a'],
            ['x-chain-id', 'b'],
          ],
          'x',
        ),
      ];
      for (const [index, head] of heads.entries()) refused(await rawRequest(gw.url, head), `raw head ${index}`);

      // Oversized bodies: the partner API over the request limit and over the flow's limit; operator JSON.
      refused(await gw.post('orders', acmeKey, 'huge-1', Buffer.alloc(MAX_REQUEST_BYTES + 1, 1)), 'over the request limit');
      refused(
        await gw.request('PUT', '/v1/connections/big', { body: { url: 'http://127.0.0.1:9/', pad: 'x'.repeat(70 * 1024) } }),
        'operator body too large',
      );

      // Keys: none, wrong, ambiguous, the operator token posing as a partner key, another partner's flow.
      const keyCases: Record<string, string>[] = [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: 'Basic abc' },
        { authorization: `Bearer ${acmeKey}`, 'x-api-key': globexKey },
        { authorization: `Bearer ${globexKey}`, 'x-api-key': acmeKey },
        { authorization: `Bearer ${operatorToken}` },
        { 'x-api-key': operatorToken },
        { authorization: `Bearer ${operatorToken}`, 'x-api-key': acmeKey },
        { authorization: `Bearer ${globexKey}` },
        { 'x-api-key': '' },
      ];
      for (const [index, headers] of keyCases.entries()) {
        refused(
          await gw.request('POST', '/v1/flows/orders/messages', {
            token: null,
            body: 'x',
            headers: { ...headers, 'x-aux-system-msg-id': `key-${index}` },
          }),
          `key case ${index}`,
        );
      }

      // Bad message ids and headers.
      const badHeaders: Record<string, string>[] = [
        {},
        { 'x-aux-system-msg-id': '' },
        { 'x-aux-system-msg-id': 'a'.repeat(129) },
        { 'x-aux-system-msg-id': 'has space' },
        { 'x-aux-system-msg-id': 'slash/y' },
        { 'x-aux-system-msg-id': 'ünï' },
        { 'x-aux-system-msg-id': 'ok-1', 'idempotency-key': 'ok-2' },
        { 'x-aux-system-msg-id': 'ok-3', 'x-chain-id': 'bad chain' },
        { 'x-aux-system-msg-id': 'ok-4', 'x-expires-at': 'tomorrow' },
        { 'x-aux-system-msg-id': 'ok-5', 'x-correlation-id': 'x'.repeat(300) },
        { 'x-aux-system-msg-id': 'ok-6', 'x-expires-at': '2026-13-45T99:00:00Z' },
        { 'x-aux-system-msg-id': 'ok-7', 'x-long': 'y'.repeat(9000) },
      ];
      for (const [index, headers] of badHeaders.entries()) {
        const { 'x-aux-system-msg-id': id, ...rest } = headers;
        refused(await gw.post('orders', acmeKey, id, 'payload', rest), `bad header ${index}`);
      }
      refused(await gw.post('orders', acmeKey, 'empty-1', ''), 'empty payload');
      refused(await gw.post('nope', acmeKey, 'unknown-flow-1', 'x'), 'unknown flow');

      // Hostile connections: probe paths that leave the origin, target URLs that reach the host, reserved headers.
      const probePaths = [
        '//evil.example.com/x',
        '//127.0.0.1:9/x',
        '/\\evil.example.com/x',
        '\\\\evil/x',
        'https://evil.example.com/',
        'evil',
        '/x y',
        '/x\ty',
        '/x\r\nHost: evil',
        '//',
        '/\\',
        '',
        '/a\u0000b',
        'x'.repeat(2000),
        '/\u007f',
      ];
      for (const path of probePaths) {
        refused(
          await gw.request('PUT', '/v1/connections/hostile', { body: { url: `${target.url}/in`, probe: { path } } }),
          `probe path ${JSON.stringify(path)}`,
        );
      }
      const hostileUrls = [
        'http://[::a9fe:a9fe]/',
        'http://[64:ff9b::a9fe:a9fe]/',
        'http://[::ffff:0:a9fe:a9fe]/',
        'http://[::ffff:169.254.169.254]/',
        'http://[2002:a9fe:a9fe::]/',
        'http://169.254.169.254/latest/meta-data/',
        'http://[fe80::1]/',
        'http://[::]/',
        'http://0.0.0.0/',
        'http://0/',
        'http://224.0.0.1/',
        'http://[ff02::1]/',
        'http://255.255.255.255/',
        'ftp://127.0.0.1/',
        'file:///etc/passwd',
        'http://user:pw@127.0.0.1/',
        'not a url',
        'javascript:alert(1)',
      ];
      for (const url of hostileUrls) refused(await gw.request('PUT', '/v1/connections/hostile', { body: { url } }), `target url ${url}`);
      const reserved = [
        'x-aux-system-msg-id',
        'X-Sluice-Attempt',
        'x-correlation-id',
        'x-sluice-possible-duplicate',
        'webhook-id',
        'webhook-timestamp',
        'webhook-signature',
        'content-type',
        'content-length',
        'host',
        'authorization',
        'transfer-encoding',
      ];
      for (const headerName of reserved) {
        refused(
          await gw.request('PUT', '/v1/connections/hostile', {
            body: { url: `${target.url}/in`, auth: { type: 'header', headerName, value: 'v' } },
          }),
          `reserved header ${headerName}`,
        );
        refused(
          await gw.request('POST', '/v1/connections/erp/reauthorize', { body: { auth: { type: 'header', headerName, value: 'v' } } }),
          `reauthorize ${headerName}`,
        );
      }

      // Malformed operator JSON and methods no route takes.
      const badBodies = [
        '',
        '{',
        '[]',
        'null',
        '"x"',
        '{"url": 1}',
        '{"partnerId": "a b", "name": "x"}',
        '{"__proto__": {"x": 1}}',
        '\u0000',
        '{"url":"http://127.0.0.1:9/","extra":true}',
      ];
      for (const body of badBodies) {
        refused(
          await gw.request('PUT', '/v1/connections/hostile', { body, headers: { 'content-type': 'application/json' } }),
          `bad body ${body}`,
        );
        refused(await gw.request('POST', '/v1/partners', { body, headers: { 'content-type': 'application/json' } }), `bad partner ${body}`);
      }
      for (const [method, path] of [
        ['PATCH', '/v1/flows/orders'],
        ['PATCH', '/v1/connections/erp'],
        ['OPTIONS', '/v1/flows'],
        ['DELETE', '/v1/flows'],
        ['PUT', '/v1/partners'],
        ['POST', '/health'],
        ['DELETE', '/health'],
        ['PROPFIND', '/v1/flows/orders'],
        ['GET', '/v1/flows/orders/messages/m/extra'],
        ['GET', '/'],
      ] as const) {
        refused(await gw.request(method, path), `${method} ${path}`);
      }
      refused(await gw.request('GET', '/v1/flows', { token: null }), 'operator without token');
      refused(await gw.request('GET', '/v1/flows', { token: 'wrong' }), 'operator with a wrong token');

      assert.ok(sent >= 200, `only ${sent} hostile requests`);

      // Alive, and nothing the rejected requests carried was stored or queued.
      assert.equal((await gw.request('GET', '/health', { token: null })).status, 200);
      assert.deepEqual(await snapshot(), beforeState);
      const accepted = await gw.post('orders', acmeKey, 'alive-1', 'still here');
      assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
      const [delivered] = await deliveredTo(target, 'alive-1');
      assert.equal(delivered!.body.toString(), 'still here');
    });
  });

  describe('item 1: paths that cannot be decoded', () => {
    it('answers 400 invalid-path, with or without credentials, and keeps serving', async () => {
      assertProblem(
        await gw.request('POST', '/v1/flows/%E0%A4%A/messages', { token: null, body: 'x' }),
        400,
        'invalid-path',
        'partner post',
      );
      assertProblem(await gw.request('GET', '/v1/flows/x/messages/%ZZ', { token: null }), 400, 'invalid-path', 'partner get');
      assertProblem(await gw.request('GET', '/v1/connections/%ZZ'), 400, 'invalid-path', 'operator get');
      assert.equal((await gw.request('GET', '/health', { token: null })).status, 200);
    });

    it('answers the same on the Lambda path', async () => {
      const ingest = createIngestHandler(gw.runtime);
      const result = await ingest(
        proxyEvent({
          httpMethod: 'GET',
          path: '/v1/flows/x/messages/%ZZ',
          resource: '/v1/flows/{flowId}/messages/{messageId}',
          pathParameters: { flowId: 'x', messageId: '%ZZ' },
        }),
      );
      assert.equal(result.statusCode, 400);
      assert.equal(JSON.parse(result.body).code, 'invalid-path');
    });
  });

  describe('item 2: refused targets and prober isolation', () => {
    it('POST /connections/{id}/probe on a connection whose URL is refused answers 200 with the refusal recorded', async () => {
      await gw.runtime.connections.put('metadata', PutConnectionBody.parse({ url: 'http://169.254.169.254/latest/' }) as never, new Date());
      const result = await gw.request('POST', '/v1/connections/metadata/probe');
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.ok(result.body.lastProbeAt, 'the probe was recorded');
      await gw.runtime.connections.delete('metadata');
    });

    it('one connection failing its probe stops neither the other probes nor the sweeps', async () => {
      const healthy = await pool.start();
      await gw.connection('comes-back', { url: `${healthy.url}/in` });
      await gw.connection('broken', { url: `${healthy.url}/in` });
      await gw.connection('refused', { url: `${healthy.url}/in` });
      for (const id of ['comes-back', 'broken', 'refused']) await markConnectionDown(gw.runtime, id, 'offline', 'test: target down');
      // `broken`: its sealed credentials cannot be opened (a bug or a corrupted record).
      await gw.sdk.documents.send(
        new UpdateCommand({
          TableName: gw.runtime.config.tableName,
          Key: keys.connection('broken'),
          UpdateExpression: 'SET sealedSecrets = :garbage',
          ExpressionAttributeValues: { ':garbage': 'not-a-sealed-value' },
        }),
      );
      // `refused`: its URL became one the policy refuses (set before the rule).
      await gw.sdk.documents.send(
        new UpdateCommand({
          TableName: gw.runtime.config.tableName,
          Key: keys.connection('refused'),
          UpdateExpression: 'SET #url = :url',
          ExpressionAttributeNames: { '#url': 'url' },
          ExpressionAttributeValues: { ':url': 'http://169.254.169.254/' },
        }),
      );
      const sweeps: string[] = [];
      const messages = gw.runtime.messages;
      const deliveries = gw.runtime.deliveries;
      const pendingEnqueue = messages.pendingEnqueue.bind(messages);
      const pendingRequeues = deliveries.pendingRequeues.bind(deliveries);
      messages.pendingEnqueue = async (...args) => {
        sweeps.push('enqueue');
        return pendingEnqueue(...args);
      };
      deliveries.pendingRequeues = async (...args) => {
        sweeps.push('requeue');
        return pendingRequeues(...args);
      };
      try {
        const { result: results } = await captureOutput(() => runProber(gw.runtime, { kind: 'hourly' }));
        const byId = new Map(results.map((r) => [r.connectionId, r]));
        assert.equal(byId.get('comes-back')?.alive, true);
        assert.equal(byId.get('broken')?.alive, false);
        assert.equal(byId.get('refused')?.alive, false);
      } finally {
        messages.pendingEnqueue = pendingEnqueue;
        deliveries.pendingRequeues = pendingRequeues;
      }
      assert.deepEqual(sweeps, ['enqueue', 'requeue']);
      assert.equal((await gw.request('GET', '/v1/connections/comes-back')).body.status, 'online');
      assert.equal((await gw.request('GET', '/v1/connections/refused')).body.status, 'offline');
    });
  });

  describe('item 3: probe.path stays on the connection origin', () => {
    it('refuses paths that name another host when the connection is saved', async () => {
      for (const path of ['//127.0.0.1:9/x', '/\\127.0.0.1/x', '//evil.example.com']) {
        assertProblem(
          await gw.request('PUT', '/v1/connections/p1', { body: { url: `${target.url}/in`, probe: { path } } }),
          400,
          'invalid-body',
          path,
        );
      }
      const saved = await gw.request('PUT', '/v1/connections/p1', { body: { url: `${target.url}/in`, probe: { path: '/health?deep=1' } } });
      assert.equal(saved.status, 200);
      assert.equal(saved.body.probe.path, '/health?deep=1');
    });

    it('never sends a stored cross-origin probe (with the credentials) to the other host', async () => {
      const evil = await pool.start();
      const home = await pool.start(() => ({ status: 200 }));
      const settings = PutConnectionBody.parse({ url: `${home.url}/in`, auth: { type: 'bearer', token: 'probe-s3cret' } });
      await gw.runtime.connections.put(
        'legacy',
        { ...settings, probe: { method: 'GET', path: `//127.0.0.1:${new URL(evil.url).port}/steal` } } as never,
        new Date(),
      );
      await markConnectionDown(gw.runtime, 'legacy', 'offline', 'test');
      const { result } = await captureOutput(() => probeConnection(gw.runtime, 'legacy'));
      assert.equal(result.alive, false);
      assert.equal(evil.received.length, 0, 'the other origin got the probe');
    });
  });

  describe('item 5: reserved header names for header credentials', () => {
    it('refuses them when the connection is saved and on reauthorize; other names pass', async () => {
      for (const headerName of [
        'x-aux-system-msg-id',
        'X-Aux-System-Msg-Id',
        'x-sluice-attempt',
        'webhook-signature',
        'content-type',
        'host',
        'authorization',
      ]) {
        const put = await gw.request('PUT', '/v1/connections/hdr', {
          body: { url: `${target.url}/in`, auth: { type: 'header', headerName, value: 'v' } },
        });
        assertProblem(put, 400, 'invalid-body', headerName);
        const reauth = await gw.request('POST', '/v1/connections/erp/reauthorize', {
          body: { auth: { type: 'header', headerName, value: 'v' } },
        });
        assertProblem(reauth, 400, 'invalid-body', `reauthorize ${headerName}`);
      }
      const ok = await gw.request('PUT', '/v1/connections/hdr', {
        body: { url: `${target.url}/in`, auth: { type: 'header', headerName: 'x-erp-token', value: 'v' } },
      });
      assert.equal(ok.status, 200);
    });

    it('a stored reserved credential (saved before the rule) cannot replace the GUID at the target', async () => {
      const sink = await pool.start();
      const settings = PutConnectionBody.parse({ url: `${sink.url}/in` });
      await gw.runtime.connections.put(
        'legacy-hdr',
        { ...settings, auth: { type: 'header', headerName: 'x-aux-system-msg-id', value: 'EVIL' } } as never,
        new Date(),
      );
      await gw.flow('hdr-flow', { partnerId: 'acme', destinations: ['legacy-hdr'] });
      assert.equal((await gw.post('hdr-flow', acmeKey, 'real-guid', 'x')).status, 202);
      const [received] = await sink.waitForRequests(1);
      assert.equal(received!.headers['x-aux-system-msg-id'], 'real-guid');
    });
  });

  describe('credentials sent as header values', () => {
    it('refuses a token or header value with a line break, a control character or a character beyond Latin-1', async () => {
      const bad = ['tok\n', 'tok\r\nx-injected: 1', 'to\u0000k', 't\u00f6k\u2713'];
      for (const token of bad) {
        const put = await gw.request('PUT', '/v1/connections/hdrval', {
          body: { url: `${target.url}/in`, auth: { type: 'bearer', token } },
        });
        assertProblem(put, 400, 'invalid-body', JSON.stringify(token));
        const header = await gw.request('PUT', '/v1/connections/hdrval', {
          body: { url: `${target.url}/in`, auth: { type: 'header', headerName: 'x-erp-token', value: token } },
        });
        assertProblem(header, 400, 'invalid-body', `header ${JSON.stringify(token)}`);
        const reauth = await gw.request('POST', '/v1/connections/erp/reauthorize', { body: { auth: { type: 'bearer', token } } });
        assertProblem(reauth, 400, 'invalid-body', `reauthorize ${JSON.stringify(token)}`);
      }
      assert.equal((await gw.request('GET', '/v1/connections/hdrval')).status, 404);
      const ok = await gw.request('PUT', '/v1/connections/hdrval', {
        body: { url: `${target.url}/in`, auth: { type: 'bearer', token: 'tok with spaces\tand tab' } },
      });
      assert.equal(ok.status, 200);
    });
  });

  describe('item 6: cursors are opaque and bound to their listing', () => {
    before(async () => {
      for (const flowId of ['orders', 'other']) {
        for (let i = 0; i < 3; i++) assert.equal((await gw.post(flowId, acmeKey, `page-${flowId}-${i}`, 'x')).status, 202);
      }
      // A flow's message listing is derived from the table's stream: let it catch up.
      await gw.countsSettled();
    });

    it('pages forward with the cursor it issued', async () => {
      const first = await gw.request('GET', '/v1/flows/orders/messages?limit=1');
      assert.equal(first.status, 200);
      assert.equal(typeof first.body.cursor, 'string');
      const second = await gw.request('GET', `/v1/flows/orders/messages?limit=1&cursor=${encodeURIComponent(first.body.cursor)}`);
      assert.equal(second.status, 200);
      assert.notEqual(second.body.items[0].messageId, first.body.items[0].messageId);
    });

    it('refuses garbage, edited, forged and moved cursors with 400 invalid-query', async () => {
      const { cursor } = (await gw.request('GET', '/v1/flows/orders/messages?limit=1')).body as { cursor: string };
      const [position, mac] = cursor.split('.') as [string, string];
      const edited = `${position}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
      const rawKey = position; // the store position alone, as an unbound cursor was before
      for (const [label, path] of [
        ['garbage', '/v1/flows/orders/messages?cursor=garbage'],
        ['edited', `/v1/flows/orders/messages?cursor=${encodeURIComponent(edited)}`],
        ['unbound key', `/v1/flows/orders/messages?cursor=${encodeURIComponent(rawKey)}`],
        ['another flow', `/v1/flows/other/messages?limit=1&cursor=${encodeURIComponent(cursor)}`],
        ['another status filter', `/v1/flows/orders/messages?status=delivered&cursor=${encodeURIComponent(cursor)}`],
        ['another listing', `/v1/failed-events?cursor=${encodeURIComponent(cursor)}`],
      ] as const) {
        assertProblem(await gw.request('GET', path), 400, 'invalid-query', label);
      }
    });

    it('refuses bad limit and status values with 400 invalid-query', async () => {
      for (const query of ['limit=0', 'limit=abc', 'limit=101', 'status=bogus']) {
        assertProblem(await gw.request('GET', `/v1/flows/orders/messages?${query}`), 400, 'invalid-query', query);
      }
      assertProblem(await gw.request('GET', '/v1/failed-events?limit=abc'), 400, 'invalid-query', 'failed-events limit');
      assertProblem(await gw.request('GET', '/v1/failed-events?type=bogus'), 400, 'invalid-query', 'failed-events type');
    });
  });

  describe('item 7: four smaller rejections', () => {
    it('the operator token used as a partner key is 401 unauthenticated, logged to the flow', async () => {
      const before = (await flowLogCodes('orders')).filter((c) => c === 'unauthenticated').length;
      assertProblem(await gw.post('orders', gw.gateway.operatorToken, 'op-as-partner', 'x'), 401, 'unauthenticated');
      await expectLogged('orders', 'unauthenticated', before);
    });

    it('two different keys in Authorization and x-api-key are 401; the same key twice is fine', async () => {
      const before = (await flowLogCodes('orders')).filter((c) => c === 'unauthenticated').length;
      const ambiguous = await gw.post('orders', acmeKey, 'ambiguous-1', 'x', { 'x-api-key': globexKey });
      assertProblem(ambiguous, 401, 'unauthenticated');
      await expectLogged('orders', 'unauthenticated', before);
      assert.equal((await gw.post('orders', acmeKey, 'same-key-1', 'x', { 'x-api-key': acmeKey })).status, 202);
    });

    it('a body over the request limit on an existing flow is 413 and logged to the flow', async () => {
      const before = (await flowLogCodes('orders')).filter((c) => c === 'payload-too-large').length;
      assertProblem(await gw.post('orders', acmeKey, 'too-big', Buffer.alloc(MAX_REQUEST_BYTES + 1, 7)), 413, 'payload-too-large');
      await expectLogged('orders', 'payload-too-large', before);
    });

    it('answers NUL or LF in a header, an oversized head and an unknown method with problem+json', async () => {
      assertRawProblem(await rawRequest(gw.url, rawHead('GET', '/health', [['X-A', 'a\u0000b']])), 400, 'invalid-header', 'NUL');
      assertRawProblem(await rawRequest(gw.url, rawHead('GET', '/health', [['X-A', 'a\nb']])), 400, 'invalid-header', 'LF');
      assertRawProblem(
        await rawRequest(gw.url, rawHead('GET', '/health', [['X-Big', 'a'.repeat(70 * 1024)]])),
        431,
        'header-too-large',
        'oversized',
      );
      const unknown = await rawRequest(gw.url, rawHead('FOO', '/health'));
      assertRawProblem(unknown, 405, 'method-not-allowed', 'unknown method');
      assert.ok(unknown.headers.allow, 'Allow header');
      assert.equal((await gw.request('GET', '/health', { token: null })).status, 200);
    });
  });

  describe('item 8: Standard Webhooks signatures over the raw bytes', () => {
    it('signs a binary (non-UTF-8) payload so that an HMAC over id.timestamp. + the raw bytes verifies', async () => {
      const payload = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0x0a, 0x7f]);
      const posted = await gw.post('orders', acmeKey, 'binary-1', payload, { 'content-type': 'application/octet-stream' });
      assert.equal(posted.status, 202);
      const [received] = await deliveredTo(target, 'binary-1');
      assert.deepEqual(received!.body, payload);
      const id = received!.headers['webhook-id'] as string;
      const timestamp = received!.headers['webhook-timestamp'] as string;
      const key = Buffer.from(SIGNING_SECRET.slice('whsec_'.length), 'base64');
      const expected = createHmac('sha256', key)
        .update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), payload]))
        .digest('base64');
      assert.equal(id, 'binary-1');
      assert.equal(received!.headers['webhook-signature'], `v1,${expected}`);
    });

    it('verifies with the standardwebhooks library for a UTF-8 payload with non-ASCII text', async () => {
      const payload = Buffer.from('{"greeting":"Grüße aus Köln – ✓"}', 'utf8');
      assert.equal((await gw.post('orders', acmeKey, 'utf8-1', payload, { 'content-type': 'application/json' })).status, 202);
      const [received] = await deliveredTo(target, 'utf8-1');
      const verified = new Webhook(SIGNING_SECRET).verify(
        received!.body.toString('utf8'),
        received!.headers as unknown as Record<string, string>,
      );
      assert.deepEqual(verified, { greeting: 'Grüße aus Köln – ✓' });
    });
  });

  describe('item 12: routing on resource and path parameters; repeated GUID headers', () => {
    it('serves partner and operator events that carry a custom-domain base path', async () => {
      const ingest = createIngestHandler(gw.runtime);
      const posted = await ingest(
        proxyEvent({
          httpMethod: 'POST',
          path: '/sluice/v1/flows/orders/messages',
          resource: '/v1/flows/{flowId}/messages',
          pathParameters: { flowId: 'orders' },
          headers: { Authorization: `Bearer ${acmeKey}`, 'x-aux-system-msg-id': 'base-path-1', 'Content-Type': 'text/plain' },
          body: Buffer.from('via a mapped domain').toString('base64'),
          isBase64Encoded: true,
        }),
      );
      assert.equal(posted.statusCode, 202, posted.body);
      const operator = createOperatorHandler(gw.runtime);
      const flow = await operator(
        proxyEvent({ path: '/ops/v1/flows/orders', resource: '/v1/{proxy+}', pathParameters: { proxy: 'flows/orders' } }),
      );
      assert.equal(flow.statusCode, 200, flow.body);
      assert.equal(JSON.parse(flow.body).flowId, 'orders');
    });

    it('refuses a repeated GUID header with 400 invalid-header, locally and on the Lambda path alike', async () => {
      const local = await rawRequest(
        gw.url,
        rawHead(
          'POST',
          '/v1/flows/orders/messages',
          [
            ['Authorization', `Bearer ${acmeKey}`],
            ['x-aux-system-msg-id', 'twice-a'],
            ['x-aux-system-msg-id', 'twice-b'],
            ['content-type', 'text/plain'],
          ],
          'x',
        ),
      );
      assertRawProblem(local, 400, 'invalid-header', 'local');
      const lambda = await createIngestHandler(gw.runtime)(
        proxyEvent({
          httpMethod: 'POST',
          path: '/v1/flows/orders/messages',
          resource: '/v1/flows/{flowId}/messages',
          pathParameters: { flowId: 'orders' },
          headers: { Authorization: `Bearer ${acmeKey}`, 'x-aux-system-msg-id': 'twice-b' },
          multiValueHeaders: { Authorization: [`Bearer ${acmeKey}`], 'x-aux-system-msg-id': ['twice-a', 'twice-b'] },
          body: 'x',
        }),
      );
      assert.equal(lambda.statusCode, 400);
      assert.equal(JSON.parse(lambda.body).code, 'invalid-header');
      for (const id of ['twice-a', 'twice-b']) {
        assertProblem(await gw.request('GET', `/v1/flows/orders/messages/${id}`), 404, 'not-found', id);
      }
    });
  });

  describe('item 19: DELETE routes and 405', () => {
    it('refuses to delete what a flow uses, and an enabled flow, with 409 conflict', async () => {
      assertProblem(await gw.request('DELETE', '/v1/partners/acme'), 409, 'conflict', 'partner');
      assertProblem(await gw.request('DELETE', '/v1/connections/erp'), 409, 'conflict', 'connection');
      assertProblem(await gw.request('DELETE', '/v1/flows/orders'), 409, 'conflict', 'enabled flow');
      assertProblem(await gw.request('DELETE', '/v1/flows/nope'), 404, 'unknown-flow', 'unknown flow');
      assertProblem(await gw.request('DELETE', '/v1/connections/nope'), 404, 'not-found', 'unknown connection');
      assertProblem(await gw.request('DELETE', '/v1/partners/nope'), 404, 'not-found', 'unknown partner');
    });

    it('deletes a disabled flow only once none of its deliveries is unfinished, then its connection and partner', async () => {
      const rejecting = await pool.start(() => ({ status: 422, body: 'no' }));
      const tempKey = await gw.partner('temp');
      await gw.connection('sink', { url: `${rejecting.url}/in` });
      await gw.flow('doomed', { partnerId: 'temp', destinations: ['sink'] });
      assert.equal((await gw.post('doomed', tempKey, 'doomed-1', 'x')).status, 202);
      await waitFor(async () => (await gw.request('GET', '/v1/flows/doomed/messages/doomed-1')).body.status === 'failed', {
        what: 'doomed-1 failed',
      });
      assert.equal((await gw.request('POST', '/v1/flows/doomed/disable')).status, 200);
      assertProblem(await gw.request('DELETE', '/v1/flows/doomed'), 409, 'conflict', 'failed delivery pending');
      const failed = await gw.request('GET', '/v1/failed-events?flowId=doomed');
      assert.equal(failed.body.items.length, 1);
      assert.equal((await gw.request('POST', `/v1/failed-events/${encodeURIComponent(failed.body.items[0].id)}/discard`)).status, 200);

      const deleted = await gw.request('DELETE', '/v1/flows/doomed');
      assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
      assertProblem(await gw.request('GET', '/v1/flows/doomed'), 404, 'unknown-flow', 'deleted flow');
      assert.equal((await gw.request('DELETE', '/v1/connections/sink')).status, 204);
      assertProblem(await gw.request('GET', '/v1/connections/sink'), 404, 'not-found', 'deleted connection');
      assert.equal((await gw.request('DELETE', '/v1/partners/temp')).status, 204);
      assert.ok(!(await gw.request('GET', '/v1/partners')).body.items.some((p: { partnerId: string }) => p.partnerId === 'temp'));
      assert.equal(await gw.runtime.partners.authenticate(tempKey), undefined, 'the deleted partner key still authenticates');
    });

    it('answers other methods on a known path with 405 and Allow', async () => {
      const result = await gw.request('PATCH', '/v1/flows/orders');
      assertProblem(result, 405, 'method-not-allowed');
      assert.equal(result.headers.get('allow'), 'DELETE, GET, PUT');
      const health = await gw.request('POST', '/health', { token: null });
      assert.equal(health.status, 405);
      assert.equal(health.headers.get('allow'), 'GET');
    });
  });
});
