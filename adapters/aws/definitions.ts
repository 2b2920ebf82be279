/**
 * The one source of truth for Sluice's storage and queue shapes.
 *
 * Both the CDK construct (`SluiceGateway`) and local mode (`local/provision.ts`)
 * build their table, queues and bucket from these plain objects, so a key,
 * index or queue attribute cannot drift between AWS and the developer machine.
 * It is runtime code (handlers read the queue's visibility timeout, the bucket's
 * prefixes and their environment names here), so it lives with the adapters and
 * imports nothing: never aws-cdk-lib, which only `infra/` may use.
 */

export type AttributeType = 'S' | 'N';

export interface KeyDefinition {
  readonly name: string;
  readonly type: AttributeType;
}

export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyDefinition;
  readonly sortKey: KeyDefinition;
}

export interface TableDefinition {
  readonly partitionKey: KeyDefinition;
  readonly sortKey: KeyDefinition;
  /** Attribute holding an epoch-seconds expiry (flow log entries, idempotency leftovers). */
  readonly timeToLiveAttribute: string;
  readonly globalSecondaryIndexes: readonly IndexDefinition[];
  /** The table's change stream: flow counts are derived from it, off the write path. */
  readonly stream: 'NEW_AND_OLD_IMAGES';
}

/**
 * Single table. Generic index attributes let every entity choose how it is listed; a
 * message record never carries them on its happy path (see docs/data-model.md):
 * - gsi1: listings (partners, connections, flows, a flow's failed events)
 * - gsi2: messages pending enqueue (the sweep), deliveries held in flight per connection,
 *   operator re-queues not yet seen by the deliverer
 * - gsi3: all failed events (filtered by connection and type), suspended deliveries per chain
 */
export const TABLE: TableDefinition = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: 'ttl',
  globalSecondaryIndexes: [
    { indexName: 'gsi1', partitionKey: { name: 'gsi1pk', type: 'S' }, sortKey: { name: 'gsi1sk', type: 'S' } },
    { indexName: 'gsi2', partitionKey: { name: 'gsi2pk', type: 'S' }, sortKey: { name: 'gsi2sk', type: 'S' } },
    { indexName: 'gsi3', partitionKey: { name: 'gsi3pk', type: 'S' }, sortKey: { name: 'gsi3sk', type: 'S' } },
  ],
  stream: 'NEW_AND_OLD_IMAGES',
};

export interface QueueDefinition {
  /** Queue name suffix; FIFO queue names must end in `.fifo`. */
  readonly nameSuffix: string;
  readonly fifo: true;
  /** Deduplication ids are set explicitly per delivery, never from the body. */
  readonly contentBasedDeduplication: false;
  /** Seconds a received message stays hidden; must exceed the deliverer's timeout. */
  readonly visibilityTimeoutSeconds: number;
  /** 14 days, the SQS maximum: held traffic must survive long outages. */
  readonly retentionPeriodSeconds: number;
  /**
   * Deduplication and throughput scoped per message group (lane), so lanes of
   * different connections do not share one throughput limit.
   */
  readonly deduplicationScope: 'messageGroup';
  readonly fifoThroughputLimit: 'perMessageGroupId';
}

export const DELIVERY_QUEUE: QueueDefinition = {
  nameSuffix: 'deliveries.fifo',
  fifo: true,
  contentBasedDeduplication: false,
  visibilityTimeoutSeconds: 900,
  retentionPeriodSeconds: 14 * 24 * 3600,
  deduplicationScope: 'messageGroup',
  fifoThroughputLimit: 'perMessageGroupId',
};

/**
 * Dead-letter queue: a last resort for a ticket that fails with internal errors a
 * thousand times in a row. Held and retrying deliveries never reach it: the receive
 * count threshold is far above what 14 days of hourly holds can reach.
 */
export const DEAD_LETTER_QUEUE = {
  nameSuffix: 'deliveries-dlq.fifo',
  fifo: true as const,
  retentionPeriodSeconds: 14 * 24 * 3600,
  /** 14 days of hourly holds is 336 receives; a poison message still ends here. */
  maxReceiveCount: 1000,
};

export interface BucketLifecycleRule {
  readonly id: string;
  /** Objects under this prefix (`''`: every object). */
  readonly prefix?: string;
  /** Objects carrying this tag. */
  readonly tag?: { readonly key: string; readonly value: string };
  /** Days after its creation an object's current version expires. */
  readonly expirationDays?: number;
  /** Days a replaced or deleted version is kept (the bucket is versioned). */
  readonly noncurrentVersionExpirationDays?: number;
  /** Removes delete markers left with no version behind them. */
  readonly removeExpiredDeleteMarkers?: boolean;
}

