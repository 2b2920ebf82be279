import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { startFauxqs } from 'fauxqs';
import { mirrorS3 } from '../../local/s3-mirror';
import { ObjectTags, TaggingInstallError, withObjectTagging } from '../../local/s3-tagging';

/** The embedded emulator (no JVM) with object tagging, and the S3 mirror when a directory is given, as local mode runs them. */
async function start(tags: ObjectTags, mirrorDirectory?: string) {
  const server = await withObjectTagging(
    tags,
    () => startFauxqs({ port: 0, host: '127.0.0.1', logger: false, ...(mirrorDirectory ? { messageSpies: { bufferSize: 1 } } : {}) }),
    (s) => s.stop(),
  );
  const mirror = mirrorDirectory ? await mirrorS3(server, { directory: mirrorDirectory }) : undefined;
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${server.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    forcePathStyle: true,
  });
  server.createBucket('bucket');
  return {
    s3,
    stop: async () => {
      await mirror?.close();
      await tags.flush();
      s3.destroy();
      await server.stop();
    },
  };
}

const tagsOf = async (s3: S3Client, key: string) => (await s3.send(new GetObjectTaggingCommand({ Bucket: 'bucket', Key: key }))).TagSet;
const tag = (s3: S3Client, key: string, value: string) =>
  s3.send(
    new PutObjectTaggingCommand({ Bucket: 'bucket', Key: key, Tagging: { TagSet: [{ Key: 'sluice-retention-days', Value: value }] } }),
  );

describe('object tagging on the S3 emulator', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-tags-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the tagging calls as S3 does and leaves the object alone (fauxqs alone would overwrite it)', async () => {
    const { s3, stop } = await start(new ObjectTags());
    try {
      const key = 'payloads/orders/m 1:a';
      await s3.send(new PutObjectCommand({ Bucket: 'bucket', Key: key, Body: 'payload', ContentType: 'text/plain' }));
      assert.deepEqual(await tagsOf(s3, key), []);
      await tag(s3, key, '31');
      assert.deepEqual(await tagsOf(s3, key), [{ Key: 'sluice-retention-days', Value: '31' }]);
      const object = await s3.send(new GetObjectCommand({ Bucket: 'bucket', Key: key }));
      assert.equal(await object.Body!.transformToString(), 'payload');
      assert.equal(object.ContentType, 'text/plain');

      await s3.send(new DeleteObjectTaggingCommand({ Bucket: 'bucket', Key: key }));
      assert.deepEqual(await tagsOf(s3, key), []);

      // A new version of the object has no tags, as on S3.
      await tag(s3, key, '31');
      await s3.send(new PutObjectCommand({ Bucket: 'bucket', Key: key, Body: 'corrected' }));
      assert.deepEqual(await tagsOf(s3, key), []);

      for (const call of [() => tag(s3, 'missing', '1'), () => tagsOf(s3, 'missing')]) {
        await assert.rejects(call(), (error: Error) => error.name === 'NoSuchKey');
      }
    } finally {
      await stop();
    }
  });

  it('keeps the tags with the objects across a restart of local mode', async () => {
    const file = join(dir, 's3-tags.json');
    const objects = join(dir, 's3');
    const first = await start(new ObjectTags(file), objects);
    await first.s3.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'failed/orders/m1/erp', Body: 'kept' }));
    await tag(first.s3, 'failed/orders/m1/erp', '8');
    await first.stop();

    const second = await start(new ObjectTags(file), objects);
    try {
      assert.deepEqual(await tagsOf(second.s3, 'failed/orders/m1/erp'), [{ Key: 'sluice-retention-days', Value: '8' }]);
    } finally {
      await second.stop();
    }
  });

  it('refuses to start an emulator it could not add tagging to', async () => {
    let stopped = false;
    await assert.rejects(
      withObjectTagging(
        new ObjectTags(),
        async () => 'no server',
        async () => {
          stopped = true;
        },
      ),
      TaggingInstallError,
    );
    assert.equal(stopped, true);
  });
});
