import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { FauxqsServer, S3SpyEvent, SpyMessage } from 'fauxqs';
import { LOCAL_CREDENTIALS } from '../adapters/aws/clients';

/**
 * Keeps the S3 objects of the embedded emulator in a directory, so failed and large
 * payloads survive a restart of local mode.
 *
 * fauxqs keeps everything in memory and has no persistence option (its README lists
 * "persistence across restarts" under limitations). It does report every object write
 * and delete to its message spy, synchronously and in order, whichever way the write
 * came in (SDK, presigned PUT or POST, multipart). The mirror listens there and copies
 * each written object to disk through the emulator's own S3 API, one event at a time,
 * so the directory follows the bucket in order. What is lost on a hard kill is only
 * the copies still in flight (milliseconds' worth); a clean stop waits for them.
 *
 * Layout: `<directory>/<bucket>/<sha256 of key>.object`, a JSON header line
 * `{ key, contentType, metadata }` followed by the object's bytes, written to a
 * temporary file and renamed so a crash never leaves half an object.
 */
export interface S3Mirror {
  /** Objects restored into the emulator at start. */
  readonly restored: number;
  /** Resolves once every write reported so far is on disk. */
  flush(): Promise<void>;
  /** Flushes, then lets go of the emulator. */
  close(): Promise<void>;
}

export interface S3MirrorOptions {
  /** Where the objects are kept. */
  directory: string;
  /** Told of a write that could not be copied (the mirror carries on). @default ignored */
  onError?: (error: unknown, event: S3SpyEvent) => void;
}

interface ObjectHeader {
  key: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

const SUFFIX = '.object';

function fileName(key: string): string {
  return `${createHash('sha256').update(key).digest('hex')}${SUFFIX}`;
}

/** The spy's internal recorder; `server.spy` exposes only the reader side of the same object. */
interface SpyRecorder {
  addMessage(message: SpyMessage): void;
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

async function restore(server: FauxqsServer, s3: S3Client, directory: string): Promise<number> {
  let restored = 0;
  const buckets = await readdir(directory, { withFileTypes: true }).catch(() => []);
  for (const bucket of buckets.filter((entry) => entry.isDirectory())) {
    server.createBucket(bucket.name);
    const files = (await readdir(join(directory, bucket.name))).filter((name) => name.endsWith(SUFFIX));
    for (const name of files) {
      const content = await readFile(join(directory, bucket.name, name));
      const newline = content.indexOf(0x0a);
      if (newline < 0) continue;
      const header = JSON.parse(content.subarray(0, newline).toString('utf8')) as ObjectHeader;
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket.name,
          Key: header.key,
          Body: content.subarray(newline + 1),
          ...(header.contentType ? { ContentType: header.contentType } : {}),
          ...(header.metadata && Object.keys(header.metadata).length > 0 ? { Metadata: header.metadata } : {}),
        }),
      );
      restored++;
    }
  }
  return restored;
}

/**
 * Restores the objects kept in `options.directory` into `server` (creating their
 * buckets), then keeps every later write and delete there. `server` must have been
 * started with `messageSpies` enabled.
 */
export async function mirrorS3(server: FauxqsServer, options: S3MirrorOptions): Promise<S3Mirror> {
  const { directory } = options;
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${server.port}`,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
  });
  await mkdir(directory, { recursive: true, mode: 0o700 });
  // Before the hook: restoring must not write the same files again.
  const restored = await restore(server, s3, directory);

  const copy = async (event: S3SpyEvent) => {
    const bucketDir = join(directory, event.bucket);
    const file = join(bucketDir, fileName(event.key));
    if (event.status === 'deleted') {
      await rm(file, { force: true });
      return;
    }
    let object;
    try {
      object = await s3.send(new GetObjectCommand({ Bucket: event.bucket, Key: event.key }));
    } catch (error) {
      // Deleted since: its own 'deleted' event follows and removes the file.
      if (isMissing(error)) return;
      throw error;
    }
    const body = Buffer.from(await object.Body!.transformToByteArray());
    const header: ObjectHeader = {
      key: event.key,
      ...(object.ContentType ? { contentType: object.ContentType } : {}),
      ...(object.Metadata && Object.keys(object.Metadata).length > 0 ? { metadata: object.Metadata } : {}),
    };
    await mkdir(bucketDir, { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), body]), { mode: 0o600 });
    await rename(temporary, file);
  };

  let chain: Promise<void> = Promise.resolve();
  const recorder = server.spy as unknown as SpyRecorder;
  const record = recorder.addMessage.bind(recorder);
  recorder.addMessage = (message) => {
    record(message);
    // A copy is reported as 'uploaded' too (then 'copied'); reads are of no interest.
    if (message.service !== 's3' || (message.status !== 'uploaded' && message.status !== 'deleted')) return;
    // One at a time, in the order the emulator applied them.
    chain = chain.then(() => copy(message)).catch((error) => options.onError?.(error, message));
  };
  const flush = async () => {
    let seen: Promise<void>;
    do {
      seen = chain;
      await seen;
    } while (seen !== chain);
  };
  return {
    restored,
    flush,
    close: async () => {
      await flush();
      s3.destroy();
    },
  };
}
