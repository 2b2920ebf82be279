import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTimeToLiveCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { sharedEmulators, startEmulators, type Emulators } from '../../local/emulators';
import { createTableInput, LocalTableMismatchError, provisionLocalResources } from '../../local/provision';
import { startLocalGateway } from '../../local/gateway';
import { DataDirInUseError } from '../../local/data-dir';
import type { SdkClients } from '../../local/sdk-clients';
import { emulatorClients } from '../helpers/emulator-clients';
import { TABLE } from '../../adapters/aws/definitions';
import { keys } from '../../adapters/aws/keys';
import { RECORD_FORMAT } from '../../adapters/aws/record-codec';
import { uniqueResourceNames } from '../helpers/gateway';

/** Provisioning against resources that exist (a kept table), and the gateway's data-directory options. */

let emulators: Emulators;
let ownEmulators: Emulators | undefined;
let clients: SdkClients;
let workDir: string;

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'sluice-provision-'));
  const shared = sharedEmulators();
  emulators = shared ?? (ownEmulators = await startEmulators());
  clients = emulatorClients(emulators);
});

after(async () => {
  if (clients) for (const client of [clients.dynamodb, clients.sqs, clients.s3]) client.destroy();
  await ownEmulators?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('provisionLocalResources on resources that exist', () => {
  it('reuses the table, queues and bucket, with TTL still on', async () => {
    const names = uniqueResourceNames();
    const first = await provisionLocalResources(clients, names);
    const second = await provisionLocalResources(clients, names);
    assert.deepEqual(second, first);
    const ttl = await clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: names.tableName }));
    assert.equal(ttl.TimeToLiveDescription?.TimeToLiveStatus, 'ENABLED');
    assert.equal(ttl.TimeToLiveDescription?.AttributeName, TABLE.timeToLiveAttribute);
  });

  it('refuses a kept table that lacks an index this version needs, saying what to do', async () => {
    const names = uniqueResourceNames();
    const [kept, ...added] = TABLE.globalSecondaryIndexes;
    assert.ok(added.length > 0, 'TABLE has more than one index');
    await clients.dynamodb.send(new CreateTableCommand(createTableInput(names.tableName, { ...TABLE, globalSecondaryIndexes: [kept!] })));
    await assert.rejects(provisionLocalResources(clients, names), (error: unknown) => {
      assert.ok(error instanceof LocalTableMismatchError);
      assert.match(error.message, new RegExp(added[0]!.indexName));
      assert.match(error.message, /another data directory \(SLUICE_DATA_DIR\)/);
      return true;
    });
  });

  it('refuses a kept table whose messages an earlier version spelled out, and marks one without messages', async () => {
    const names = uniqueResourceNames();
    await clients.dynamodb.send(new CreateTableCommand(createTableInput(names.tableName)));
    // A record as the first versions wrote it: long attribute names this version does not read.
    await clients.dynamodb.send(
      new PutItemCommand({
        TableName: names.tableName,
        Item: {
          pk: { S: 'MSG#orders#PO-1' },
          sk: { S: 'MESSAGE' },
          flowId: { S: 'orders' },
          messageId: { S: 'PO-1' },
          receivedAt: { S: '2026-11-01T00:00:00.000Z' },
          dlv: { M: { erp: { M: { status: { S: 'queued' }, version: { N: '0' } } } } },
        },
      }),
    );
    await assert.rejects(provisionLocalResources(clients, names), (error: unknown) => {
      assert.ok(error instanceof LocalTableMismatchError);
      assert.match(error.message, /earlier version, in a record format/);
      assert.match(error.message, /another data directory \(SLUICE_DATA_DIR\)/);
      return true;
    });

    const empty = uniqueResourceNames();
    await clients.dynamodb.send(new CreateTableCommand(createTableInput(empty.tableName)));
    await provisionLocalResources(clients, empty);
    const { Item } = await clients.dynamodb.send(
      new GetItemCommand({ TableName: empty.tableName, Key: { pk: { S: keys.recordFormat.pk }, sk: { S: keys.recordFormat.sk } } }),
    );
    assert.equal(Item?.format?.N, String(RECORD_FORMAT));
  });

  it('refuses a kept table with other keys, saying what to do', async () => {
    const names = uniqueResourceNames();
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: names.tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    await assert.rejects(provisionLocalResources(clients, names), (error: unknown) => {
      assert.ok(error instanceof LocalTableMismatchError);
      assert.match(error.message, /another data directory \(SLUICE_DATA_DIR\)/);
      return true;
    });
  });
});

describe('startLocalGateway with a data directory', () => {
  it('keeps the generated token, lets a given token win without touching the kept one, and calls reconcile with the runtime and resources', async () => {
    const dataDir = join(workDir, 'gateway');
    const names = uniqueResourceNames();
    const calls: string[] = [];
    const first = await startLocalGateway({
      port: 0,
      emulators,
      resourceNames: names,
      dataDir,
      deliver: false,
      reconcile: async ({ runtime, resources }) => {
        calls.push(`${runtime.config.queueUrl === resources.queueUrl}`);
      },
    });
    try {
      assert.deepEqual(calls, ['true']);
      assert.equal(first.dataDir, dataDir);
      // While it runs, the directory is its own.
      await assert.rejects(startLocalGateway({ port: 0, emulators, resourceNames: names, dataDir, deliver: false }), DataDirInUseError);
    } finally {
      await first.stop();
    }
    assert.equal((await stat(join(dataDir, 'operator-token'))).mode & 0o777, 0o600);

    const chosen = await startLocalGateway({
      port: 0,
      emulators,
      resourceNames: names,
      dataDir,
      deliver: false,
      operatorToken: 'chosen-token',
    });
    await chosen.stop();
    assert.equal(chosen.operatorToken, 'chosen-token');

    const again = await startLocalGateway({ port: 0, emulators, resourceNames: names, dataDir, deliver: false });
    await again.stop();
    assert.equal(again.operatorToken, first.operatorToken);
  });

  it('fails the start when reconcile fails, and stops what it started', async () => {
    const dataDir = join(workDir, 'failing');
    const names = uniqueResourceNames();
    await assert.rejects(
      startLocalGateway({
        port: 0,
        emulators,
        resourceNames: names,
        dataDir,
        deliver: false,
        reconcile: async () => {
          throw new Error('sweep failed');
        },
      }),
      /sweep failed/,
    );
    // The directory was released.
    const next = await startLocalGateway({ port: 0, emulators, resourceNames: names, dataDir, deliver: false });
    await next.stop();
  });
});
