import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { problemFrom } from '../../cli/client';
import { EXIT } from '../../cli/exit-codes';
import { table } from '../../cli/format';
import { run } from '../../cli/program';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/**
 * A stand-in operator API answering the SPEC shapes of the failed-event routes, plus the
 * "S3" endpoints its presigned URLs point to. Runs the CLI in-process (no tsx spawn).
 */
describe('sluice CLI client against a stub operator API', () => {
  let server: Server;
  let base: string;
  let dir: string;
  const seen: Seen[] = [];
  let uploadMethod: 'POST' | 'PUT' = 'POST';
  const stored = Buffer.from('{"qty": -1}');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-cli-client-'));
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const request = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(request);
      const json = (status: number, body: unknown, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type });
        res.end(JSON.stringify(body));
      };
      const route = `${req.method} ${new URL(req.url!, base).pathname}`;
      switch (route) {
        case 'POST /v1/failed-events/fe-1/download-url':
          return json(200, { url: `${base}/s3/object?X-Amz-Signature=abc`, expiresAt: '2030-01-01T00:00:00Z' });
        case 'GET /s3/object':
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          return res.end(stored);
        case 'POST /v1/failed-events/fe-1/upload-url':
          return json(200, {
            url: `${base}/s3/upload`,
            method: uploadMethod,
            ...(uploadMethod === 'POST' ? { fields: { key: 'failed/fe-1/corrected', Policy: 'cG9saWN5', 'Content-Type': 'application/json' } } : {}),
            expiresAt: '2030-01-01T00:00:00Z',
            maxBytes: 16,
          });
        case 'POST /s3/upload':
          res.writeHead(204);
          return res.end();
        case 'PUT /s3/upload':
          res.writeHead(403, { 'content-type': 'application/xml' });
          return res.end('<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>');
        case 'POST /v1/failed-events/restart':
          return json(202, { restarted: 3 });
        case 'GET /v1/failed-events':
          return json(200, { items: [], cursor: null });
        case 'GET /v1/flows':
          return json(403, { message: 'Missing Authentication Token' });
        default:
          return json(404, { type: 'about:blank', title: 'Not found', status: 404, detail: `No ${route}.`, code: 'not-found' }, 'application/problem+json');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the CLI in-process; stdout and stderr are collected together. */
  async function captured(argv: string[]): Promise<{ result: number; output: string }> {
    const chunks: string[] = [];
    const collect = (chunk: string | Uint8Array) => void chunks.push(Buffer.from(chunk).toString('utf8'));
    const result = await run(['node', 'sluice', ...argv], { stdout: collect, stderr: collect });
    return { result, output: chunks.join('') };
  }
  const sluice = (...args: string[]) => captured([...args, '--endpoint', base, '--token', 't0k']);

  it('downloads the presigned payload without operator credentials', async () => {
    const file = join(dir, 'payload.json');
    const { result, output } = await sluice('failed', 'download', 'fe-1', file);
    assert.equal(result, EXIT.ok, output);
    assert.deepEqual(await readFile(file), stored);
    const get = seen.find((s) => s.url.startsWith('/s3/object'))!;
    assert.equal(get.headers.authorization, undefined, 'the presigned URL is fetched plainly');
    assert.equal(seen.find((s) => s.url.endsWith('/download-url'))!.headers.authorization, 'Bearer t0k');
  });

  it('uploads as multipart form data, fields first and the file last', async () => {
    const file = join(dir, 'fixed.json');
    await writeFile(file, '{"qty": 3}');
    const { result, output } = await sluice('failed', 'upload', 'fe-1', file);
    assert.equal(result, EXIT.ok, output);
    const post = seen.find((s) => s.method === 'POST' && s.url === '/s3/upload')!;
    assert.match(post.headers['content-type']!, /^multipart\/form-data; boundary=/);
    const text = post.body.toString();
    const names = [...text.matchAll(/; name="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(names, ['key', 'Policy', 'Content-Type', 'file']);
    assert.match(text, /filename="fixed\.json"\r\nContent-Type: application\/json\r\n\r\n\{"qty": 3\}\r\n/);
    assert.equal(post.headers.authorization, undefined);
  });

  it('refuses a file larger than maxBytes before uploading, and reports S3 errors on PUT', async () => {
    const big = join(dir, 'big.json');
    await writeFile(big, 'x'.repeat(17));
    const before = seen.length;
    const tooBig = await sluice('failed', 'upload', 'fe-1', big);
    assert.equal(tooBig.result, EXIT.apiError);
    assert.match(tooBig.output, /big\.json is 17 bytes; the upload limit for this failed event is 16 bytes\. Nothing was uploaded\..*payload-too-large/);
    assert.ok(!seen.slice(before).some((s) => s.url.startsWith('/s3/')), 'nothing was sent to the upload URL');

    uploadMethod = 'PUT';
    const small = join(dir, 'small.json');
    await writeFile(small, '{}');
    const rejected = await sluice('failed', 'upload', 'fe-1', small);
    assert.equal(rejected.result, EXIT.apiError);
    assert.match(rejected.output, /Upload rejected: The request signature we calculated does not match \(code: SignatureDoesNotMatch, HTTP 403\)/);
    assert.equal(seen.at(-1)!.method, 'PUT');
    assert.equal(seen.at(-1)!.body.toString(), '{}');
  });

  it('restarts all matching failed events in one call and prints the count', async () => {
    const { result, output } = await sluice('failed', 'restart-all', '--flow', 'orders', '--type', 'business');
    assert.equal(result, EXIT.ok, output);
    assert.match(output, /Restarted 3 failed events\./);
    assert.deepEqual(JSON.parse(seen.at(-1)!.body.toString()), { flowId: 'orders', type: 'business' });
    const json = await sluice('failed', 'restart-all', '--json');
    assert.equal(json.output.trim(), '{"restarted":3}');
    assert.deepEqual(JSON.parse(seen.at(-1)!.body.toString()), {});
  });

  it('signs with SigV4 for execute-api when --aws is given', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, profile: process.env.AWS_PROFILE };
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    delete process.env.AWS_PROFILE;
    try {
      const { result, output } = await captured(['failed', 'list', '--flow', 'orders', '--endpoint', base, '--aws', '--region', 'eu-west-1']);
      assert.equal(result, EXIT.ok, output);
      const request = seen.at(-1)!;
      assert.equal(request.url, '/v1/failed-events?flowId=orders');
      const authorization = request.headers.authorization!;
      assert.match(authorization, /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, /);
      // Recompute the signature the way API Gateway would.
      const amzDate = request.headers['x-amz-date'] as string;
      const signingDate = new Date(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
      const signer = new SignatureV4({
        service: 'execute-api',
        region: 'eu-west-1',
        sha256: Sha256,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      });
      const url = new URL(request.url, base);
      const expected = await signer.sign(
        {
          method: 'GET',
          protocol: 'http:',
          hostname: url.hostname,
          port: Number(url.port),
          path: url.pathname,
          query: { flowId: 'orders' },
          headers: { accept: request.headers.accept as string, host: request.headers.host! },
        },
        { signingDate },
      );
      assert.equal(authorization, expected.headers.authorization);
    } finally {
      for (const [name, value] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
        ['AWS_PROFILE', saved.profile],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('turns non-problem error bodies into a code and detail', async () => {
    const gateway = await sluice('flows', 'list');
    assert.equal(gateway.result, EXIT.apiError);
    assert.match(gateway.output, /Error: Missing Authentication Token \(code: http-403, HTTP 403\)/);
    const missing = await sluice('failed', 'show', 'nope', '--json');
    assert.equal(missing.result, EXIT.notFound);
    assert.equal(JSON.parse(missing.output).code, 'not-found');
    assert.deepEqual(problemFrom(502, '<html>Bad Gateway</html>', 'text/html'), {
      status: 502,
      detail: 'HTTP 502: <html>Bad Gateway</html>',
      code: 'http-502',
    });
  });

  it('renders aligned tables', () => {
    const text = table(
      [
        { id: 'a', status: 'online', why: undefined },
        { id: 'longer-id', status: 'offline', why: 'probe failed' },
      ],
      [
        { header: 'ID', value: (r) => r.id },
        { header: 'STATUS', value: (r) => r.status },
        { header: 'REASON', value: (r) => r.why },
      ],
    );
    assert.equal(text, ['ID         STATUS   REASON', 'a          online   -', 'longer-id  offline  probe failed'].join('\n'));
  });
});
