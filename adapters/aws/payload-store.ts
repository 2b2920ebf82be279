import {
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
} from './protocol/s3';
import type { AwsClient } from './protocol/client';
import type { PayloadStore } from '../../core/ports';
import { BUCKET, retentionClass } from './definitions';

const DAY_MS = 24 * 3600 * 1000;

/** What HeadObject says about a stored object. */
export interface ObjectHead {
  bytes: number;
  contentType?: string;
  etag?: string;
}

/** True for S3's answer about an object (or bucket) that does not exist. */
export function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

export class S3PayloadStore implements PayloadStore {
  constructor(
    private readonly s3: AwsClient,
    readonly bucketName: string,
  ) {}

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucketName, Key: key, Body: body, ContentType: contentType }));
  }

  async get(key: string): Promise<Buffer> {
    const result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucketName, Key: key }));
    return Buffer.from(await result.Body!.transformToByteArray());
  }

  /** Size and type of an object, or undefined when there is none. */
  async head(key: string): Promise<ObjectHead | undefined> {
    try {
      const result = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucketName, Key: key }));
      return {
        bytes: result.ContentLength ?? 0,
        ...(result.ContentType ? { contentType: result.ContentType } : {}),
        ...(result.ETag ? { etag: result.ETag } : {}),
      };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /**
   * Reads at most `maxBytes` bytes of a non-empty object (a ranged GET, so an
   * oversized upload is never loaded whole), pinned to `etag` when given: an object
   * replaced since it was inspected is refused by S3 (412). Undefined when missing.
   */
  async getRange(
    key: string,
    maxBytes: number,
    etag?: string,
  ): Promise<{ body: Buffer; totalBytes: number; contentType?: string } | undefined> {
    try {
      const result = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucketName, Key: key, Range: `bytes=0-${maxBytes - 1}`, ...(etag ? { IfMatch: etag } : {}) }),
      );
      const body = Buffer.from(await result.Body!.transformToByteArray());
      const total = /\/(\d+)$/.exec(result.ContentRange ?? '')?.[1];
      return {
        body,
        totalBytes: total !== undefined ? Number(total) : body.length,
        ...(result.ContentType ? { contentType: result.ContentType } : {}),
      };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucketName, Key: key }));
  }

  /** Every key under a prefix. */
  async listKeys(prefix: string): Promise<string[]> {
    const found: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucketName, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key) found.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  /**
   * Lets the bucket expire an object no sooner than `until` (see BUCKET): tags it with the
   * smallest retention class that covers the time from `createdAfter` (a moment before the
   * object was written) to `until`, since S3 counts a rule's days from the object's creation.
   * False when the object is gone or no class is long enough (it is then kept).
   */
  async expireAfter(key: string, until: Date, createdAfter: Date): Promise<boolean> {
    const days = retentionClass(Math.max(1, Math.ceil((until.getTime() - createdAfter.getTime()) / DAY_MS)));
    if (days === undefined) return false;
    try {
      await this.s3.send(
        new PutObjectTaggingCommand({
          Bucket: this.bucketName,
          Key: key,
          Tagging: { TagSet: [{ Key: BUCKET.retentionTag, Value: String(days) }] },
        }),
      );
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /** Keeps an object until it is tagged again: removes its retention class (a free request). */
  async keep(key: string): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectTaggingCommand({ Bucket: this.bucketName, Key: key }));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  /** The retention class an object is tagged with (days), undefined when it is kept; throws when it is missing. */
  async retentionDays(key: string): Promise<number | undefined> {
    const { TagSet = [] } = await this.s3.send(new GetObjectTaggingCommand({ Bucket: this.bucketName, Key: key }));
    const tag = TagSet.find((t) => t.Key === BUCKET.retentionTag);
    return tag?.Value !== undefined ? Number(tag.Value) : undefined;
  }
}
