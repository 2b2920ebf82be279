import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import * as sdk from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { buildQueryString, HttpResponse } from '@smithy/core/protocols';
import { startFauxqs } from 'fauxqs';
import { isMissing } from '../../adapters/aws/payload-store';
import { AwsClient } from '../../adapters/aws/protocol/client';
import type { AwsServiceError } from '../../adapters/aws/protocol/errors';
import type { Operation, WireResponse } from '../../adapters/aws/protocol/operation';
import { presignObjectUrl } from '../../adapters/aws/protocol/presign';
import * as s3 from '../../adapters/aws/protocol/s3';
import { sharedEmulators } from '../../local/emulators';
import { ObjectTags, withObjectTagging } from '../../local/s3-tagging';
import { sdkRequestOf, type SdkHttpRequest } from '../helpers/sdk-oracle';

// Fixed credentials: nothing here reaches AWS.
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const REGION = 'eu-west-1';
const LOCAL_ENDPOINT = 'http://127.0.0.1:4566';

/** A key with every character class S3 escapes differently from `encodeURIComponent`, and one that needs none. */
const AWKWARD_KEY = "payloads/orders/m 1:a+b(c)*!'~ü/%41&=?#";

type HttpRequestLike = SdkHttpRequest;

/** The request the SDK's S3Client would send (captured after signing, never sent). */
async function sdkRequest(command: unknown, options: { endpoint?: string; region?: string } = {}) {
  const client = new sdk.S3Client({
    region: options.region ?? REGION,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
  });
  return sdkRequestOf(client, command);
}

const sdkUrl = (r: HttpRequestLike) => {
  const query = buildQueryString(r.query);
  return `${r.protocol}//${r.hostname}${r.port ? `:${r.port}` : ''}${r.path}${query ? `?${query}` : ''}`;
};
const bytesOf = (body: unknown) => Buffer.from((body as Uint8Array | string | undefined) ?? '');

interface OracleCase {
  name: string;
  input: Record<string, unknown>;
  sdk: (input: never) => unknown;
  ours: Operation<never, unknown>;
}

const cases: OracleCase[] = [
  {
    name: 'PutObject with a type',
    input: { Bucket: 'sluice-payloads', Key: AWKWARD_KEY, Body: 'hello', ContentType: 'text/plain; charset=utf-8' },
    sdk: (i) => new sdk.PutObjectCommand(i),
    ours: s3.putObject as never,
  },
  {
    name: 'PutObject of bytes without a type',
    input: { Bucket: 'sluice-payloads', Key: 'payloads/p1', Body: new Uint8Array([0, 1, 2, 255]) },
    sdk: (i) => new sdk.PutObjectCommand(i),
    ours: s3.putObject as never,
  },
  {
    name: 'GetObject',
    input: { Bucket: 'sluice-payloads', Key: AWKWARD_KEY },
    sdk: (i) => new sdk.GetObjectCommand(i),
    ours: s3.getObject as never,
  },
  {
    name: 'GetObject of a range pinned to an ETag',
    input: { Bucket: 'sluice-payloads', Key: 'payloads/p1', Range: 'bytes=0-1023', IfMatch: '"9b2cf535f27731c974343645a3985328"' },
    sdk: (i) => new sdk.GetObjectCommand(i),
    ours: s3.getObject as never,
  },
  {
    name: 'HeadObject',
    input: { Bucket: 'sluice-payloads', Key: AWKWARD_KEY },
    sdk: (i) => new sdk.HeadObjectCommand(i),
    ours: s3.headObject as never,
  },
  {
    name: 'DeleteObject',
    input: { Bucket: 'sluice-payloads', Key: AWKWARD_KEY },
    sdk: (i) => new sdk.DeleteObjectCommand(i),
    ours: s3.deleteObject as never,
  },
  {
    name: 'ListObjectsV2, first page',
    input: { Bucket: 'sluice-payloads', Prefix: 'payloads/orders/' },
    sdk: (i) => new sdk.ListObjectsV2Command(i),
    ours: s3.listObjectsV2 as never,
  },
  {
    name: 'ListObjectsV2, a later page',
    input: { Bucket: 'sluice-payloads', Prefix: 'a b+c/', ContinuationToken: '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=', MaxKeys: 2 },
    sdk: (i) => new sdk.ListObjectsV2Command(i),
    ours: s3.listObjectsV2 as never,
  },
  {
    name: 'GetObjectTagging',
    input: { Bucket: 'sluice-payloads', Key: AWKWARD_KEY },
    sdk: (i) => new sdk.GetObjectTaggingCommand(i),
    ours: s3.getObjectTagging as never,
  },
  {
    name: 'PutObjectTagging',
    input: {
      Bucket: 'sluice-payloads',
      Key: AWKWARD_KEY,
      Tagging: {
        TagSet: [
          { Key: 'sluice-retention-days', Value: '31' },
          { Key: 'a&b', Value: '<"x">' },
        ],
      },
    },
    sdk: (i) => new sdk.PutObjectTaggingCommand(i),
    ours: s3.putObjectTagging as never,
  },
  {
    name: 'DeleteObjectTagging',
    input: { Bucket: 'sluice-payloads', Key: AWKWARD_KEY },
    sdk: (i) => new sdk.DeleteObjectTaggingCommand(i),
    ours: s3.deleteObjectTagging as never,
  },
];

