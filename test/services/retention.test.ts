import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { TestGateway } from '../helpers/gateway';
import { TargetPool } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';
import { retentionClass, TABLE } from '../../adapters/aws/definitions';
import { objectKeys } from '../../adapters/aws/keys';
import { deliveriesOf, messageOf } from '../../adapters/aws/message-store';
import * as lifecycle from '../../core/lifecycle';
import type { Delivery, DeliveryStatus } from '../../core/model';

/**
 * SPEC semantics 16: a flow keeps a message `retentionDays` after it reaches a final state
 * (every delivery delivered or discarded), through the record's TTL and its payloads'
 * retention tags; failed, in-error and suspended deliveries keep theirs until acted on.
 */

const DAY = 24 * 3600;
/** Over the 64 KiB inline limit: kept in S3 as a claim check. */
const LARGE = 'x'.repeat(70 * 1024);

describe('retention', () => {
  let gw: TestGateway;
  let key: string;
  const targets = new TargetPool();

  before(async () => {
    gw = await TestGateway.start({ overrides: { logger: new Logger({ serviceName: 'sluice-test', logLevel: 'ERROR' }) } });
    key = await gw.partner('acme');
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  const record = async (flowId: string, messageId: string) => {
    const { Item } = await gw.sdk.documents.send(
      new GetCommand({
        TableName: gw.runtime.config.tableName,
        Key: { pk: `MSG#${flowId}#${messageId}`, sk: 'MESSAGE' },
        ConsistentRead: true,
      }),
    );
    assert.ok(Item, `record of ${messageId}`);
    // The record as the domain reads it, with its TTL: deliveries by connection.
    const dlv = Object.fromEntries(deliveriesOf(Item).map((d) => [d.connectionId, d]));
    return { ...messageOf(Item), dlv, spills: Item.spills, [TABLE.timeToLiveAttribute]: Item[TABLE.timeToLiveAttribute] } as Record<
      string,
      any
    >;
  };
  const ttlOf = async (flowId: string, messageId: string) =>
    (await record(flowId, messageId))[TABLE.timeToLiveAttribute] as number | undefined;
  const spills = async (flowId: string, messageId: string) => {
    const { Items = [] } = await gw.sdk.documents.send(
      new QueryCommand({
        TableName: gw.runtime.config.tableName,
        KeyConditionExpression: 'pk = :p AND begins_with(sk, :rpt)',
        ExpressionAttributeValues: { ':p': `MSG#${flowId}#${messageId}`, ':rpt': 'RPT#' },
        ConsistentRead: true,
      }),
    );
    return Items;
  };
  const statusOf = async (flowId: string, messageId: string, connectionId: string): Promise<DeliveryStatus | undefined> =>
    (await gw.runtime.deliveries.get(flowId, messageId, connectionId))?.status;
  const waitStatus = (flowId: string, messageId: string, connectionId: string, status: DeliveryStatus) =>
    waitFor(async () => (await statusOf(flowId, messageId, connectionId)) === status, {
      timeoutMs: 30_000,
      what: `${messageId} ${status}`,
    });
  /** The retention class an object is tagged with once the stream has caught up; undefined while it is kept. */
  const tagOf = async (objectKey: string) => {
    await gw.countsSettled();
    return gw.runtime.objects.retentionDays(objectKey);
  };
  /** The class that keeps an object written after `receivedAt` until `ttl`. */
  const classFor = (receivedAt: string, ttl: number) => retentionClass(Math.ceil((ttl - Date.parse(receivedAt) / 1000) / DAY));
  const messageView = async (flowId: string, messageId: string) =>
    (await gw.request('GET', `/v1/flows/${flowId}/messages/${messageId}`)).body;

  it('validates retentionDays (1-3650 whole days, default 30) and changes nothing on a bad value', async () => {
    const t = await targets.start();
    await gw.connection('val-target', { url: t.url });
    const saved = await gw.flow('val', { partnerId: 'acme', destinations: ['val-target'] });
    assert.equal(saved.retentionDays, 30);
    assert.equal((await gw.flow('val', { partnerId: 'acme', destinations: ['val-target'], retentionDays: 3650 })).retentionDays, 3650);
    for (const retentionDays of [0, 3651, 2.5, '30', null, -1]) {
      const result = await gw.request('PUT', '/v1/flows/val', { body: { partnerId: 'acme', destinations: ['val-target'], retentionDays } });
      assert.equal(result.status, 400, JSON.stringify(retentionDays));
      assert.equal(result.body.code, 'invalid-body');
    }
    assert.equal((await gw.request('GET', '/v1/flows/val')).body.retentionDays, 3650);
  });

  it('a delivered message expires retentionDays after delivery, its claim check tagged to go no sooner; an inline one costs no object', async () => {
    const t = await targets.start();
    await gw.connection('ok-target', { url: t.url });
    await gw.flow('kept7', { partnerId: 'acme', destinations: ['ok-target'], retentionDays: 7 });
    assert.equal((await gw.post('kept7', key, 'big-1', LARGE)).status, 202);
    assert.equal((await gw.post('kept7', key, 'small-1', 'small')).status, 202);
    await t.waitForDelivered(2);
    for (const id of ['big-1', 'small-1']) await waitStatus('kept7', id, 'ok-target', 'delivered');

    for (const id of ['big-1', 'small-1']) {
      const item = await record('kept7', id);
      const deliveredAt = item.dlv['ok-target'].deliveredAt as string;
      assert.equal(item[TABLE.timeToLiveAttribute], lifecycle.expiryAfter(deliveredAt, 7), id);
      assert.equal((await messageView('kept7', id)).retainedUntil, new Date(item[TABLE.timeToLiveAttribute] * 1000).toISOString());
    }
    const big = await record('kept7', 'big-1');
    const claimCheck = objectKeys.claimCheck('kept7', 'big-1');
    assert.equal(big.payload.key, claimCheck);
    const days = (await tagOf(claimCheck))!;
    assert.equal(days, classFor(big.receivedAt, big[TABLE.timeToLiveAttribute]));
    // S3 counts from the object's creation, after receipt: the class outlasts the record's TTL.
    assert.ok(Date.parse(big.receivedAt) / 1000 + days * DAY >= big[TABLE.timeToLiveAttribute]);
    assert.ok(days <= 8, '7 days after a delivery a few seconds after receipt');
    assert.deepEqual(await gw.bucketKeys('payloads/kept7/small-1'), []);
  });

  it('a failed delivery keeps its message and payloads with no expiry; a discard starts it, a suspended chain waits for its release', async () => {
    const t = await targets.start();
    t.behaviour = (request) => (request.body.toString().startsWith('bad') ? { status: 422, body: 'rejected' } : { status: 200 });
    await gw.connection('strict', { url: t.url });
    await gw.flow('kept', { partnerId: 'acme', destinations: ['strict'], onFailure: 'suspend-chain', retentionDays: 10 });
    assert.equal((await gw.post('kept', key, 'f-1', `bad${LARGE}`, { 'x-chain-id': 'c1' })).status, 202);
    await waitStatus('kept', 'f-1', 'strict', 'failed');
    assert.equal((await gw.post('kept', key, 'f-2', 'fine', { 'x-chain-id': 'c1' })).status, 202);
    await waitStatus('kept', 'f-2', 'strict', 'suspended');

    const failedCopy = objectKeys.failed({ flowId: 'kept', messageId: 'f-1', connectionId: 'strict' });
    const claimCheck = objectKeys.claimCheck('kept', 'f-1');
    assert.equal(await ttlOf('kept', 'f-1'), undefined);
    assert.equal(await ttlOf('kept', 'f-2'), undefined);
    assert.equal((await messageView('kept', 'f-1')).retainedUntil, undefined);
    assert.deepEqual((await gw.bucketKeys('failed/kept/f-1')).sort(), [failedCopy]);
    assert.equal(await tagOf(failedCopy), undefined, 'the failed store copy is kept');
    assert.equal(await tagOf(claimCheck), undefined, 'the claim check is kept');

    const discard = await gw.request('POST', '/v1/failed-events/kept~f-1~strict/discard');
    assert.equal(discard.status, 200, JSON.stringify(discard.body));
    const discarded = await record('kept', 'f-1');
    assert.equal(discarded[TABLE.timeToLiveAttribute], lifecycle.expiryAfter(discarded.dlv.strict.updatedAt, 10));
    const expected = classFor(discarded.receivedAt, discarded[TABLE.timeToLiveAttribute]);
    assert.equal(await tagOf(failedCopy), expected);
    assert.equal(await tagOf(claimCheck), expected);

    // The discard released the chain: f-2 is delivered, and only then expires.
    await waitStatus('kept', 'f-2', 'strict', 'delivered');
    const released = await record('kept', 'f-2');
    assert.equal(released[TABLE.timeToLiveAttribute], lifecycle.expiryAfter(released.dlv.strict.deliveredAt, 10));
  });

  it('a restarted delivery stays kept until it is delivered; a replay clears the expiry and untags the payloads', async () => {
    const t = await targets.start();
    let healthy = false;
    t.behaviour = () => (healthy ? { status: 200 } : { status: 400 });
    await gw.connection('flaky', { url: t.url, retry: { count: 50, intervalSeconds: 1 } });
    await gw.flow('again', { partnerId: 'acme', destinations: ['flaky'], retentionDays: 3 });
    await gw.post('again', key, 'r-1', LARGE);
    await waitStatus('again', 'r-1', 'flaky', 'failed');
    const failedCopy = objectKeys.failed({ flowId: 'again', messageId: 'r-1', connectionId: 'flaky' });

    // Restarted into a target that still fails for a while: kept throughout.
    t.behaviour = (_request, index) => (index < 3 ? { status: 503 } : healthy ? { status: 200 } : { status: 503 });
    assert.equal((await gw.request('POST', '/v1/failed-events/again~r-1~flaky/restart')).status, 202);
    await waitFor(async () => (await gw.runtime.deliveries.get('again', 'r-1', 'flaky'))?.status === 'retrying', {
      what: 'retrying after the restart',
    });
    assert.equal(await ttlOf('again', 'r-1'), undefined);
    assert.equal(await tagOf(failedCopy), undefined);

    healthy = true;
    await waitStatus('again', 'r-1', 'flaky', 'delivered');
    const delivered = await record('again', 'r-1');
    const ttl = delivered[TABLE.timeToLiveAttribute] as number;
    assert.equal(ttl, lifecycle.expiryAfter(delivered.dlv.flaky.deliveredAt, 3));
    const expected = classFor(delivered.receivedAt, ttl);
    assert.equal(await tagOf(failedCopy), expected, 'the failed copy of a message that became final expires with it');
    assert.equal(await tagOf(objectKeys.claimCheck('again', 'r-1')), expected);

    // A replay (semantics 17) takes the message up again: the record and its payloads are kept.
    const d = (await gw.runtime.deliveries.get('again', 'r-1', 'flaky'))!;
    await gw.runtime.deliveries.apply(d, lifecycle.replayed(d, { at: new Date().toISOString(), by: 'test' }));
    assert.equal(await ttlOf('again', 'r-1'), undefined);
    assert.equal(await tagOf(failedCopy), undefined);
    assert.equal(await tagOf(objectKeys.claimCheck('again', 'r-1')), undefined);
  });

  it('of two branches finishing at once, the one written last sees the other finished and sets the expiry', async () => {
    const a = await targets.start(() => ({ status: 503 }));
    const b = await targets.start(() => ({ status: 503 }));
    // Retrying an hour from now: nothing else writes the deliveries while the test does.
    await gw.connection('fan-a', { url: a.url, retry: { count: 5, intervalSeconds: 3600 }, onError: 'hold-lane' });
    await gw.connection('fan-b', { url: b.url, retry: { count: 5, intervalSeconds: 3600 }, onError: 'hold-lane' });
    await gw.flow('fan', { partnerId: 'acme', destinations: ['fan-a', 'fan-b'], retentionDays: 5 });
    await gw.post('fan', key, 'both', 'payload');
    await waitStatus('fan', 'both', 'fan-a', 'retrying');
    await waitStatus('fan', 'both', 'fan-b', 'retrying');

    // Both read from one snapshot, as two deliverers reading at the same moment would.
    const snapshot = (await gw.runtime.messages.snapshot('fan', 'both'))!;
    const [first, second] = ['fan-a', 'fan-b'].map((c) => snapshot.deliveries.find((d) => d.connectionId === c)!) as [Delivery, Delivery];
    const facts = (at: string): lifecycle.AttemptFacts => ({ at, attempts: 2, request: 2, possibleDuplicate: true, report: [] });
    await gw.runtime.deliveries.apply(first, lifecycle.delivered(first, facts('2026-03-01T00:00:00.000Z')));
    assert.equal(await ttlOf('fan', 'both'), undefined, 'the other branch was still open');
    // `second` still believes fan-a is retrying: its write finds out and sets the expiry.
    await gw.runtime.deliveries.apply(second, lifecycle.delivered(second, facts('2026-03-01T00:00:05.000Z')));
    assert.equal(await ttlOf('fan', 'both'), lifecycle.expiryAfter('2026-03-01T00:00:05.000Z', 5));
  });

  it('a retentionDays change applies to the messages that become final afterwards', async () => {
    const t = await targets.start();
    let open = false;
    t.behaviour = () => (open ? { status: 200 } : { status: 503 });
    await gw.connection('later', { url: t.url, retry: { count: 100, intervalSeconds: 1 } });
    await gw.flow('change', { partnerId: 'acme', destinations: ['later'] });
    open = true;
    await gw.post('change', key, 'before', 'one');
    await waitStatus('change', 'before', 'later', 'delivered');
    const first = await record('change', 'before');
    assert.equal(first[TABLE.timeToLiveAttribute], lifecycle.expiryAfter(first.dlv.later.deliveredAt, 30));

    open = false;
    await gw.post('change', key, 'pending', 'two');
    await waitStatus('change', 'pending', 'later', 'retrying');
    await gw.flow('change', { partnerId: 'acme', destinations: ['later'], retentionDays: 2 });
    open = true;
    await waitStatus('change', 'pending', 'later', 'delivered');
    const second = await record('change', 'pending');
    assert.equal(
      second[TABLE.timeToLiveAttribute],
      lifecycle.expiryAfter(second.dlv.later.deliveredAt, 2),
      'final after the change: the new setting',
    );
    assert.equal(await ttlOf('change', 'before'), first[TABLE.timeToLiveAttribute], 'final before the change: as it was');
  });

  it('the report items spilled out of a long record expire with it, and are kept again with it', async () => {
    const t = await targets.start((_request, index) => (index < 30 ? { status: 503 } : { status: 200 }));
    await gw.connection('patient', { url: t.url, retry: { count: 40, intervalSeconds: 0 }, onError: 'hold-lane' });
    await gw.flow('long', { partnerId: 'acme', destinations: ['patient'], retentionDays: 4 });
    await gw.post('long', key, 'long-1', 'payload');
    await waitStatus('long', 'long-1', 'patient', 'delivered');
    const item = await record('long', 'long-1');
    const ttl = item[TABLE.timeToLiveAttribute] as number;
    assert.equal(ttl, lifecycle.expiryAfter(item.dlv.patient.deliveredAt, 4));
    const spilled = await spills('long', 'long-1');
    assert.ok(spilled.length > 0, 'the report spilled');
    assert.deepEqual(spilled.map((s) => s.sk).sort(), [...item.spills].sort(), 'the record lists its spilled items');
    for (const s of spilled) assert.equal(s[TABLE.timeToLiveAttribute], ttl, s.sk);

    const d = (await gw.runtime.deliveries.get('long', 'long-1', 'patient'))!;
    await gw.runtime.deliveries.apply(d, lifecycle.replayed(d, { at: new Date().toISOString(), by: 'test' }));
    for (const s of await spills('long', 'long-1')) assert.equal(s[TABLE.timeToLiveAttribute], undefined, s.sk);
  });
});

describe('retention in local mode: the sweep deletes what AWS would', () => {
  let gw: TestGateway;
  const targets = new TargetPool();

  before(async () => {
    gw = await TestGateway.start({ overrides: { logger: new Logger({ serviceName: 'sluice-test', logLevel: 'ERROR' }) } });
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  it('deletes records after their TTL and payloads after their retention class, and the counts drop them', async () => {
    const key = await gw.partner('acme');
    const t = await targets.start((request) => (request.body.toString().startsWith('bad') ? { status: 422 } : { status: 200 }));
    await gw.connection('sweep-target', { url: t.url });
    await gw.flow('swept', { partnerId: 'acme', destinations: ['sweep-target'], retentionDays: 1 });
    await gw.post('swept', key, 'done', LARGE);
    await gw.post('swept', key, 'stuck', `bad${LARGE}`);
    await waitFor(async () => (await gw.runtime.deliveries.get('swept', 'done', 'sweep-target'))?.status === 'delivered', {
      what: 'delivered',
    });
    await waitFor(async () => (await gw.runtime.deliveries.get('swept', 'stuck', 'sweep-target'))?.status === 'failed', { what: 'failed' });
    await gw.countsSettled();
    const ttl = (await gw.runtime.messages.get('swept', 'done'))!.retainedUntil!;
    const claimCheck = objectKeys.claimCheck('swept', 'done');
    const days = (await gw.runtime.objects.retentionDays(claimCheck))!;
    assert.ok(days >= 1);

    assert.deepEqual(await gw.gateway.sweepRetention(new Date(Date.parse(ttl) - 1000)), { items: 0, objects: 0 }, 'nothing before the TTL');
    // Past the TTL the record goes; its payload when its class has run out (counted from its creation).
    const afterTtl = await gw.gateway.sweepRetention(new Date(Date.parse(ttl) + 1000));
    assert.equal(afterTtl.items, 1);
    assert.equal(await gw.runtime.messages.get('swept', 'done'), undefined);
    const far = new Date(Date.now() + (days + 1) * 24 * 3600 * 1000);
    assert.equal(afterTtl.objects + (await gw.gateway.sweepRetention(far)).objects, 1);
    assert.deepEqual(await gw.bucketKeys(claimCheck), []);

    // The failed one is kept, whatever the time.
    assert.equal((await gw.runtime.messages.get('swept', 'stuck'))?.status, 'failed');
    assert.equal((await gw.bucketKeys(objectKeys.claimCheck('swept', 'stuck'))).length, 1);
    assert.equal((await gw.bucketKeys('failed/swept/stuck/')).length, 1);

    await gw.countsSettled();
    const counts = (await gw.request('GET', '/v1/flows/swept')).body.counts;
    assert.deepEqual(
      { accepted: counts.accepted, delivered: counts.delivered, failed: counts.failed },
      { accepted: 1, delivered: 0, failed: 1 },
    );
  });
});