/**
 * Retention classes of the payload bucket, in days: every day up to 32, then about 10%
 * apart, up to a hundred years. S3 lifecycle rules select objects by tag value, not by a
 * number, and a bucket holds at most 1,000 rules: one rule per class, and an object takes
 * the smallest class that keeps it long enough (at most ~10% longer than needed).
 */
export const RETENTION_CLASS_DAYS: readonly number[] = (() => {
  const classes: number[] = [];
  for (let days = 1; days <= 32; days++) classes.push(days);
  while (classes[classes.length - 1]! < 36_500) classes.push(Math.ceil(classes[classes.length - 1]! * 1.1));
  return classes;
})();

/** The smallest retention class of at least `days`, or undefined when none is that long. */
export function retentionClass(days: number): number | undefined {
  return RETENTION_CLASS_DAYS.find((c) => c >= days);
}

/** The object tag that selects a payload's retention class. */
const RETENTION_TAG = 'sluice-retention-days';

/**
 * Key prefixes in the payload bucket and how long objects under them live.
 *
 * No prefix expires by age: a failed, in-error or suspended delivery keeps its payload for
 * as long as its message is kept (SPEC semantics 16), which has no bound. An object is
 * written without a tag and never expires; when its message becomes final, the stream
 * (services/aggregator.ts) tags it with a retention class, and the class's rule expires
 * it. S3 counts a rule's days from the object's creation, not from its tagging, so the
 * class covers the whole time since the message was received (every object of a message
 * is written after that) up to the record's TTL. This is the cheapest scheme that is
 * correct: an inline payload (the common case) has no object and costs nothing; an object
 * costs one PutObjectTagging request when its message becomes final, and one free
 * DeleteObjectTagging if a replay takes the message up again. A copy to a retention prefix
 * would restart the age but cost the same request, plus a second version of the object
 * for as long as the bucket keeps noncurrent versions.
 */
export const BUCKET = {
  prefixes: {
    /** Claim-check payloads of accepted messages larger than the inline limit. */
    payloads: 'payloads/',
    /** Payloads of failed deliveries, kept for operators. */
    failed: 'failed/',
    /** Corrected payloads uploaded by operators through presigned URLs. */
    corrections: 'corrections/',
  },
  retentionTag: RETENTION_TAG,
  lifecycleRules: [
    // Replaced versions (a payload written again, a consumed correction) and the delete
    // markers left by expiry go after 30 days.
    { id: 'expire-noncurrent-versions', prefix: '', noncurrentVersionExpirationDays: 30, removeExpiredDeleteMarkers: true },
    ...RETENTION_CLASS_DAYS.map((days) => ({
      id: `retention-${days}d`,
      tag: { key: RETENTION_TAG, value: String(days) },
      expirationDays: days,
    })),
  ] satisfies BucketLifecycleRule[] as readonly BucketLifecycleRule[],
} as const;

/**
 * The stream mapping that feeds the counts aggregator. Each batch costs one counts update and
 * one listing page per flow it touches, so a longer window makes them cheaper per message
 * (the bench counts them) and makes counts and the message listing trail the records by up to
 * about that long.
 */
export const COUNTS_STREAM = {
  batchSize: 1000,
  batchingWindowSeconds: 5,
} as const;

/** Names used in local mode, where there is one gateway per machine. */
export const LOCAL_RESOURCE_NAMES = {
  tableName: 'sluice-local',
  queueName: `sluice-local-${DELIVERY_QUEUE.nameSuffix}`,
  deadLetterQueueName: `sluice-local-${DEAD_LETTER_QUEUE.nameSuffix}`,
  bucketName: 'sluice-local-payloads',
} as const;

/** Environment variables through which every handler learns its resources. */
export const ENVIRONMENT = {
  tableName: 'SLUICE_TABLE_NAME',
  queueUrl: 'SLUICE_QUEUE_URL',
  bucketName: 'SLUICE_BUCKET_NAME',
  eventBusName: 'SLUICE_EVENT_BUS_NAME',
  probeFunctionArn: 'SLUICE_PROBER_ARN',
  schedulerRoleArn: 'SLUICE_SCHEDULER_ROLE_ARN',
  scheduleGroupName: 'SLUICE_SCHEDULE_GROUP',
  credentialsKeyId: 'SLUICE_CREDENTIALS_KEY_ID',
  allowPrivateTargets: 'SLUICE_ALLOW_PRIVATE_TARGETS',
  localMode: 'SLUICE_LOCAL_MODE',
  /** Seconds ingest may reuse a read API key, flow or connection (0: never). @default 5 */
  configCacheSeconds: 'SLUICE_CONFIG_CACHE_SECONDS',
  /** `false` when the stack turns tracing off: the functions send no X-Ray subsegments. @default on */
  tracing: 'SLUICE_TRACING',
} as const;
