import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { credentialsRefused, problemFrom } from '../../cli/client';
import { uploadTo } from '../../cli/commands/failed';
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
 * What the real local gateway cannot show: SigV4 signing (no emulator of API Gateway's
 * IAM auth runs here) and the POST-form upload (local mode issues presigned PUTs, and
 * the emulator checks no POST policy). A server records the exact requests; everything
 * else the CLI does is tested against the real gateway in cli.test.ts.
 */
describe('sluice CLI: requests only AWS would receive', () => {
  let server: Server;
  let base: string;
  const seen: Seen[] = [];

  before(async () => {
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
      const route = `${req.method} ${new URL(req.url!, base).pathname}`;
      if (route === 'GET /v1/failed-events') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ items: [], cursor: null }));
      }
      if (route === 'GET /v1/flows') {
        // API Gateway's answer to a request its IAM authorizer refused.
        res.writeHead(403, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ message: 'The security token included in the request is invalid.' }));
      }
      res.writeHead(204);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Runs the CLI in-process; stdout and stderr are collected together. */
  async function captured(argv: string[]): Promise<{ result: number; output: string }> {
    const chunks: string[] = [];
    const collect = (chunk: string | Uint8Array) => void chunks.push(Buffer.from(chunk).toString('utf8'));
    const result = await run(['node', 'sluice', ...argv], { stdout: collect, stderr: collect });
    return { result, output: chunks.join('') };
  }

  async function withAwsCredentials<T>(fn: () => Promise<T>): Promise<T> {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, profile: process.env.AWS_PROFILE };
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    delete process.env.AWS_PROFILE;
    try {
      return await fn();
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
  }

  it('uploads to a presigned POST as multipart form data, fields first and the file last, without credentials', async () => {
    await uploadTo(
      {
        url: `${base}/s3/upload`,
        method: 'POST',
        fields: { key: 'corrections/fe-1', Policy: 'cG9saWN5', 'Content-Type': 'application/json' },
      },
      Buffer.from('{"qty": 3}'),
      'fixed.json',
    );
    const post = seen.at(-1)!;
    assert.equal(post.method, 'POST');
    assert.match(post.headers['content-type']!, /^multipart\/form-data; boundary=/);
    const text = post.body.toString();
    const names = [...text.matchAll(/; name="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(names, ['key', 'Policy', 'Content-Type', 'file']);
    assert.match(text, /filename="fixed\.json"\r\nContent-Type: application\/json\r\n\r\n\{"qty": 3\}\r\n/);
    assert.equal(post.headers.authorization, undefined);
  });

  it('signs with SigV4 for execute-api when --aws is given', async () => {
    await withAwsCredentials(async () => {
      const { result, output } = await captured([
        'failed',
        'list',
        '--flow',
        'orders',
        '--endpoint',
        base,
        '--aws',
        '--region',
        'eu-west-1',
      ]);
      assert.equal(result, EXIT.ok, output);
      const request = seen.findLast((s) => s.url.startsWith('/v1/failed-events'))!;
      assert.equal(request.url, '/v1/failed-events?flowId=orders');
      // An empty listing checks that the flow exists: signed too.
      assert.match(seen.at(-1)!.headers.authorization ?? '', /^AWS4-HMAC-SHA256 /);
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
    });
  });

  it('says that AWS credentials were refused when API Gateway answers 403 to a signed request', async () => {
    await withAwsCredentials(async () => {
      const { result, output } = await captured(['flows', 'list', '--endpoint', base, '--aws', '--region', 'eu-west-1']);
      assert.equal(result, EXIT.apiError);
      assert.match(
        output,
        /^Error: Your AWS credentials were refused \(http:\/\/127\.0\.0\.1:\d+ answered: The security token included in the request is invalid\)\. Check that this identity may call execute-api:Invoke/,
      );
      assert.match(output, /\(code: http-403, HTTP 403\)$/m);
    });
  });
});

describe('sluice CLI: reading error bodies', () => {
  it('turns the bodies of API Gateway, S3 and proxies into a code and detail', () => {
    assert.deepEqual(problemFrom(403, '{"message":"Missing Authentication Token"}', 'application/json'), {
      status: 403,
      detail: 'Missing Authentication Token',
      code: 'http-403',
    });
    assert.deepEqual(
      problemFrom(
        403,
        '<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>',
        'application/xml',
      ),
      { status: 403, detail: 'The request signature we calculated does not match', code: 'SignatureDoesNotMatch' },
    );
    assert.deepEqual(problemFrom(502, '<html>Bad Gateway</html>', 'text/html'), {
      status: 502,
      detail: 'HTTP 502: <html>Bad Gateway</html>',
      code: 'http-502',
    });
  });

  it('only 401, and 403, are refused credentials', () => {
    const problem = (status: number) => ({ status, detail: 'x', code: 'c' });
    assert.match(credentialsRefused(problem(401), 'http://h', false)!.message, /^The operator token was refused/);
    assert.match(credentialsRefused(problem(403), 'http://h', true)!.message, /^Your AWS credentials were refused/);
    assert.equal(credentialsRefused(problem(404), 'http://h', false), undefined);
    assert.equal(credentialsRefused(problem(409), 'http://h', true), undefined);
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
