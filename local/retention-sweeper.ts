import { DeleteObjectCommand, GetObjectTaggingCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { BatchWriteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { BUCKET, TABLE } from '../adapters/aws/definitions';
import type { Runtime } from '../adapters/runtime';
import type { SdkClients } from './sdk-clients';
import { isMissing } from '../adapters/aws/payload-store';

/**
 * What AWS does on its own for retention (SPEC semantics 16), done in local mode: DynamoDB
 * Local keeps items past their TTL, and the S3 emulator applies no lifecycle rules. The
 * local gateway runs it every hour and at start.
 *
 * - Table: deletes every item whose TTL has passed (message records, their spilled
 *   reports, flow log entries). As on AWS the deletions reach the stream, so the flow's
 *   counts drop the messages that go.
 * - Bucket: deletes every object whose retention tag's rule has run out, counting from the
 *   object's last write as S3 counts from its creation. (The emulator's objects are written
 *   again when local mode restores them at start, so a restart starts their age afresh.)
 */
export interface SweepResult {
  items: number;
  objects: number;
}

const DAY_MS = 24 * 3600 * 1000;
/** The days each retention tag value keeps an object, from the bucket's rules. */
const TAG_RULES = new Map(
  BUCKET.lifecycleRules
    .filter((rule) => rule.tag && rule.expirationDays !== undefined)
    .map((rule) => [rule.tag!.value, rule.expirationDays!]),
);

async function sweepTable(runtime: Runtime, { documents }: SdkClients, now: Date): Promise<number> {
  const tableName = runtime.config.tableName;
  let deleted = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: '#ttl < :now',
        ProjectionExpression: 'pk, sk',
        ExpressionAttributeNames: { '#ttl': TABLE.timeToLiveAttribute },
        ExpressionAttributeValues: { ':now': Math.floor(now.getTime() / 1000) },
        ExclusiveStartKey: start,
      }),
    );
    const keys = (page.Items ?? []).map((item) => ({ pk: item.pk, sk: item.sk }));
    for (let i = 0; i < keys.length; i += 25) {
      let pending = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
      while (pending.length > 0) {
        const result = await documents.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
        pending = (result.UnprocessedItems?.[tableName] ?? []) as typeof pending;
      }
    }
    deleted += keys.length;
    start = page.LastEvaluatedKey;
  } while (start);
  return deleted;
}

async function sweepBucket(runtime: Runtime, { s3 }: SdkClients, now: Date): Promise<number> {
  const bucket = runtime.config.bucketName;
  let deleted = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      if (!object.Key || !object.LastModified) continue;
      let tags: { Key?: string; Value?: string }[];
      try {
        ({ TagSet: tags = [] } = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: object.Key })));
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      const days = TAG_RULES.get(tags.find((tag) => tag.Key === BUCKET.retentionTag)?.Value ?? '');
      if (days === undefined || object.LastModified.getTime() + days * DAY_MS > now.getTime()) continue;
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
      deleted += 1;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return deleted;
}

/** Deletes what retention let go of by `now` (the runtime's clock by default). */
export async function sweepExpired(runtime: Runtime, clients: SdkClients, now: Date = runtime.clock.now()): Promise<SweepResult> {
  const [items, objects] = await Promise.all([sweepTable(runtime, clients, now), sweepBucket(runtime, clients, now)]);
  if (items > 0 || objects > 0) runtime.logger.info('retention sweep', { items, objects });
  return { items, objects };
}
