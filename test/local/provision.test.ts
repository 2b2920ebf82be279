import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { startEmulators, type Emulators } from '../../local/emulators';
import { provisionLocalResources, type ProvisionedResources } from '../../local/provision';
import type { SdkClients } from '../../local/sdk-clients';
import { emulatorClients } from '../helpers/emulator-clients';
import { DEAD_LETTER_QUEUE, DELIVERY_QUEUE, LOCAL_RESOURCE_NAMES, TABLE } from '../../adapters/aws/definitions';

/** Java processes started by this test process (DynamoDB Local is spawned as a direct child). */
function ownJavaProcesses(): string[] {
  const lines = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => {
    const [, ppid, ...args] = line.trim().split(/\s+/);
    return Number(ppid) === process.pid && /\bjava\b/.test(args.join(' '));
  });
}

const keySchema = (partitionKey: string, sortKey: string) => [
  { AttributeName: partitionKey, KeyType: 'HASH' },
  { AttributeName: sortKey, KeyType: 'RANGE' },
];

let emulators: Emulators | undefined;
let clients: SdkClients;
let resources: ProvisionedResources;

before(async () => {
  emulators = await startEmulators();
  clients = emulatorClients(emulators);
  resources = await provisionLocalResources(clients, LOCAL_RESOURCE_NAMES);
});

after(async () => {
  if (clients) for (const client of [clients.dynamodb, clients.sqs, clients.s3]) client.destroy();
  await emulators?.stop();
  assert.deepEqual(ownJavaProcesses(), [], 'DynamoDB Local is still running after stop()');
});

describe('provisionLocalResources against the real emulators', () => {
  test('returns the local resource names', () => {
    assert.equal(resources.tableName, LOCAL_RESOURCE_NAMES.tableName);
    assert.equal(resources.bucketName, LOCAL_RESOURCE_NAMES.bucketName);
    assert.ok(resources.queueUrl.endsWith(`/${LOCAL_RESOURCE_NAMES.queueName}`));
    assert.ok(resources.deadLetterQueueUrl.endsWith(`/${LOCAL_RESOURCE_NAMES.deadLetterQueueName}`));
    assert.ok(ownJavaProcesses().length > 0, 'DynamoDB Local should be a child of this process');
  });

  test('the table has the keys, attribute types and indexes of TABLE', async () => {
    const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: resources.tableName }));
    assert.ok(Table);
    assert.deepEqual(Table.KeySchema, keySchema(TABLE.partitionKey.name, TABLE.sortKey.name));

    const keys = [TABLE.partitionKey, TABLE.sortKey, ...TABLE.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey])];
    const expectedTypes = Object.fromEntries(keys.map((k) => [k.name, k.type]));
    const actualTypes = Object.fromEntries((Table.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
    assert.deepEqual(actualTypes, expectedTypes);
    assert.equal(Table.AttributeDefinitions?.length, Object.keys(expectedTypes).length, 'no duplicate attribute definitions');

    const byName = (a: { IndexName?: string }, b: { IndexName?: string }) => String(a.IndexName).localeCompare(String(b.IndexName));
    const actualIndexes = (Table.GlobalSecondaryIndexes ?? [])
      .map((index) => ({ IndexName: index.IndexName, KeySchema: index.KeySchema, ProjectionType: index.Projection?.ProjectionType }))
      .sort(byName);
    const expectedIndexes = TABLE.globalSecondaryIndexes
      .map((index) => ({
        IndexName: index.indexName,
        KeySchema: keySchema(index.partitionKey.name, index.sortKey.name),
        // Not in TABLE itself: the CDK construct projects ALL too (infra/sluice-gateway.ts).
        ProjectionType: 'ALL',
      }))
      .sort(byName);
    assert.deepEqual(actualIndexes, expectedIndexes);
  });

  test('the table expires items on the TTL attribute of TABLE', async () => {
    const { TimeToLiveDescription } = await clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: resources.tableName }));
    assert.equal(TimeToLiveDescription?.AttributeName, TABLE.timeToLiveAttribute);
    assert.equal(TimeToLiveDescription?.TimeToLiveStatus, 'ENABLED');
  });

  test('the delivery queue has the attributes of DELIVERY_QUEUE and redrives to the dead-letter queue', async () => {
    const attributes = async (queueUrl: string) =>
      (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }))).Attributes ?? {};
    const queue = await attributes(resources.queueUrl);
    const deadLetter = await attributes(resources.deadLetterQueueUrl);

    assert.equal(queue.FifoQueue, String(DELIVERY_QUEUE.fifo));
    assert.equal(queue.ContentBasedDeduplication, String(DELIVERY_QUEUE.contentBasedDeduplication));
    assert.equal(queue.VisibilityTimeout, String(DELIVERY_QUEUE.visibilityTimeoutSeconds));
    assert.equal(queue.MessageRetentionPeriod, String(DELIVERY_QUEUE.retentionPeriodSeconds));
    assert.equal(queue.DeduplicationScope, DELIVERY_QUEUE.deduplicationScope);
    assert.equal(queue.FifoThroughputLimit, DELIVERY_QUEUE.fifoThroughputLimit);
    assert.ok(queue.RedrivePolicy, 'delivery queue has a redrive policy');
    const redrive = JSON.parse(queue.RedrivePolicy) as { deadLetterTargetArn: string; maxReceiveCount: string | number };
    assert.equal(Number(redrive.maxReceiveCount), DEAD_LETTER_QUEUE.maxReceiveCount);
    assert.equal(redrive.deadLetterTargetArn, deadLetter.QueueArn);

    assert.equal(deadLetter.FifoQueue, String(DEAD_LETTER_QUEUE.fifo));
    assert.equal(deadLetter.MessageRetentionPeriod, String(DEAD_LETTER_QUEUE.retentionPeriodSeconds));
  });

  test('the payload bucket exists', async () => {
    const response = await clients.s3.send(new HeadBucketCommand({ Bucket: resources.bucketName }));
    assert.equal(response.$metadata.httpStatusCode, 200);
  });
});
