import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { DEAD_LETTER_QUEUE, DELIVERY_QUEUE, TABLE, type TableDefinition } from '../adapters/aws/definitions';
import { keys } from '../adapters/aws/keys';
import { RECORD_FORMAT } from '../adapters/aws/record-codec';

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

/** A kept table that this version of Sluice cannot use as it is. */
export class LocalTableMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalTableMismatchError';
  }
}

const errorName = (error: unknown) => (error as { name?: string } | undefined)?.name;

async function describeTable(dynamodb: DynamoDBClient, tableName: string): Promise<TableDescription> {
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  return Table!;
}

/**
 * Checks that a table kept from an earlier run (a data directory) matches TABLE: the same
 * keys and every index.
 */
async function checkKeptTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  const wanted = createTableInput(tableName);
  const table = await describeTable(dynamodb, tableName);
  const keys = (schema: { AttributeName?: string; KeyType?: string }[] = []) =>
    schema.map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
  if (keys(table.KeySchema) !== keys(wanted.KeySchema)) {
    throw new LocalTableMismatchError(
      `The kept table ${tableName} has the keys ${keys(table.KeySchema)}, this version needs ${keys(wanted.KeySchema)}. ` +
        'Start with another data directory (SLUICE_DATA_DIR), or delete this one to start empty.',
    );
  }
  // DynamoDB Local does not reliably finish building an index added to a kept table, and
  // there is no earlier release of the data directory to carry forward: refuse clearly.
  const existing = new Set((table.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  const missing = wanted.GlobalSecondaryIndexes.filter((i) => !existing.has(i.IndexName)).map((i) => i.IndexName);
  if (missing.length > 0) {
    throw new LocalTableMismatchError(
      `The kept table ${tableName} lacks the indexes ${missing.join(', ')} that this version needs. ` +
        'Start with another data directory (SLUICE_DATA_DIR), or delete this one to start empty.',
    );
  }
}

const RECORD_FORMAT_KEY = { pk: { S: keys.recordFormat.pk }, sk: { S: keys.recordFormat.sk } };

async function markRecordFormat(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: { ...RECORD_FORMAT_KEY, format: { N: String(RECORD_FORMAT) } } }));
}

/** Whether the table holds any message record (a scan that stops at the first one). */
async function holdsMessages(dynamodb: DynamoDBClient, tableName: string): Promise<boolean> {
  let start: Record<string, never> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'sk = :message AND begins_with(pk, :prefix)',
        ExpressionAttributeValues: { ':message': { S: keys.message('', '').sk }, ':prefix': { S: 'MSG#' } },
        ProjectionExpression: 'pk',
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    if ((page.Items ?? []).length > 0) return true;
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return false;
}

/**
 * Checks that a kept table's message records are spelled the way this version reads them
 * (adapters/aws/record-codec.ts): a table from a version that spelled them otherwise would be
 * misread, so it is refused. A kept table without messages is simply marked.
 */
async function checkRecordFormat(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  const { Item } = await dynamodb.send(new GetItemCommand({ TableName: tableName, Key: RECORD_FORMAT_KEY, ConsistentRead: true }));
  const format = Item?.format?.N !== undefined ? Number(Item.format.N) : undefined;
  if (format === RECORD_FORMAT) return;
  if (format === undefined && !(await holdsMessages(dynamodb, tableName))) return markRecordFormat(dynamodb, tableName);
  const found =
    format === undefined
      ? 'holds messages written by an earlier version, in a record format this version does not read'
      : `holds messages in record format ${format}; this version reads format ${RECORD_FORMAT}`;
  throw new LocalTableMismatchError(
    `The kept table ${tableName} ${found}. Start with another data directory (SLUICE_DATA_DIR), or delete this one to start empty.`,
  );
}

/**
 * The table's change stream (the counts aggregator reads it), turned on for a table kept
 * from a version that had none.
 */
async function tableStream(dynamodb: DynamoDBClient, tableName: string): Promise<string> {
  const table = await describeTable(dynamodb, tableName);
  if (table.StreamSpecification?.StreamEnabled && table.LatestStreamArn) return table.LatestStreamArn;
  const { TableDescription } = await dynamodb.send(
    new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE.stream } }),
  );
  return TableDescription!.LatestStreamArn!;
}

/**
 * Creates the table, queues and bucket of one local gateway, or reuses them when they
 * exist (a table kept in the data directory from an earlier run, emulators that stayed up).
 */
export async function provisionLocalResources(
  clients: { dynamodb: DynamoDBClient; sqs: SQSClient; s3: S3Client },
  names: LocalResourceNames,
): Promise<ProvisionedResources> {
  try {
    await clients.dynamodb.send(new CreateTableCommand(createTableInput(names.tableName)));
    await markRecordFormat(clients.dynamodb, names.tableName);
  } catch (error) {
    if (errorName(error) !== 'ResourceInUseException') throw error;
    await checkKeptTable(clients.dynamodb, names.tableName);
    await checkRecordFormat(clients.dynamodb, names.tableName);
  }
  const ttl = await clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: names.tableName }));
  const { AttributeName, TimeToLiveStatus } = ttl.TimeToLiveDescription ?? {};
  // Enabling it again is an error in DynamoDB ("TimeToLive is already enabled").
  if (!(TimeToLiveStatus === 'ENABLED' && AttributeName === TABLE.timeToLiveAttribute)) {
    await clients.dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: names.tableName,
        TimeToLiveSpecification: { AttributeName: TABLE.timeToLiveAttribute, Enabled: true },
      }),
    );
  }
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
  try {
    await clients.s3.send(new CreateBucketCommand({ Bucket: names.bucketName }));
  } catch (error) {
    // fauxqs answers 200 for a bucket that exists; S3 outside us-east-1 answers this.
    if (errorName(error) !== 'BucketAlreadyOwnedByYou') throw error;
  }
  return {
    tableName: names.tableName,
    streamArn: await tableStream(clients.dynamodb, names.tableName),
    queueUrl: queue.QueueUrl!,
    deadLetterQueueUrl: deadLetter.QueueUrl!,
    bucketName: names.bucketName,
  };
}
