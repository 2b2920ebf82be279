import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Pipeline } from './pipeline';

export interface EmulatorProbe {
  /** Operations per second, one at a time and `concurrency` at a time. */
  getItem: { sequential: number; concurrent: number };
  transactWrite: { sequential: number; concurrent: number };
  concurrency: number;
}

/**
 * How much DynamoDB Local itself takes on this machine: GetItem and a two-item
 * TransactWriteItems, one at a time and 20 at a time, on a scratch partition.
 * Explains the local pipeline's ceiling (every message costs ~15 DynamoDB calls).
 */
export async function probeDynamoDbLocal(pipeline: Pipeline, operations = 200, concurrency = 20): Promise<EmulatorProbe> {
  const documents = pipeline.observer.documents;
  const TableName = pipeline.runtime.config.tableName;
  const item = (i: number) => ({ pk: `BENCHPROBE#${i % 50}`, sk: 'PROBE', data: 'x'.repeat(1500) });
  await Promise.all(Array.from({ length: 50 }, (_, i) => documents.send(new PutCommand({ TableName, Item: item(i) }))));
  const get = (i: number) => documents.send(new GetCommand({ TableName, Key: { pk: `BENCHPROBE#${i % 50}`, sk: 'PROBE' }, ConsistentRead: true }));
  const tx = (i: number) =>
    documents.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName, Item: { ...item(i), pk: `BENCHPROBE#tx${i}` } } },
          { Update: { TableName, Key: { pk: `BENCHPROBE#${i % 50}`, sk: 'PROBE' }, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': i } } },
        ],
      }),
    );
  const rate = async (op: (i: number) => Promise<unknown>, n: number, parallel: number) => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < n) await op(next++);
      }),
    );
    return Math.round((n / ((performance.now() - started) / 1000)) * 10) / 10;
  };
  await rate(get, 50, 5); // warm-up
  return {
    getItem: { sequential: await rate(get, operations, 1), concurrent: await rate(get, operations, concurrency) },
    transactWrite: { sequential: await rate(tx, operations / 2, 1), concurrent: await rate(tx, operations / 2, concurrency) },
    concurrency,
  };
}