/** Headers whose value S3 acts on; the SDK's own (user agent, invocation id, checksum mode) are not. */
const MEANINGFUL = ['content-type', 'range', 'if-match'];

describe('S3 requests, against the SDK as the oracle', () => {
  const places = [
    { label: 'on AWS (virtual-hosted)', endpoint: undefined },
    { label: 'on a custom endpoint (path style)', endpoint: LOCAL_ENDPOINT },
  ];
  for (const { label, endpoint } of places) {
    for (const c of cases) {
      it(`${c.name} ${label}`, async () => {
        const expected = await sdkRequest(c.sdk(c.input as never) as never, { endpoint });
        const ours = c.ours.serialize(c.input as never, { region: REGION, ...(endpoint ? { endpoint: new URL(endpoint) } : {}) });
        assert.equal(ours.method, expected.method);
        assert.equal(ours.url.href, sdkUrl(expected));
        assert.deepEqual(bytesOf(ours.body), bytesOf(expected.body));
        for (const name of MEANINGFUL) assert.equal(ours.headers[name], expected.headers[name], name);
        for (const name of Object.keys(ours.headers)) {
          if (name === 'content-md5') {
            // The SDK sends a CRC32 of the same body instead; S3 accepts either.
            assert.equal(ours.headers[name], createHash('md5').update(bytesOf(expected.body)).digest('base64'));
          } else {
            assert.ok(MEANINGFUL.includes(name), `unexpected header ${name}`);
          }
        }
        if (c.ours === (s3.putObjectTagging as never)) assert.ok(ours.headers['content-md5'], 'PutObjectTagging needs a checksum');
      });
    }
  }

  it('addresses a bucket with dots path style and a China region on its own domain, as the SDK does', async () => {
    for (const [bucket, region] of [
      ['sluice.payloads', REGION],
      ['sluice-payloads', 'cn-north-1'],
      ['sluice-payloads', 'us-east-1'],
    ] as const) {
      const input = { Bucket: bucket, Key: 'payloads/p1' };
      const expected = await sdkRequest(new sdk.GetObjectCommand(input), { region });
      assert.equal(s3.getObject.serialize(input, { region }).url.href, sdkUrl(expected));
    }
  });

  it('refuses a key a URL would rewrite (a "." or ".." segment) rather than address another object', () => {
    for (const key of ['a/../b', './a', 'a/.']) {
      assert.throws(() => s3.getObject.serialize({ Bucket: 'b', Key: key }, { region: REGION }), RangeError);
    }
  });
});

// ---- Answers

interface RecordedAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

