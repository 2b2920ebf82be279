import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startFauxqs } from 'fauxqs';
import { mirrorS3 } from '../../local/s3-mirror';

/** The embedded SQS/S3 emulator (in process, no JVM) with the mirror on `directory`, as local mode runs it. */
async function start(directory: string) {
  const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false, messageSpies: { bufferSize: 1 } });
  const mirror = await mirrorS3(server, { directory });
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${server.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    forcePathStyle: true,
  });
  const stop = async () => {
    await mirror.close();
    s3.destroy();
    await server.stop();
  };
  return { server, mirror, s3, stop };
}

async function read(s3: S3Client, bucket: string, key: string) {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { body: Buffer.from(await object.Body!.transformToByteArray()), contentType: object.ContentType, metadata: object.Metadata };
}

async function keys(s3: S3Client, bucket: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

let workDir: string;
const running: { stop(): Promise<void> }[] = [];

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'sluice-s3-mirror-'));
});

after(async () => {
  for (const emulator of running) await emulator.stop().catch(() => undefined);
  await rm(workDir, { recursive: true, force: true });
});

describe('the S3 mirror of local mode', () => {
  it('brings back, after a restart of the emulator, every object as last written and none that was deleted', async () => {
    const directory = join(workDir, 's3');
    const first = await start(directory);
    running.push(first);
    assert.equal(first.mirror.restored, 0);
    first.server.createBucket('payloads');
    const binary = Buffer.from([0, 10, 13, 255, 0x7b, 10]);
    await first.s3.send(
      new PutObjectCommand({
        Bucket: 'payloads',
        Key: 'failed/orders/A-1/erp',
        Body: binary,
        ContentType: 'application/octet-stream',
        Metadata: { sha256: 'abc' },
      }),
    );
    await first.s3.send(
      new PutObjectCommand({ Bucket: 'payloads', Key: 'payloads/orders/A-2', Body: 'first version', ContentType: 'text/plain' }),
    );
    await first.s3.send(
      new PutObjectCommand({ Bucket: 'payloads', Key: 'payloads/orders/A-2', Body: 'second version', ContentType: 'text/csv' }),
    );
    await first.s3.send(new PutObjectCommand({ Bucket: 'payloads', Key: 'payloads/orders/gone', Body: 'x' }));
    await first.s3.send(new DeleteObjectCommand({ Bucket: 'payloads', Key: 'payloads/orders/gone' }));
    await first.s3.send(new PutObjectCommand({ Bucket: 'payloads', Key: 'payloads/orders/gone-too', Body: 'x' }));
    await first.s3.send(new DeleteObjectsCommand({ Bucket: 'payloads', Delete: { Objects: [{ Key: 'payloads/orders/gone-too' }] } }));
    await first.s3.send(new CopyObjectCommand({ Bucket: 'payloads', Key: 'copies/A-2', CopySource: 'payloads/payloads/orders/A-2' }));
    // An operator's upload comes in through a presigned URL, not through the SDK.
    const url = await getSignedUrl(
      first.s3,
      new PutObjectCommand({ Bucket: 'payloads', Key: 'corrections/orders/A-1/erp', ContentType: 'application/json' }),
      { expiresIn: 60 },
    );
    assert.equal((await fetch(url, { method: 'PUT', body: '{"qty":7}', headers: { 'content-type': 'application/json' } })).status, 200);
    // Keys of any shape: the file name does not depend on them.
    const odd = `odd/${'ü/'.repeat(200)}end`;
    await first.s3.send(new PutObjectCommand({ Bucket: 'payloads', Key: odd, Body: 'odd' }));
    const expected = await keys(first.s3, 'payloads');
    await first.stop();
    assert.equal((await readdir(join(directory, 'payloads'))).length, expected.length, 'one file per object');

    const second = await start(directory);
    running.push(second);
    assert.equal(second.mirror.restored, expected.length);
    assert.deepEqual(await keys(second.s3, 'payloads'), expected);
    assert.deepEqual(await read(second.s3, 'payloads', 'failed/orders/A-1/erp'), {
      body: binary,
      contentType: 'application/octet-stream',
      metadata: { sha256: 'abc' },
    });
    assert.deepEqual(await read(second.s3, 'payloads', 'payloads/orders/A-2'), {
      body: Buffer.from('second version'),
      contentType: 'text/csv',
      metadata: {},
    });
    assert.equal((await read(second.s3, 'payloads', 'copies/A-2')).body.toString(), 'second version');
    assert.equal((await read(second.s3, 'payloads', 'corrections/orders/A-1/erp')).body.toString(), '{"qty":7}');
    assert.equal((await read(second.s3, 'payloads', odd)).body.toString(), 'odd');

    // The restore itself wrote nothing twice, and later deletes still reach the disk.
    await second.s3.send(new DeleteObjectCommand({ Bucket: 'payloads', Key: 'copies/A-2' }));
    await second.mirror.flush();
    assert.equal((await readdir(join(directory, 'payloads'))).length, expected.length - 1);
    await second.stop();

    const third = await start(directory);
    running.push(third);
    assert.deepEqual(
      await keys(third.s3, 'payloads'),
      expected.filter((key) => key !== 'copies/A-2'),
    );
    await third.stop();
  });
});
