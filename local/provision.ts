import { CreateTableCommand, UpdateTimeToLiveCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { DEAD_LETTER_QUEUE, DELIVERY_QUEUE, TABLE, type TableDefinition } from '../adapters/aws/definitions';

export interface LocalResourceNames {
  tableName: string;
  queueName: string;
  deadLetterQueueName: string;
  bucketName: string;
}

export interface ProvisionedResources {
  tableName: string;
  /** The table's stream, read by the local stream poller. */
  streamArn: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
  bucketName: string;
}

/** DynamoDB CreateTable input derived from the shared table definition. */
export function createTableInput(tableName: string, table: TableDefinition = TABLE) {
  const keys = [table.partitionKey, table.sortKey, ...table.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey])];
  const attributeDefinitions = [...new Map(keys.map((k) => [k.name, k])).values()].map((k) => ({
    AttributeName: k.name,
    AttributeType: k.type,
  }));
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    StreamSpecification: { StreamEnabled: true, StreamViewType: table.stream },
    AttributeDefinitions: attributeDefinitions,
    KeySchema: [
      { AttributeName: table.partitionKey.name, KeyType: 'HASH' as const },
      { AttributeName: table.sortKey.name, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: table.globalSecondaryIndexes.map((index) => ({
      IndexName: index.indexName,
      KeySchema: [
        { AttributeName: index.partitionKey.name, KeyType: 'HASH' as const },
        { AttributeName: index.sortKey.name, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    })),
  };
}

/** SQS CreateQueue attributes derived from the shared queue definitions. */
export function deliveryQueueAttributes(deadLetterQueueArn: string): Record<string, string> {
  return {
    FifoQueue: 'true',
    ContentBasedDeduplication: String(DELIVERY_QUEUE.contentBasedDeduplication),
    VisibilityTimeout: String(DELIVERY_QUEUE.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(DELIVERY_QUEUE.retentionPeriodSeconds),
    DeduplicationScope: DELIVERY_QUEUE.deduplicationScope,
    FifoThroughputLimit: DELIVERY_QUEUE.fifoThroughputLimit,
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: deadLetterQueueArn,
      maxReceiveCount: String(DEAD_LETTER_QUEUE.maxReceiveCount),
    }),
  };
}

/** Creates the table, queues and bucket of one local gateway (idempotent for queues and bucket). */
export async function provisionLocalResources(
  clients: { dynamodb: DynamoDBClient; sqs: SQSClient; s3: S3Client },
  names: LocalResourceNames,
): Promise<ProvisionedResources> {
  const created = await clients.dynamodb.send(new CreateTableCommand(createTableInput(names.tableName)));
  await clients.dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: names.tableName,
      TimeToLiveSpecification: { AttributeName: TABLE.timeToLiveAttribute, Enabled: true },
    }),
  );
  const deadLetter = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: names.deadLetterQueueName,
      Attributes: {
        FifoQueue: 'true',
        MessageRetentionPeriod: String(DEAD_LETTER_QUEUE.retentionPeriodSeconds),
      },
    }),
  );
  const { Attributes } = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetter.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queue = await clients.sqs.send(
    new CreateQueueCommand({ QueueName: names.queueName, Attributes: deliveryQueueAttributes(Attributes!.QueueArn!) }),
  );
  await clients.s3.send(new CreateBucketCommand({ Bucket: names.bucketName }));
  return {
    tableName: names.tableName,
    streamArn: created.TableDescription!.LatestStreamArn!,
    queueUrl: queue.QueueUrl!,
    deadLetterQueueUrl: deadLetter.QueueUrl!,
    bucketName: names.bucketName,
  };
}