const wire = (answer: RecordedAnswer): WireResponse => ({
  statusCode: answer.statusCode,
  headers: answer.headers,
  body: new Uint8Array(bytesOf(answer.body)),
});

/** What the SDK's S3Client makes of a raw answer (one attempt, no checksum validation). */
async function sdkAnswer(command: unknown, answer: RecordedAnswer): Promise<any> {
  const client = new sdk.S3Client({
    region: REGION,
    credentials,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      handle: async () => ({
        response: new HttpResponse({ statusCode: answer.statusCode, headers: answer.headers, body: Readable.from([bytesOf(answer.body)]) }),
      }),
    } as never,
  });
  try {
    return await client.send(command as never);
  } finally {
    client.destroy();
  }
}

async function sdkError(command: unknown, answer: RecordedAnswer): Promise<any> {
  try {
    await sdkAnswer(command, answer);
  } catch (error) {
    return error;
  }
  assert.fail('the SDK accepted an error answer');
}

/** An output without what only one side has: the body stream and the SDK's per-call counters. */
function comparable(output: Record<string, unknown>) {
  const { Body: _body, $metadata, ...rest } = output as { Body?: unknown; $metadata: Record<string, unknown> };
  return { ...rest, $metadata: { httpStatusCode: $metadata.httpStatusCode, requestId: $metadata.requestId } };
}

const LAST_MODIFIED = 'Sun, 01 Mar 2026 10:00:00 GMT';
const ETAG = '"9b2cf535f27731c974343645a3985328"';

