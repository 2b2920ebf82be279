// `sluice console` as a relay: what reaches the gateway, signed how, and what is refused.
// The "gateway" and the "payload store" are real HTTP servers that record every request.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SluiceClient } from '../../cli/client';
import { startConsoleServer, type ConsoleServer } from '../../cli/commands/console';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function recorder(answer: (seen: Seen) => { status: number; body: string; type?: string }) {
  const seen: Seen[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const entry = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
    seen.push(entry);
    const reply = answer(entry);
    res.writeHead(reply.status, { 'content-type': reply.type ?? 'application/json' });
    res.end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    seen,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Status of a request sent exactly as given (path and Host untouched). */
function rawStatus(base: string, path: string, headers: Record<string, string>): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('sluice console relay', () => {
  let gateway: Awaited<ReturnType<typeof recorder>>;
  let store: Awaited<ReturnType<typeof recorder>>;
  let relay: ConsoleServer;
  let session: Record<string, string>;

  before(async () => {
    store = await recorder((seen) =>
      seen.method === 'GET' ? { status: 200, body: 'qty=BROKEN', type: 'text/plain' } : { status: 200, body: '' },
    );
    gateway = await recorder((seen) => {
      if (seen.url === '/prod/v1/failed-events/fe-1/download-url')
        return {
          status: 200,
          body: JSON.stringify({ url: `${store.url}/bucket/failed/fe-1?X-Amz-Signature=x`, expiresAt: '2030-01-01T00:00:00Z' }),
        };
      if (seen.url === '/prod/v1/failed-events/fe-1/upload-url')
        return {
          status: 200,
          body: JSON.stringify({
            url: `${store.url}/bucket/corrections/fe-1?X-Amz-Signature=y`,
            method: 'PUT',
            expiresAt: '2030-01-01T00:00:00Z',
            maxBytes: 16,
          }),
        };
      if (seen.url.startsWith('/prod/v1/failed-events/missing/'))
        return {
          status: 404,
          body: JSON.stringify({
            type: 'about:blank',
            title: 'Not Found',
            status: 404,
            detail: 'No failed event missing.',
            code: 'not-found',
          }),
          type: 'application/problem+json',
        };
      return { status: 200, body: JSON.stringify({ items: [] }) };
    });
    relay = await startConsoleServer({ client: new SluiceClient({ endpoint: `${gateway.url}/prod`, token: 'gateway-token' }), port: 0 });
    session = { authorization: `Bearer ${relay.sessionKey}` };
  });

  after(async () => {
    await relay?.close();
    await gateway?.close();
    await store?.close();
  });

  it('serves the console and prints an address with a session key, never the gateway credential', async () => {
    assert.match(relay.consoleUrl, /^http:\/\/127\.0\.0\.1:\d+\/console#token=[\w-]{43}$/);
    assert.ok(!relay.consoleUrl.includes('gateway-token'));
    const page = await fetch(`${relay.url}/console`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /connect-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="\/console\/app\.js">/);
    assert.equal((await fetch(`${relay.url}/console/app.js`)).status, 200);
  });

  it('relays /v1/* with its own credentials in place of the session key', async () => {
    const before = gateway.seen.length;
    const answer = await fetch(`${relay.url}/v1/flows?status=x&limit=5`, { headers: session });
    assert.equal(answer.status, 200);
    const [call] = gateway.seen.slice(before);
    assert.equal(call!.url, '/prod/v1/flows?status=x&limit=5');
    assert.equal(call!.headers.authorization, 'Bearer gateway-token');
    const posted = await fetch(`${relay.url}/v1/flows/orders/pause`, { method: 'POST', headers: session });
    assert.equal(posted.status, 200);
    assert.equal(gateway.seen.at(-1)!.method, 'POST');
  });

  it('signs with SigV4 when asked to', async () => {
    const env = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'eu-west-1' });
    delete process.env.AWS_PROFILE;
    const signed = await startConsoleServer({ client: new SluiceClient({ endpoint: `${gateway.url}/prod`, aws: true }), port: 0 });
    try {
      const answer = await fetch(`${signed.url}/v1/connections`, { headers: { authorization: `Bearer ${signed.sessionKey}` } });
      assert.equal(answer.status, 200);
      const call = gateway.seen.at(-1)!;
      assert.match(
        String(call.headers.authorization),
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request/,
      );
      assert.ok(call.headers['x-amz-date']);
    } finally {
      await signed.close();
      process.env = env;
    }
  });

  it('relays nothing without the session key, for another host name, or for another origin', async () => {
    const before = gateway.seen.length;
    const none = await fetch(`${relay.url}/v1/flows`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as any).code, 'unauthenticated');
    const wrong = await fetch(`${relay.url}/v1/flows`, { headers: { authorization: 'Bearer gateway-token' } });
    assert.equal(wrong.status, 401);
    // fetch cannot override Host; a raw request can (as a DNS-rebinding page would).
    assert.equal(await rawStatus(relay.url, '/v1/flows', { ...session, host: 'evil.example:80' }), 421);
    const crossOrigin = await fetch(`${relay.url}/v1/flows/orders/pause`, {
      method: 'POST',
      headers: { ...session, origin: 'https://evil.example' },
    });
    assert.equal(crossOrigin.status, 403);
    const upload = await fetch(`${relay.url}/console/payloads/fe-1/upload`, { method: 'PUT', body: 'x' });
    assert.equal(upload.status, 401);
    assert.equal(gateway.seen.length, before, 'the gateway saw none of them');
  });

  it('answers bad console requests with problems and touches nothing', async () => {
    const before = [gateway.seen.length, store.seen.length];
    const cases: [string, string, number, string, string?][] = [
      ['GET', '/console/no-such-asset.js', 404, 'not-found'],
      ['POST', '/console', 405, 'method-not-allowed', 'GET, HEAD'],
      ['GET', '/console/payloads/fe-1/download', 405, 'method-not-allowed', 'POST'],
      ['PATCH', '/v1/flows', 405, 'method-not-allowed', 'GET, POST, PUT, DELETE'],
      ['POST', '/console/payloads/%E0%A4%A/download', 400, 'invalid-path'],
      ['PUT', '/console/payloads/fe-1/upload', 400, 'empty-payload'],
    ];
    for (const [method, path, status, code, allow] of cases) {
      const answer = await fetch(`${relay.url}${path}`, { method, headers: session });
      assert.equal(answer.status, status, `${method} ${path}`);
      if (allow) assert.equal(answer.headers.get('allow'), allow, `${method} ${path}: Allow`);
      assert.equal(answer.headers.get('content-type'), 'application/problem+json');
      const problem = (await answer.json()) as any;
      assert.equal(problem.code, code);
      assert.ok(problem.title && problem.detail, 'title and detail for the page to show');
    }
    assert.deepEqual([gateway.seen.length, store.seen.length], before);
  });

  it('refuses paths that could leave /v1 after normalisation', async () => {
    const before = gateway.seen.length;
    // Raw paths: fetch would normalise them before sending.
    for (const path of ['/v1/../admin', '/v1/%2e%2e/admin', '/v1//flows', '/v1/flows%2f..%2fx', '/v1/flows\\..\\x']) {
      assert.equal(await rawStatus(relay.url, path, session), 400, path);
    }
    assert.equal(gateway.seen.length, before);
  });

  it('moves payloads only through the URLs the gateway issued for that failed event', async () => {
    const download = await fetch(`${relay.url}/console/payloads/fe-1/download`, { method: 'POST', headers: session });
    assert.equal(download.status, 200);
    assert.equal(await download.text(), 'qty=BROKEN');
    assert.equal(store.seen.at(-1)!.url, '/bucket/failed/fe-1?X-Amz-Signature=x');
    assert.equal(gateway.seen.at(-1)!.headers.authorization, 'Bearer gateway-token');

    const upload = await fetch(`${relay.url}/console/payloads/fe-1/upload`, {
      method: 'PUT',
      headers: { ...session, 'content-type': 'text/plain' },
      body: 'qty=7',
    });
    assert.equal(upload.status, 200);
    assert.deepEqual(await upload.json(), { id: 'fe-1', bytes: 5, sha256: createHash('sha256').update('qty=7').digest('hex') });
    assert.deepEqual(
      [store.seen.at(-1)!.method, store.seen.at(-1)!.url, store.seen.at(-1)!.body],
      ['PUT', '/bucket/corrections/fe-1?X-Amz-Signature=y', 'qty=7'],
    );

    const storeCalls = store.seen.length;
    const tooLarge = await fetch(`${relay.url}/console/payloads/fe-1/upload`, { method: 'PUT', headers: session, body: 'x'.repeat(17) });
    assert.equal(tooLarge.status, 413);
    assert.match(((await tooLarge.json()) as any).detail, /at most 16 bytes/);
    const missing = await fetch(`${relay.url}/console/payloads/missing/download`, { method: 'POST', headers: session });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as any).title, 'Not Found', "the gateway's problem, passed on");
    assert.equal(store.seen.length, storeCalls, 'nothing else reached the store');
  });
});
