/**
 * Storage builder: the table, the delivery queue and its dead-letter queue, the payload
 * bucket and its access-log bucket, the credentials key and the operational event bus.
 * Every shape (keys, indexes, TTL attribute, queue attributes, lifecycle rules) comes
 * from `adapters/aws/definitions.ts`, the single source of truth shared with local mode.
 */
import {
  Duration,
  Names,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_iam as iam,
  aws_kms as kms,
  aws_s3 as s3,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import {
  BUCKET,
  DEAD_LETTER_QUEUE,
  DELIVERY_QUEUE,
  TABLE,
  type AttributeType,
  type BucketLifecycleRule,
  type QueueDefinition,
} from '../adapters/aws/definitions';
import type { ResolvedProps } from './props';

/** Days a replaced or deleted access log version stays in its versioned bucket. */
const NONCURRENT_VERSION_DAYS = 30;

const ATTRIBUTE_TYPES: Record<AttributeType, dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
};

const DEDUPLICATION_SCOPES: Record<QueueDefinition['deduplicationScope'], sqs.DeduplicationScope> = {
  messageGroup: sqs.DeduplicationScope.MESSAGE_GROUP,
};

const FIFO_THROUGHPUT_LIMITS: Record<QueueDefinition['fifoThroughputLimit'], sqs.FifoThroughputLimit> = {
  perMessageGroupId: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
};

export interface Storage {
  readonly table: dynamodb.Table;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly bucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly credentialsKey: kms.Key;
  readonly eventBus: events.EventBus;
}

/** A unique, deterministic queue name ending in the suffix from the definitions (SQS names: ≤ 80 chars). */
function queueName(scope: Construct, suffix: string): string {
  const prefix = Names.uniqueResourceName(scope, { maxLength: 80 - suffix.length - 1, separator: '-' });
  return `${prefix}-${suffix}`;
}