const listPage = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>sluice-payloads</Name><Prefix>payloads/</Prefix><ContinuationToken>abc</ContinuationToken><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>payloads/a&amp;b &lt;1&gt;</Key><LastModified>2026-03-01T10:00:00.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>payloads/ü 2</Key><LastModified>2026-03-02T11:30:00.000Z</LastModified><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>`;

const successes: { name: string; sdk: unknown; ours: Operation<never, any>; answer: RecordedAnswer }[] = [
  {
    name: 'PutObject',
    sdk: new sdk.PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }),
    ours: s3.putObject as never,
    answer: { statusCode: 200, headers: { etag: ETAG, 'x-amz-request-id': 'R1', 'x-amz-version-id': 'v1' } },
  },
  {
    name: 'GetObject of a range',
    sdk: new sdk.GetObjectCommand({ Bucket: 'b', Key: 'k' }),
    ours: s3.getObject as never,
    answer: {
      statusCode: 206,
      headers: {
        'content-type': 'application/json',
        'content-length': '10',
        'content-range': 'bytes 0-9/4096',
        'accept-ranges': 'bytes',
        etag: ETAG,
        'last-modified': LAST_MODIFIED,
        'x-amz-meta-origin': 'sluice',
        'x-amz-request-id': 'R2',
      },
      body: '{"ok":"ü"}',
    },
  },
  {
    name: 'HeadObject',
    sdk: new sdk.HeadObjectCommand({ Bucket: 'b', Key: 'k' }),
    ours: s3.headObject as never,
    answer: {
      statusCode: 200,
      headers: {
        'content-type': 'text/plain',
        'content-length': '4096',
        etag: ETAG,
        'last-modified': LAST_MODIFIED,
        'x-amz-request-id': 'R3',
      },
    },
  },
  {
    name: 'DeleteObject',
    sdk: new sdk.DeleteObjectCommand({ Bucket: 'b', Key: 'k' }),
    ours: s3.deleteObject as never,
    answer: { statusCode: 204, headers: { 'x-amz-request-id': 'R4' } },
  },
  {
    name: 'ListObjectsV2, a truncated page of two',
    sdk: new sdk.ListObjectsV2Command({ Bucket: 'b' }),
    ours: s3.listObjectsV2 as never,
    answer: { statusCode: 200, headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'R5' }, body: listPage },
  },
  {
    name: 'ListObjectsV2, a last page of one',
    sdk: new sdk.ListObjectsV2Command({ Bucket: 'b' }),
    ours: s3.listObjectsV2 as never,
    answer: {
      statusCode: 200,
      headers: {},
      body: '<ListBucketResult><Name>b</Name><Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>k</Key><LastModified>2026-03-01T10:00:00.000Z</LastModified><ETag>"e"</ETag><Size>3</Size></Contents></ListBucketResult>',
    },
  },
  {
    name: 'ListObjectsV2, nothing under the prefix',
    sdk: new sdk.ListObjectsV2Command({ Bucket: 'b' }),
    ours: s3.listObjectsV2 as never,
    answer: {
      statusCode: 200,
      headers: {},
      body: '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>none/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>',
    },
  },
  {
    name: 'GetObjectTagging with two tags',
    sdk: new sdk.GetObjectTaggingCommand({ Bucket: 'b', Key: 'k' }),
    ours: s3.getObjectTagging as never,
    answer: {
      statusCode: 200,
      headers: { 'x-amz-version-id': 'v2' },
      body: '<?xml version="1.0" encoding="UTF-8"?>\n<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>sluice-retention-days</Key><Value>31</Value></Tag><Tag><Key>a&amp;b</Key><Value></Value></Tag></TagSet></Tagging>',
    },
  },
  {
    name: 'GetObjectTagging with one tag',
    sdk: new sdk.GetObjectTaggingCommand({ Bucket: 'b', Key: 'k' }),
    ours: s3.getObjectTagging as never,
    answer: { statusCode: 200, headers: {}, body: '<Tagging><TagSet><Tag><Key>k</Key><Value>7</Value></Tag></TagSet></Tagging>' },
  },
  {
    name: 'GetObjectTagging without tags',
    sdk: new sdk.GetObjectTaggingCommand({ Bucket: 'b', Key: 'k' }),
    ours: s3.getObjectTagging as never,
    answer: { statusCode: 200, headers: {}, body: '<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet/></Tagging>' },
  },
  {
    name: 'PutObjectTagging',
    sdk: new sdk.PutObjectTaggingCommand({ Bucket: 'b', Key: 'k', Tagging: { TagSet: [] } }),
    ours: s3.putObjectTagging as never,
    answer: { statusCode: 200, headers: { 'x-amz-version-id': 'v3' } },
  },
  {
    name: 'DeleteObjectTagging',
    sdk: new sdk.DeleteObjectTaggingCommand({ Bucket: 'b', Key: 'k' }),
    ours: s3.deleteObjectTagging as never,
    answer: { statusCode: 204, headers: {} },
  },
];

const errorBody = (code: string, message: string, extra = '') =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}<RequestId>BODYREQ</RequestId><HostId>host-id</HostId></Error>`;

const failures: { name: string; sdk: unknown; answer: RecordedAnswer; missing: boolean }[] = [
  {
    name: 'GetObject of a missing key (404 NoSuchKey)',
    sdk: new sdk.GetObjectCommand({ Bucket: 'b', Key: 'k' }),
    answer: {
      statusCode: 404,
      headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'HDRREQ' },
      body: errorBody('NoSuchKey', 'The specified key does not exist.', '<Key>k</Key>'),
    },
    missing: true,
  },
  {
    name: 'HeadObject of a missing key (404 without a body)',
    sdk: new sdk.HeadObjectCommand({ Bucket: 'b', Key: 'k' }),
    answer: { statusCode: 404, headers: { 'x-amz-request-id': 'HDRREQ', 'x-amz-id-2': 'ext' } },
    missing: true,
  },
  {
    name: 'HeadObject refused (403 without a body)',
    sdk: new sdk.HeadObjectCommand({ Bucket: 'b', Key: 'k' }),
    answer: { statusCode: 403, headers: { 'x-amz-request-id': 'HDRREQ' } },
    missing: false,
  },
  {
    name: 'GetObject of a replaced object (412 PreconditionFailed)',
    sdk: new sdk.GetObjectCommand({ Bucket: 'b', Key: 'k', IfMatch: ETAG }),
    answer: {
      statusCode: 412,
      headers: { 'x-amz-request-id': 'HDRREQ' },
      body: errorBody(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        '<Condition>If-Match</Condition>',
      ),
    },
    missing: false,
  },
  {
    name: 'PutObject throttled (503 SlowDown, the request id only in the body)',
    sdk: new sdk.PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }),
    answer: { statusCode: 503, headers: {}, body: errorBody('SlowDown', 'Please reduce your request rate.') },
    missing: false,
  },
  {
    name: 'PutObjectTagging of a missing key',
    sdk: new sdk.PutObjectTaggingCommand({ Bucket: 'b', Key: 'k', Tagging: { TagSet: [] } }),
    answer: { statusCode: 404, headers: {}, body: errorBody('NoSuchKey', 'The specified key does not exist.') },
    missing: true,
  },
];

