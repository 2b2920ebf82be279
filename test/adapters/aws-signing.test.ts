import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsClient, type AwsCredentials } from '../../adapters/aws/protocol/client';
import { PutItemCommand, dynamodbService } from '../../adapters/aws/protocol/dynamodb';
import { PutEventsCommand, eventBridgeService } from '../../adapters/aws/protocol/event-bridge';
import { DecryptCommand, kmsService } from '../../adapters/aws/protocol/kms';
import type { Command, ServiceProtocol } from '../../adapters/aws/protocol/operation';
import { presignObjectUrl } from '../../adapters/aws/protocol/presign';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
  s3Service,
} from '../../adapters/aws/protocol/s3';
import { CreateScheduleCommand, DeleteScheduleCommand, schedulerService } from '../../adapters/aws/protocol/scheduler';
import { SendMessageBatchCommand, sqsService } from '../../adapters/aws/protocol/sqs';

/**
 * AWS accepts a request only if what arrives is exactly what was signed; the local
 * emulators check no signature at all. Here a real HTTP server stands in for AWS: for
 * every request as it arrived (method, raw path, raw query, headers, body bytes) it
 * recomputes the SigV4 canonical request and signature by AWS's documented rules
 * ("Create a signed AWS API request"; S3's "Authenticating Requests" for its exceptions
 * and for presigned URLs), written out below independently of the signer the client
 * uses, and refuses the request with a 403 on any difference, as AWS would.
 */

const REGION = 'eu-central-1';
// Characters that need care in the secret (HMAC key) and in the token (a header and a query value).
const CREDENTIALS: Required<AwsCredentials> = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2Vj/session+token==',
};

// ---- SigV4, from the specification

/** UriEncode(): every byte of the UTF-8 form except A-Z a-z 0-9 - . _ ~ as %XY, hex upper case. */
function uriEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * CanonicalURI. S3 takes the path as sent (encoded once, never normalised: `a//b` and
 * `a/./b` are other keys). Every other service normalises it per RFC 3986 (no empty,
 * `.` or `..` segments) and URI-encodes each segment once more.
 */
function canonicalUri(rawPath: string, s3: boolean): string {
  if (s3) return rawPath;
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return `/${segments.map(uriEncode).join('/')}${trailing}`;
}

type Pair = [name: string, value: string];

/** The query's name/value pairs, percent-decoded (a `+` is not a space to SigV4, so it is reported, not guessed at). */
function queryPairs(rawQuery: string): Pair[] {
  if (rawQuery === '') return [];
  return rawQuery.split('&').map((part) => {
    const at = part.indexOf('=');
    const [name, value] = at < 0 ? [part, ''] : [part.slice(0, at), part.slice(at + 1)];
    return [decodeURIComponent(name), decodeURIComponent(value)];
  });
}

