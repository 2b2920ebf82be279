import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { sharedEmulators, startEmulators, type Emulators } from '../../local/emulators';
import { LocalStreamPoller } from '../../local/stream-poller';
import type { SdkClients } from '../../local/sdk-clients';
import { emulatorClients } from '../helpers/emulator-clients';

/** The local stand-in for the stream event source mapping, against DynamoDB Local's own Streams API. */
describe('local stream poller', () => {
  let emulators: Emulators;
  let ownEmulators: Emulators | undefined;
  let clients: SdkClients;
  let streams: DynamoDBStreamsClient;

  before(async () => {
    emulators = sharedEmulators() ?? (ownEmulators = await startEmulators());
    clients = emulatorClients(emulators);
    streams = new DynamoDBStreamsClient({
      region: 'us-east-1',
      endpoint: emulators.dynamodbEndpoint,
      credentials: await clients.dynamodb.config.credentials(),
    });
  });

  after(async () => {
    streams?.destroy();
    if (clients) for (const client of [clients.dynamodb, clients.sqs, clients.s3]) client.destroy();
    await ownEmulators?.stop();
  });

  async function streamedTable(): Promise<{ tableName: string; streamArn: string }> {
    const tableName = `stream-${randomUUID()}`;
    const { TableDescription } = await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    return { tableName, streamArn: TableDescription!.LatestStreamArn! };
  }

  /**
   * The real client, with GetRecords refused once by `name` after `afterReads` reads: DynamoDB
   * Local answered TrimmedDataAccessException to a live iterator under load in the full test
   * run, and AWS answers ExpiredIteratorException to one older than 15 minutes.
   */
  function refusingOnce(name: string, afterReads: number): DynamoDBStreamsClient {
    let reads = 0;
    return new Proxy(streams, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return (command: { constructor: { name: string } }) => {
          if (command.constructor.name === 'GetRecordsCommand' && reads++ === afterReads) {
            return Promise.reject(Object.assign(new Error(`refused by the test: ${name}`), { name }));
          }
          return target.send(command as never);
        };
      },
    });
  }

  for (const refusal of ['TrimmedDataAccessException', 'ExpiredIteratorException']) {
    it(`takes a fresh iterator after ${refusal} and reads on after the last handled record, nothing lost or twice`, async () => {
      await readsOnAfter(refusingOnce(refusal, 1));
    });
  }

  it('reads every write in order, once, across drains', async () => {
    await readsOnAfter(streams);
  });

  async function readsOnAfter(client: DynamoDBStreamsClient): Promise<void> {
    const { tableName, streamArn } = await streamedTable();
    const seen: string[] = [];
    const errors: unknown[] = [];
    const poller = new LocalStreamPoller({
      streams: client,
      streamArn,
      handler: async (event: DynamoDBStreamEvent) => {
        for (const record of event.Records) seen.push(String(record.dynamodb?.Keys?.pk?.S));
      },
      onError: (error) => errors.push(error),
    });
    // The first pass takes its iterators while the shard holds nothing yet.
    await poller.drain();
    for (const pk of ['a', 'b', 'c']) {
      await clients.dynamodb.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: pk } } }));
    }
    await poller.drain();
    assert.deepEqual(seen, ['a', 'b', 'c'], 'every write, in order, once');
    await clients.dynamodb.send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: 'd' } } }));
    await poller.drain();
    assert.deepEqual(seen, ['a', 'b', 'c', 'd'], 'and on from there, nothing twice');
    assert.deepEqual(errors, []);
  }
});