describe('S3 answers, against the SDK as the oracle', () => {
  for (const c of successes) {
    it(`reads ${c.name} as the SDK does`, async () => {
      const expected = await sdkAnswer(c.sdk, c.answer);
      const ours = c.ours.deserialize(wire(c.answer));
      assert.deepEqual(comparable(ours), comparable(expected));
      if (expected.Body) {
        const text = await expected.Body.transformToString();
        assert.equal(await ours.Body.transformToString(), text);
        assert.deepEqual(await ours.Body.transformToByteArray(), new Uint8Array(Buffer.from(text)));
      }
    });
  }

  it('reads a GetObject body byte for byte, whatever the bytes', async () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    const ours = s3.getObject.deserialize(wire({ statusCode: 200, headers: { 'content-length': '256' }, body: bytes }));
    assert.deepEqual(await ours.Body.transformToByteArray(), bytes);
    assert.equal(await ours.Body.transformToString('base64'), Buffer.from(bytes).toString('base64'));
  });

  for (const c of failures) {
    it(`names ${c.name} as the SDK does`, async () => {
      const expected = await sdkError(c.sdk, c.answer);
      const ours = s3.s3Service.error(wire(c.answer)) as AwsServiceError;
      assert.equal(ours.name, expected.name);
      if (c.answer.body) assert.equal(ours.message, expected.message);
      assert.equal(ours.$fault, expected.$fault);
      assert.equal(ours.$metadata.httpStatusCode, expected.$metadata.httpStatusCode);
      assert.equal(ours.$metadata.requestId, expected.$metadata.requestId);
      for (const field of ['Code', 'Key', 'Condition']) assert.equal((ours as any)[field], expected[field], field);
      assert.equal(isMissing(ours), c.missing);
      assert.equal(isMissing(expected), c.missing);
    });
  }

  it('names an answer it cannot read by its status, where the SDK throws a parse error', () => {
    const error = s3.s3Service.error(wire({ statusCode: 502, headers: {}, body: '<html>Bad Gateway</html' })) as AwsServiceError;
    assert.equal(error.name, 'Unknown');
    assert.equal(error.$fault, 'server');
    assert.equal(error.$metadata.httpStatusCode, 502);
  });
});

// ---- Presigned URLs

