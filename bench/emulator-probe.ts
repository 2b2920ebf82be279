import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Pipeline } from './pipeline';

export interface EmulatorProbe {
  /** Operations per second, one at a time and `concurrency` at a time. */
  getItem: { sequential: number; concurrent: number };
  transactWrite: { sequential: number; concurrent: number };
  concurrency: number;
  /** PutItem of a new 1 KiB item, `putItem.concurrency` at a time (the bench's posting concurrency). */
  putItem: { perSecond: number; concurrency: number; itemBytes: number };
}

/**
 * How much DynamoDB Local itself takes on this machine: GetItem and a two-item
 * TransactWriteItems, one at a time and 20 at a time, on a scratch partition, and PutItem of
 * new 1 KiB items at the posting concurrency: ingest throughput is reported against that rate.
 */
export async function probeDynamoDbLocal(
  pipeline: Pipeline,
  operations = 200,
  concurrency = 20,
  putConcurrency = concurrency,
): Promise<EmulatorProbe> {
  const documents = pipeline.observer.documents;
  const TableName = pipeline.runtime.config.tableName;
  const item = (i: number) => ({ pk: `BENCHPROBE#${i % 50}`, sk: 'PROBE', data: 'x'.repeat(1500) });
  await Promise.all(Array.from({ length: 50 }, (_, i) => documents.send(new PutCommand({ TableName, Item: item(i) }))));
  const get = (i: number) =>
    documents.send(new GetCommand({ TableName, Key: { pk: `BENCHPROBE#${i % 50}`, sk: 'PROBE' }, ConsistentRead: true }));
  const tx = (i: number) =>
    documents.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName, Item: { ...item(i), pk: `BENCHPROBE#tx${i}` } } },
          {
            Update: {
              TableName,
              Key: { pk: `BENCHPROBE#${i % 50}`, sk: 'PROBE' },
              UpdateExpression: 'SET n = :n',
              ExpressionAttributeValues: { ':n': i },
            },
          },
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
  // A new item per put, 1 KiB by DynamoDB's size rules (pk + sk + data attribute).
  const probeRun = Date.now().toString(36);
  const put = (i: number) => {
    const pk = `BENCHPUT#${probeRun}#${i}`;
    const data = 'x'.repeat(1024 - 'pk'.length - pk.length - 'sk'.length - 'PUT'.length - 'data'.length);
    return documents.send(new PutCommand({ TableName, Item: { pk, sk: 'PUT', data } }));
  };
  await rate(put, 50, putConcurrency); // warm-up
  const putItem = {
    perSecond: await rate((i) => put(i + 1000), operations * 2, putConcurrency),
    concurrency: putConcurrency,
    itemBytes: 1024,
  };
  return {
    putItem,
    getItem: { sequential: await rate(get, operations, 1), concurrent: await rate(get, operations, concurrency) },
    transactWrite: { sequential: await rate(tx, operations / 2, 1), concurrent: await rate(tx, operations / 2, concurrency) },
    concurrency,
  };
}