/** CanonicalQueryString: each name and value UriEncode()d, sorted by name then value, `name=value` joined by `&`. */
function canonicalQuery(pairs: Pair[]): string {
  return pairs
    .map(([name, value]): Pair => [uriEncode(name), uriEncode(value)])
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** CanonicalHeaders: each signed header `name:value\n`; values trimmed, runs of spaces made one, repeats joined by commas. */
function canonicalHeaders(signed: string[], headers: Map<string, string[]>): string {
  return signed.map((name) => `${name}:${(headers.get(name) ?? []).map((v) => v.trim().replace(/ +/g, ' ')).join(',')}\n`).join('');
}

/** The signature: HMAC-SHA256 of the string to sign under the key derived from the secret, date, region and service. */
function signatureOf(canonicalRequest: string, amzDate: string, scope: string): string {
  const [date, region, service] = scope.split('/') as [string, string, string];
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${CREDENTIALS.secretAccessKey}`, date);
  const kSigning = hmac(hmac(hmac(kDate, region), service), 'aws4_request');
  return createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex');
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const timeOf = (amzDate: string) => {
  const [, y, mo, d, h, mi, s] = AMZ_DATE.exec(amzDate)!;
  return Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
};
/** AWS refuses a request signed more than 15 minutes away from its own clock. */
const SKEW_MS = 15 * 60_000;

// ---- The stand-in for AWS

interface Received {
  method: string;
  rawPath: string;
  rawQuery: string;
  headers: Map<string, string[]>;
  body: Buffer;
  /** Path segments decoded: what the service reads the bucket, key or schedule name from. */
  segments: string[];
  query: Pair[];
}

interface Verdict {
  kind: 'header' | 'presigned';
  service?: string;
  signedHeaders: string[];
  canonicalRequest?: string;
  problems: string[];
}

/**
 * Headers sent unsigned by design: the signature itself, the transport's own (set by
 * node:http after signing), and the trace header, which X-Ray may rewrite on the way.
 */
const UNSIGNED_HEADERS = new Set(['authorization', 'content-length', 'connection', 'x-amzn-trace-id']);

/** The part of a check both ways of signing share: scope, path and query encoding, headers, signature. */
function checkSignature(
  received: Received,
  problems: string[],
  auth: { credential: string; amzDate: string; signedHeaders: string; signature: string; pairs: Pair[]; payloadHash: string },
): { service?: string; signed: string[]; canonicalRequest?: string } {
  const credential = /^([^/]+)\/(\d{8}\/[^/]+\/[^/]+\/aws4_request)$/.exec(auth.credential);
  if (!credential) {
    problems.push(`malformed credential ${auth.credential}`);
    return { signed: [] };
  }
  const [, accessKeyId, scope] = credential as unknown as [string, string, string];
  const [scopeDate, region, service] = scope.split('/');
  if (accessKeyId !== CREDENTIALS.accessKeyId) problems.push(`access key ${accessKeyId}`);
  if (region !== REGION) problems.push(`scope region ${region}`);
  if (!AMZ_DATE.test(auth.amzDate)) problems.push(`malformed date ${auth.amzDate}`);
  else if (auth.amzDate.slice(0, 8) !== scopeDate) problems.push(`scope date ${scopeDate} is not the request's date ${auth.amzDate}`);

  const signed = auth.signedHeaders.split(';');
  if (signed.join(';') !== [...new Set(signed)].sort().join(';') || signed.some((name) => name !== name.toLowerCase()))
    problems.push(`SignedHeaders not lower case, sorted and unique: ${auth.signedHeaders}`);
  for (const name of signed) if (!received.headers.has(name)) problems.push(`signed header ${name} was not received`);

  // AWS decodes what it receives; the path and query must already be in the one encoding the signature assumes.
  for (const segment of received.rawPath.split('/'))
    if (uriEncode(decodeURIComponent(segment)) !== segment) problems.push(`path segment ${segment} is not in canonical encoding`);
  if (received.rawQuery.includes('+')) problems.push(`'+' in the query is ambiguous: ${received.rawQuery}`);

  const s3 = service === 's3';
  const canonicalRequest = [
    received.method,
    canonicalUri(received.rawPath, s3),
    canonicalQuery(auth.pairs),
    canonicalHeaders(signed, received.headers),
    auth.signedHeaders,
    auth.payloadHash,
  ].join('\n');
  if (signatureOf(canonicalRequest, auth.amzDate, scope) !== auth.signature) problems.push('signature does not match');
  return { ...(service ? { service } : {}), signed, canonicalRequest };
}

function verify(received: Received): Verdict {
  const problems: string[] = [];
  const first = (name: string) => received.headers.get(name)?.[0];
  const contentLength = first('content-length');
  if (contentLength !== undefined && Number(contentLength) !== received.body.length)
    problems.push(`content-length ${contentLength} but ${received.body.length} bytes arrived`);

  const authorization = first('authorization');
  if (authorization !== undefined) {
    const m = /^AWS4-HMAC-SHA256 Credential=(\S+), SignedHeaders=([^,\s]+), Signature=([0-9a-f]{64})$/.exec(authorization);
    if (!m) return { kind: 'header', signedHeaders: [], problems: [`malformed authorization ${authorization}`] };
    const [, credential, signedHeaders, signature] = m as unknown as [string, string, string, string];
    const amzDate = first('x-amz-date') ?? '';
    if (AMZ_DATE.test(amzDate) && Math.abs(Date.now() - timeOf(amzDate)) > SKEW_MS)
      problems.push(`request time ${amzDate} too far from now`);
    const bodyHash = sha256Hex(received.body);
    const declared = first('x-amz-content-sha256');
    if (declared !== undefined && declared !== 'UNSIGNED-PAYLOAD' && declared !== bodyHash)
      problems.push(`x-amz-content-sha256 ${declared} is not the hash of the ${received.body.length} bytes received (${bodyHash})`);
    const result = checkSignature(received, problems, {
      credential,
      amzDate,
      signedHeaders,
      signature,
      pairs: received.query,
      payloadHash: declared ?? bodyHash,
    });
    const required = ['host', 'x-amz-date', 'x-amz-security-token', ...(result.service === 's3' ? ['x-amz-content-sha256'] : [])];
    for (const name of required) if (!result.signed.includes(name)) problems.push(`${name} is not signed`);
    if (first('x-amz-security-token') !== CREDENTIALS.sessionToken) problems.push('session token differs');
    // Nothing the client chose to send may ride along unsigned: only the transport's own headers.
    for (const name of received.headers.keys())
      if (!UNSIGNED_HEADERS.has(name) && !result.signed.includes(name)) problems.push(`header ${name} was sent but not signed`);
    return { kind: 'header', ...result, signedHeaders: result.signed, problems };
  }

  const param = (name: string) => received.query.find(([n]) => n === name)?.[1];
  if (param('X-Amz-Algorithm') !== undefined) {
    if (param('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') problems.push(`algorithm ${param('X-Amz-Algorithm')}`);
    const amzDate = param('X-Amz-Date') ?? '';
    const expires = Number(param('X-Amz-Expires'));
    if (!Number.isInteger(expires) || expires < 1 || expires > 604_800) problems.push(`X-Amz-Expires ${param('X-Amz-Expires')}`);
    else if (AMZ_DATE.test(amzDate) && Date.now() > timeOf(amzDate) + expires * 1000) problems.push('the URL has expired');
    if (param('X-Amz-Security-Token') !== CREDENTIALS.sessionToken) problems.push('session token differs');
    const result = checkSignature(received, problems, {
      credential: param('X-Amz-Credential') ?? '',
      amzDate,
      signedHeaders: param('X-Amz-SignedHeaders') ?? '',
      signature: param('X-Amz-Signature') ?? '',
      // The signature itself is the one parameter the canonical query leaves out.
      pairs: received.query.filter(([name]) => name !== 'X-Amz-Signature'),
      // A presigned URL is made before any body exists: S3 signs it as UNSIGNED-PAYLOAD unless the URL says otherwise.
      payloadHash: param('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
    });
    if (!result.signed.includes('host')) problems.push('host is not signed');
    return { kind: 'presigned', ...result, signedHeaders: result.signed, problems };
  }
  return { kind: 'header', signedHeaders: [], problems: ['the request is not signed'] };
}

type Answer = { status: number; headers?: Record<string, string>; body?: string };

class StandInAws {
  readonly received: { request: Received; verdict: Verdict }[] = [];
  private answer: Answer = { status: 200 };

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<StandInAws> {
    let aws!: StandInAws;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => aws.handle(request.method!, request.url!, request.rawHeaders, Buffer.concat(chunks), response));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    aws = new StandInAws(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return aws;
  }

  private handle(method: string, url: string, rawHeaders: string[], body: Buffer, response: ServerResponse): void {
    const at = url.indexOf('?');
    const rawPath = at < 0 ? url : url.slice(0, at);
    const rawQuery = at < 0 ? '' : url.slice(at + 1);
    const headers = new Map<string, string[]>();
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), rawHeaders[i + 1]!]);
    }
    let request: Received;
    let verdict: Verdict;
    try {
      request = {
        method,
        rawPath,
        rawQuery,
        headers,
        body,
        segments: rawPath.split('/').map(decodeURIComponent),
        query: queryPairs(rawQuery),
      };
      verdict = verify(request);
    } catch (error) {
      // Malformed percent-encoding: AWS would not get as far as the signature either.
      request = { method, rawPath, rawQuery, headers, body, segments: [], query: [] };
      verdict = { kind: 'header', signedHeaders: [], problems: [`unreadable request: ${(error as Error).message}`] };
    }
    this.received.push({ request, verdict });
    if (verdict.problems.length > 0) {
      response.writeHead(403, { 'content-type': 'text/plain' }).end(`SignatureDoesNotMatch: ${verdict.problems.join('; ')}`);
      return;
    }
    response.writeHead(this.answer.status, this.answer.headers ?? {}).end(method === 'HEAD' ? undefined : (this.answer.body ?? ''));
  }

  /** Runs one call against the stand-in, answering `answer` if the signature holds, and gives the one request it made. */
  async exchange<T>(answer: Answer, call: () => Promise<T>): Promise<{ output: T; request: Received; verdict: Verdict }> {
    this.answer = answer;
    this.received.length = 0;
    const outcome = await call().then(
      (output) => ({ output }),
      (error: unknown) => ({ error }),
    );
    assert.equal(this.received.length, 1, 'exactly one request arrived');
    const { request, verdict } = this.received[0]!;
    assert.deepEqual(
      verdict.problems,
      [],
      `refused ${request.method} ${request.rawPath}?${request.rawQuery}\n${verdict.canonicalRequest ?? ''}`,
    );
    if ('error' in outcome) throw outcome.error;
    return { output: outcome.output, request, verdict };
  }

  client(service: ServiceProtocol): AwsClient {
    return new AwsClient(service, { region: REGION, endpoint: this.endpoint, credentials: CREDENTIALS, maxAttempts: 1 });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let aws: StandInAws;
before(async () => {
  aws = await StandInAws.start();
});
after(() => aws?.close());

const send = <I, O>(service: ServiceProtocol, command: Command<I, O>) => aws.client(service).send(command);
const json = (body: unknown, version = '1.0'): Answer => ({
  status: 200,
  headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amzn-requestid': 'req-1' },
  body: JSON.stringify(body),
});

describe('the stand-in itself', () => {
  // Without this the suite could pass because the check passes everything.
  test('refuses a request whose body differs from the one signed', async () => {
    const client = aws.client(dynamodbService);
    client.middlewareStack.add(
      ((next: (args: any) => Promise<any>) => (args: any) =>
        next({ ...args, request: { ...args.request, body: `${args.request.body} ` } })) as never,
      { step: 'finalizeRequest', name: 'tamperAfterSigning', priority: 'low' } as never,
    );
    aws.received.length = 0;
    await assert.rejects(client.send(new PutItemCommand({ TableName: 't', Item: { pk: { S: 'a' } } })), { name: 'UnknownError' });
    assert.deepEqual(aws.received[0]?.verdict.problems, ['signature does not match']);
  });

  test('reproduces the documented example: its canonical request hash and signature', () => {
    // The IAM ListUsers walk-through of AWS's SigV4 documentation, signed with its example secret (the one used here).
    const canonical = [
      'GET',
      canonicalUri('/', false),
      canonicalQuery(queryPairs('Action=ListUsers&Version=2010-05-08')),
      canonicalHeaders(
        ['content-type', 'host', 'x-amz-date'],
        new Map([
          ['content-type', ['application/x-www-form-urlencoded; charset=utf-8']],
          ['host', ['iam.amazonaws.com']],
          ['x-amz-date', ['20150830T123600Z']],
        ]),
      ),
      'content-type;host;x-amz-date',
      sha256Hex(''),
    ].join('\n');
    assert.equal(sha256Hex(canonical), 'f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59');
    assert.equal(
      signatureOf(canonical, '20150830T123600Z', '20150830/us-east-1/iam/aws4_request'),
      '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    );
  });

  test('encodes paths and queries by the rules of the specification', () => {
    assert.equal(uriEncode("a b+~!*'()&=?#%/😀"), 'a%20b%2B~%21%2A%27%28%29%26%3D%3F%23%25%2F%F0%9F%98%80');
    assert.equal(canonicalUri('/a%20b//./c/../d/', false), '/a%2520b/d/');
    assert.equal(canonicalUri('/b//a%20b/./', true), '/b//a%20b/./');
    assert.equal(canonicalQuery(queryPairs('b=2&a=%7E&a=1&c')), 'a=1&a=~&b=2&c=');
  });
});

describe('JSON services', () => {
  test('DynamoDB PutItem with binary attributes', async () => {
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    const { request, verdict } = await aws.exchange(json({}), () =>
      send(
        dynamodbService,
        new PutItemCommand({
          TableName: 'sluice-messages',
          Item: { pk: { S: 'erp#ü é+/' }, b: { B: bytes }, bs: { BS: [bytes, new Uint8Array([7])] }, m: { M: { n: { N: '1.50' } } } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    assert.equal(verdict.service, 'dynamodb');
    assert.equal(request.headers.get('x-amz-target')?.[0], 'DynamoDB_20120810.PutItem');
    assert.ok(verdict.signedHeaders.includes('x-amz-target'));
    assert.deepEqual(Buffer.from(JSON.parse(request.body.toString('utf8')).Item.b.B, 'base64'), Buffer.from(bytes));
  });

  test('SQS SendMessageBatch', async () => {
    const { request, verdict } = await aws.exchange(
      json({ Successful: [{ Id: 'a', MessageId: 'm', MD5OfMessageBody: 'x' }], Failed: [] }),
      () =>
        send(
          sqsService,
          new SendMessageBatchCommand({
            QueueUrl: `https://sqs.${REGION}.amazonaws.com/123456789012/sluice.fifo`,
            Entries: [
              {
                Id: 'a',
                MessageBody: 'héllo 😀',
                MessageGroupId: 'g',
                MessageDeduplicationId: 'd1',
                MessageAttributes: { bin: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 255]) } },
              },
              { Id: 'b', MessageBody: '{"a":1}', MessageGroupId: 'g', MessageDeduplicationId: 'd2' },
            ],
          }),
        ),
    );
    assert.equal(verdict.service, 'sqs');
    assert.equal(JSON.parse(request.body.toString('utf8')).Entries[0].MessageBody, 'héllo 😀');
  });

  test('KMS Decrypt', async () => {
    const { output, verdict } = await aws.exchange(json({ Plaintext: 'AQI=', KeyId: 'k' }, '1.1'), () =>
      send(kmsService, new DecryptCommand({ CiphertextBlob: new Uint8Array([9, 8, 7]), EncryptionContext: { partner: 'p ü' } })),
    );
    assert.equal(verdict.service, 'kms');
    assert.deepEqual(output.Plaintext, new Uint8Array([1, 2]));
  });

  test('EventBridge PutEvents', async () => {
    const { verdict } = await aws.exchange(json({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] }, '1.1'), () =>
      send(
        eventBridgeService,
        new PutEventsCommand({
          Entries: [{ Source: 'sluice', DetailType: 'flow.paused', Detail: '{"flow":"ü"}', EventBusName: 'default', Time: new Date() }],
        }),
      ),
    );
    assert.equal(verdict.service, 'events');
  });

  test("in Lambda, the invocation's trace header rides along unsigned", async () => {
    const saved = { name: process.env.AWS_LAMBDA_FUNCTION_NAME, trace: process.env._X_AMZN_TRACE_ID };
    const traceId = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'sluice-worker';
    process.env._X_AMZN_TRACE_ID = traceId;
    try {
      const { request, verdict } = await aws.exchange(json({}), () =>
        send(dynamodbService, new PutItemCommand({ TableName: 't', Item: { pk: { S: 'a' } } })),
      );
      assert.equal(request.headers.get('x-amzn-trace-id')?.[0], traceId);
      assert.ok(!verdict.signedHeaders.includes('x-amzn-trace-id'));
    } finally {
      for (const [name, value] of [
        ['AWS_LAMBDA_FUNCTION_NAME', saved.name],
        ['_X_AMZN_TRACE_ID', saved.trace],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('Scheduler (restJson1: the name in the path, double-encoded in the signature)', () => {
  const name = "probe a+b ü~!*'()&=?#%😀";
  const scheduled = { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ScheduleArn":"arn:aws:scheduler:::s"}' };

  test('CreateSchedule', async () => {
    const { request, verdict } = await aws.exchange(scheduled, () =>
      send(
        schedulerService,
        new CreateScheduleCommand({
          Name: name,
          GroupName: 'sluice probes',
          ScheduleExpression: 'at(2030-01-01T00:00:00)',
          FlexibleTimeWindow: { Mode: 'OFF' },
          Target: { Arn: 'arn:aws:lambda:eu-central-1:1:function:f', RoleArn: 'arn:aws:iam::1:role/r', Input: '{}' },
          ActionAfterCompletion: 'DELETE',
        }),
      ),
    );
    assert.equal(verdict.service, 'scheduler');
    assert.deepEqual(request.segments, ['', 'schedules', name]);
  });

  test('DeleteSchedule, the group and token in the query', async () => {
    const { request } = await aws.exchange({ status: 200, headers: { 'content-type': 'application/json' }, body: '{}' }, () =>
      send(schedulerService, new DeleteScheduleCommand({ Name: name, GroupName: 'grp x+y/z=1&2', ClientToken: 'tok 2+3' })),
    );
    assert.equal(request.method, 'DELETE');
    assert.deepEqual(request.segments, ['', 'schedules', name]);
    assert.deepEqual(Object.fromEntries(request.query), { groupName: 'grp x+y/z=1&2', clientToken: 'tok 2+3' });
  });
});

describe('S3 (the path signed as sent)', () => {
  const bucket = 'sluice-payloads';
  const keys = [
    'a b/ü é+x.txt',
    'x~y!z*\'()&=?#%;:@$,[]{}|^`"<>\\.bin',
    '/leading//double/trailing/',
    'emoji-😀-\u00a0-\u3000',
    'payloads/2030/01/01/01HZX3V5.json',
  ];
  const ok: Answer = { status: 200, headers: { etag: '"e"', 'x-amz-request-id': 'r' } };

  for (const key of keys) {
    describe(`key ${JSON.stringify(key)}`, () => {
      const object = { Bucket: bucket, Key: key };
      const addressed = (request: Received) => assert.equal(request.segments.slice(2).join('/'), key);

      test('PutObject', async () => {
        const body = 'payload bytes ü 😀';
        const { request, verdict } = await aws.exchange(ok, () =>
          send(s3Service, new PutObjectCommand({ ...object, Body: body, ContentType: 'application/json' })),
        );
        addressed(request);
        assert.equal(verdict.service, 's3');
        assert.equal(request.body.toString('utf8'), body);
        assert.equal(request.headers.get('x-amz-content-sha256')?.[0], sha256Hex(Buffer.from(body)));
      });

      test('GetObject with a Range', async () => {
        const { output, request, verdict } = await aws.exchange(
          { status: 206, headers: { 'content-range': 'bytes 0-3/10', etag: '"e"' }, body: 'abcd' },
          () => send(s3Service, new GetObjectCommand({ ...object, Range: 'bytes=0-3', IfMatch: '"e"' })),
        );
        addressed(request);
        assert.ok(verdict.signedHeaders.includes('range'));
        assert.equal(await output.Body.transformToString(), 'abcd');
      });

      test('HeadObject', async () => {
        const { request } = await aws.exchange(ok, () => send(s3Service, new HeadObjectCommand(object)));
        assert.equal(request.method, 'HEAD');
        addressed(request);
      });

      test('PutObjectTagging', async () => {
        const { request, verdict } = await aws.exchange(ok, () =>
          send(s3Service, new PutObjectTaggingCommand({ ...object, Tagging: { TagSet: [{ Key: 'state', Value: 'a&b <c> ü' }] } })),
        );
        addressed(request);
        assert.deepEqual(request.query, [['tagging', '']]);
        assert.ok(verdict.signedHeaders.includes('content-md5'));
      });

      test('DeleteObject', async () => {
        const { request } = await aws.exchange({ status: 204 }, () => send(s3Service, new DeleteObjectCommand(object)));
        assert.equal(request.method, 'DELETE');
        addressed(request);
      });
    });
  }

  test('ListObjectsV2 with a prefix and a continuation token that need encoding', async () => {
    const listing =
      '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>';
    const { output, request } = await aws.exchange({ status: 200, headers: { 'content-type': 'application/xml' }, body: listing }, () =>
      send(
        s3Service,
        new ListObjectsV2Command({ Bucket: 'my.dotted.bucket', Prefix: "a b/+ü~!*'()&=?#%", ContinuationToken: '1a+b/c==', MaxKeys: 100 }),
      ),
    );
    assert.deepEqual(request.segments, ['', 'my.dotted.bucket', '']);
    assert.deepEqual(Object.fromEntries(request.query), {
      'list-type': '2',
      prefix: "a b/+ü~!*'()&=?#%",
      'continuation-token': '1a+b/c==',
      'max-keys': '100',
    });
    assert.equal(output.IsTruncated, false);
  });
});

describe('presigned URLs (the signature in the query)', () => {
  const key = "in/a b+ü~!*'()&=?#%//😀.json";
  const presign = (method: 'GET' | 'PUT') =>
    presignObjectUrl({
      method,
      bucket: 'sluice-payloads',
      key,
      region: REGION,
      endpoint: new URL(aws.endpoint),
      credentials: CREDENTIALS,
      expiresInSeconds: 300,
      signingDate: new Date(Math.floor(Date.now() / 1000) * 1000),
    });

  test('a presigned GET, fetched as it is', async () => {
    const url = await presign('GET');
    const { output, request, verdict } = await aws.exchange({ status: 200, body: 'stored' }, async () => {
      const response = await fetch(url);
      return { status: response.status, body: await response.text() };
    });
    assert.deepEqual(output, { status: 200, body: 'stored' });
    assert.equal(verdict.kind, 'presigned');
    assert.equal(verdict.service, 's3');
    assert.deepEqual(verdict.signedHeaders, ['host']);
    assert.equal(request.segments.slice(2).join('/'), key);
  });

  test('a presigned PUT, with whatever body and type the uploader chooses', async () => {
    const url = await presign('PUT');
    const { output, request, verdict } = await aws.exchange({ status: 200, headers: { etag: '"e"' } }, async () => {
      const response = await fetch(url, { method: 'PUT', body: 'corrected ü', headers: { 'content-type': 'text/plain' } });
      return response.status;
    });
    assert.equal(output, 200);
    assert.equal(verdict.kind, 'presigned');
    assert.equal(request.method, 'PUT');
    assert.equal(request.body.toString('utf8'), 'corrected ü');
    assert.equal(request.segments.slice(2).join('/'), key);
  });

  test('a presigned URL altered on the way is refused', async () => {
    const url = await presign('GET');
    aws.received.length = 0;
    const tampered = url.replace('%2B', '%20');
    assert.notEqual(tampered, url);
    assert.equal((await fetch(tampered)).status, 403);
    assert.deepEqual(aws.received[0]?.verdict.problems, ['signature does not match']);
  });
});