function buildTable(scope: Construct, props: ResolvedProps): dynamodb.Table {
  const table = new dynamodb.Table(scope, 'Table', {
    partitionKey: { name: TABLE.partitionKey.name, type: ATTRIBUTE_TYPES[TABLE.partitionKey.type] },
    sortKey: { name: TABLE.sortKey.name, type: ATTRIBUTE_TYPES[TABLE.sortKey.type] },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: TABLE.timeToLiveAttribute,
    stream: dynamodb.StreamViewType[TABLE.stream],
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    deletionProtection: !props.destroy,
    removalPolicy: props.removalPolicy,
  });
  for (const index of TABLE.globalSecondaryIndexes) {
    table.addGlobalSecondaryIndex({
      indexName: index.indexName,
      partitionKey: { name: index.partitionKey.name, type: ATTRIBUTE_TYPES[index.partitionKey.type] },
      sortKey: { name: index.sortKey.name, type: ATTRIBUTE_TYPES[index.sortKey.type] },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
  return table;
}

function buildQueues(scope: Construct, props: ResolvedProps): Pick<Storage, 'queue' | 'deadLetterQueue'> {
  const deadLetterQueue = new sqs.Queue(scope, 'DeadLetterQueue', {
    queueName: queueName(scope, DEAD_LETTER_QUEUE.nameSuffix),
    fifo: DEAD_LETTER_QUEUE.fifo,
    retentionPeriod: Duration.seconds(DEAD_LETTER_QUEUE.retentionPeriodSeconds),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    // Queued deliveries are accepted messages: they outlive the stack like the table does.
    removalPolicy: props.removalPolicy,
  });
  const queue = new sqs.Queue(scope, 'DeliveryQueue', {
    queueName: queueName(scope, DELIVERY_QUEUE.nameSuffix),
    fifo: DELIVERY_QUEUE.fifo,
    contentBasedDeduplication: DELIVERY_QUEUE.contentBasedDeduplication,
    deduplicationScope: DEDUPLICATION_SCOPES[DELIVERY_QUEUE.deduplicationScope],
    fifoThroughputLimit: FIFO_THROUGHPUT_LIMITS[DELIVERY_QUEUE.fifoThroughputLimit],
    visibilityTimeout: Duration.seconds(DELIVERY_QUEUE.visibilityTimeoutSeconds),
    retentionPeriod: Duration.seconds(DELIVERY_QUEUE.retentionPeriodSeconds),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: DEAD_LETTER_QUEUE.maxReceiveCount },
    removalPolicy: props.removalPolicy,
  });
  return { queue, deadLetterQueue };
}

/** A rule of the payload bucket, from its definition. */
function lifecycleRule(rule: BucketLifecycleRule): s3.LifecycleRule {
  return {
    id: rule.id,
    ...(rule.prefix ? { prefix: rule.prefix } : {}),
    ...(rule.tag ? { tagFilters: { [rule.tag.key]: rule.tag.value } } : {}),
    ...(rule.expirationDays !== undefined ? { expiration: Duration.days(rule.expirationDays) } : {}),
    ...(rule.noncurrentVersionExpirationDays !== undefined
      ? { noncurrentVersionExpiration: Duration.days(rule.noncurrentVersionExpirationDays) }
      : {}),
    ...(rule.removeExpiredDeleteMarkers ? { expiredObjectDeleteMarker: true } : {}),
  };
}

function buildBuckets(scope: Construct, props: ResolvedProps): Pick<Storage, 'bucket' | 'accessLogsBucket'> {
  // Versioned buckets keep a replaced or deleted object for a while, then drop it.
  const noncurrentVersionExpiration = Duration.days(NONCURRENT_VERSION_DAYS);
  const accessLogsBucket = new s3.Bucket(scope, 'AccessLogsBucket', {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    // S3 server access logging delivers only to targets encrypted with SSE-S3.
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    versioned: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365), noncurrentVersionExpiration }],
    removalPolicy: props.removalPolicy,
    autoDeleteObjects: props.destroy,
  });
  const bucket = new s3.Bucket(scope, 'PayloadBucket', {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    // Partner payloads under KMS (the account's aws/s3 key, so presigned URLs signed by
    // the operator need no key grants); bucket keys keep KMS requests per object low.
    encryption: s3.BucketEncryption.KMS_MANAGED,
    bucketKeyEnabled: true,
    enforceSSL: true,
    // An operator's upload or a lifecycle slip can be undone for a while.
    versioned: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    serverAccessLogsBucket: accessLogsBucket,
    serverAccessLogsPrefix: 'payload-bucket/',
    // Payloads expire by retention tag only (see BUCKET): never while their message is kept.
    lifecycleRules: BUCKET.lifecycleRules.map(lifecycleRule),
    removalPolicy: props.removalPolicy,
    autoDeleteObjects: props.destroy,
  });
  return { bucket, accessLogsBucket };
}

function buildCredentialsKey(scope: Construct, props: ResolvedProps): kms.Key {
  const key = new kms.Key(scope, 'CredentialsKey', {
    description: 'Sluice: encrypts connection credentials and signing secrets at rest',
    enableKeyRotation: true,
    removalPolicy: props.removalPolicy,
  });
  // Nothing creates grants on this key; only AWS services acting for a principal may.
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyGrantsExceptForAwsServices',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    }),
  );
  return key;
}

/** Everything stateful the gateway keeps, plus the event bus it publishes on. */
export function buildStorage(scope: Construct, props: ResolvedProps): Storage {
  return {
    table: buildTable(scope, props),
    ...buildQueues(scope, props),
    ...buildBuckets(scope, props),
    credentialsKey: buildCredentialsKey(scope, props),
    eventBus: new events.EventBus(scope, 'EventBus', {
      description: 'Sluice operational events (message failed, connection offline/online, flow paused/resumed/stopped)',
    }),
  };
}