describe('presigned URLs, against getSignedUrl as the oracle', () => {
  const signingDate = new Date('2026-03-01T10:00:00Z');
  const withToken = { ...credentials, sessionToken: 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token' };
  const variants = [
    { label: 'on AWS', endpoint: undefined, creds: credentials },
    { label: 'on AWS with a session token (a Lambda role)', endpoint: undefined, creds: withToken },
    { label: 'on a custom endpoint', endpoint: LOCAL_ENDPOINT, creds: credentials },
  ];
  for (const { label, endpoint, creds } of variants) {
    for (const method of ['GET', 'PUT'] as const) {
      it(`makes the very ${method} URL of the SDK ${label}`, async () => {
        const client = new sdk.S3Client({
          region: REGION,
          credentials: creds,
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
          ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
        });
        const input = { Bucket: 'sluice-payloads', Key: AWKWARD_KEY };
        const command = method === 'GET' ? new sdk.GetObjectCommand(input) : new sdk.PutObjectCommand(input);
        const expected = await getSignedUrl(client, command, { expiresIn: 300, signingDate });
        client.destroy();
        const ours = await presignObjectUrl({
          method,
          bucket: input.Bucket,
          key: input.Key,
          region: REGION,
          ...(endpoint ? { endpoint: new URL(endpoint) } : {}),
          credentials: async () => creds,
          expiresInSeconds: 300,
          signingDate,
        });
        assert.equal(ours, expected);
        assert.equal(new URL(ours).searchParams.get('X-Amz-SignedHeaders'), 'host');
      });
    }
  }

  it('signs for the date and lifetime it is given', async () => {
    const options = { method: 'GET' as const, bucket: 'b', key: 'k', region: REGION, credentials, expiresInSeconds: 900, signingDate };
    const url = new URL(await presignObjectUrl(options));
    assert.equal(url.searchParams.get('X-Amz-Date'), '20260301T100000Z');
    assert.equal(url.searchParams.get('X-Amz-Expires'), '900');
    const later = new URL(await presignObjectUrl({ ...options, signingDate: new Date('2026-03-01T10:00:01Z') }));
    assert.notEqual(later.searchParams.get('X-Amz-Signature'), url.searchParams.get('X-Amz-Signature'));
  });
});

// ---- Against the S3 emulator

/** The test run's shared emulator when there is one, else fauxqs with object tagging (no JVM), as local mode runs it. */
async function startS3(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const shared = sharedEmulators();
  if (shared) return { endpoint: shared.s3Endpoint, stop: async () => undefined };
  const tags = new ObjectTags();
  const server = await withObjectTagging(
    tags,
    () => startFauxqs({ port: 0, host: '127.0.0.1', logger: false }),
    (s) => s.stop(),
  );
  return { endpoint: `http://127.0.0.1:${server.port}`, stop: () => server.stop() };
}

describe('S3 protocol against the S3 emulator', () => {
  let emulator: { endpoint: string; stop(): Promise<void> };
  let client: AwsClient;
  const Bucket = `s3-protocol-${randomUUID().slice(0, 8)}`;
  const local = { accessKeyId: 'local', secretAccessKey: 'local' };

  before(async () => {
    emulator = await startS3();
    const admin = new sdk.S3Client({ region: 'us-east-1', endpoint: emulator.endpoint, forcePathStyle: true, credentials: local });
    await admin.send(new sdk.CreateBucketCommand({ Bucket }));
    admin.destroy();
    client = new AwsClient(s3.s3Service, { region: 'us-east-1', endpoint: emulator.endpoint, credentials: local, maxAttempts: 1 });
  });
  after(async () => {
    await emulator?.stop();
  });

  const missing = async (call: Promise<unknown>, name: string) =>
    assert.rejects(call, (error: AwsServiceError) => error.name === name && error.$metadata.httpStatusCode === 404 && isMissing(error));

  it('puts, reads whole and by range, inspects, tags, untags and deletes an object', async () => {
    const Key = 'payloads/orders/m 1:a+b(c)ü';
    const text = 'a payload of some length, ünïcode included';
    const put = await client.send(new s3.PutObjectCommand({ Bucket, Key, Body: text, ContentType: 'text/plain; charset=utf-8' }));
    assert.match(put.ETag ?? '', /^".+"$/);

    const got = await client.send(new s3.GetObjectCommand({ Bucket, Key }));
    assert.equal(await got.Body.transformToString(), text);
    assert.equal(got.ContentType, 'text/plain; charset=utf-8');
    assert.equal(got.ContentLength, Buffer.byteLength(text));
    assert.equal(got.ETag, put.ETag);
    assert.ok(got.LastModified instanceof Date && !Number.isNaN(got.LastModified.getTime()));

    const range = await client.send(new s3.GetObjectCommand({ Bucket, Key, Range: 'bytes=0-9', IfMatch: put.ETag }));
    assert.deepEqual(Buffer.from(await range.Body.transformToByteArray()), Buffer.from(text).subarray(0, 10));
    assert.equal(range.ContentRange, `bytes 0-9/${Buffer.byteLength(text)}`);

    const head = await client.send(new s3.HeadObjectCommand({ Bucket, Key }));
    assert.equal(head.ContentLength, Buffer.byteLength(text));
    assert.equal(head.ContentType, 'text/plain; charset=utf-8');
    assert.equal(head.ETag, put.ETag);
    assert.ok(head.LastModified instanceof Date);

    await client.send(
      new s3.PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet: [{ Key: 'sluice-retention-days', Value: '31' }] } }),
    );
    assert.deepEqual((await client.send(new s3.GetObjectTaggingCommand({ Bucket, Key }))).TagSet, [
      { Key: 'sluice-retention-days', Value: '31' },
    ]);
    await client.send(new s3.DeleteObjectTaggingCommand({ Bucket, Key }));
    assert.deepEqual((await client.send(new s3.GetObjectTaggingCommand({ Bucket, Key }))).TagSet, []);

    await client.send(new s3.DeleteObjectCommand({ Bucket, Key }));
    await missing(client.send(new s3.HeadObjectCommand({ Bucket, Key })), 'NotFound');
    await missing(client.send(new s3.GetObjectCommand({ Bucket, Key })), 'NoSuchKey');
    await missing(
      client.send(new s3.PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } })),
      'NoSuchKey',
    );
  });

  it('keeps every byte value of a binary body', async () => {
    const Key = 'payloads/binary';
    const bytes = new Uint8Array(256).map((_, i) => i);
    await client.send(new s3.PutObjectCommand({ Bucket, Key, Body: bytes, ContentType: 'application/octet-stream' }));
    const got = await client.send(new s3.GetObjectCommand({ Bucket, Key }));
    assert.deepEqual(new Uint8Array(await got.Body.transformToByteArray()), bytes);
  });

  it('lists a prefix page by page', async () => {
    const keys = ['list/a', 'list/b c', 'list/ü+d'];
    for (const Key of keys) await client.send(new s3.PutObjectCommand({ Bucket, Key, Body: Key }));
    await client.send(new s3.PutObjectCommand({ Bucket, Key: 'other/x', Body: 'x' }));
    const found: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(new s3.ListObjectsV2Command({ Bucket, Prefix: 'list/', ContinuationToken: token, MaxKeys: 2 }));
      pages++;
      for (const object of page.Contents ?? []) {
        found.push(object.Key!);
        assert.equal(object.Size, Buffer.byteLength(object.Key!));
        assert.ok(object.LastModified instanceof Date);
        assert.match(object.ETag ?? '', /^".+"$/);
      }
      assert.equal(page.KeyCount, page.Contents?.length ?? 0);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    assert.deepEqual(found.sort(), [...keys].sort());
    assert.equal(pages, 2);
    const none = await client.send(new s3.ListObjectsV2Command({ Bucket, Prefix: 'nothing/' }));
    assert.equal(none.Contents, undefined);
    assert.equal(none.IsTruncated, false);
  });

  it('uploads to a presigned PUT URL and downloads from a presigned GET URL over plain HTTP', async () => {
    const Key = 'corrections/f1/m 1/c1';
    const sign = (method: 'GET' | 'PUT') =>
      presignObjectUrl({
        method,
        bucket: Bucket,
        key: Key,
        region: 'us-east-1',
        endpoint: new URL(emulator.endpoint),
        credentials: local,
        expiresInSeconds: 300,
        signingDate: new Date(Math.floor(Date.now() / 1000) * 1000),
      });
    const upload = await fetch(await sign('PUT'), { method: 'PUT', body: 'corrected payload', headers: { 'content-type': 'text/csv' } });
    assert.equal(upload.status, 200, await upload.text());
    const head = await client.send(new s3.HeadObjectCommand({ Bucket, Key }));
    assert.equal(head.ContentType, 'text/csv');

    const download = await fetch(await sign('GET'));
    assert.equal(download.status, 200);
    assert.equal(await download.text(), 'corrected payload');
  });
});
