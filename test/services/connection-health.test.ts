import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { DEAD_LETTER_QUEUE } from '../../adapters/aws/definitions';
import type { InMemoryEventPublisher } from '../../adapters/aws/event-publisher';
import { captureOutput, TestGateway } from '../helpers/gateway';
import { TargetPool, type Behaviour } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

describe('connection health and flow control (probe interval shortened to seconds)', () => {
  let gw: TestGateway;
  let key: string;
  const targets = new TargetPool();
  const newTarget = (behaviour?: Behaviour) => targets.start(behaviour);
  const connection = async (id: string) => (await gw.request('GET', `/v1/connections/${id}`)).body;
  const flow = async (id: string) => (await gw.request('GET', `/v1/flows/${id}`)).body;
  const message = async (flowId: string, id: string) => (await gw.request('GET', `/v1/flows/${flowId}/messages/${id}`)).body;
  const events = () => (gw.runtime.events as InMemoryEventPublisher).events;

  before(async () => {
    // One second stands for one hour: the recurring probe runs every second; no fast probes.
    gw = await TestGateway.start({ probeIntervalSeconds: 1, fastProbeDelaysSeconds: [] });
    key = await gw.partner('acme');
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  it('takes a dead target offline, holds 50 messages without attempts, and delivers them in order after a probe', async () => {
    const t = await newTarget();
    await t.down();
    await gw.connection('erp', { url: t.url, offlineAfter: 3, retry: { count: 10, intervalSeconds: 0 }, timeoutMs: 1000 });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
    await gw.post('orders', key, 'M-000', 'first');
    await waitFor(async () => (await connection('erp')).status === 'offline', { what: 'connection offline' });
    const down = await connection('erp');
    assert.ok(down.nextProbeAt, 'next probe announced');
    const offline = events().find((e) => e.type === 'connection.offline' && e.detail.connectionId === 'erp');
    assert.match(String(offline?.detail.reason), /3 consecutive connection errors or timeouts/);
    const paused = await flow('orders');
    assert.equal(paused.status, 'paused');
    assert.match(paused.statusReason, /connection erp is offline/);
    assert.ok(events().some((e) => e.type === 'connection.offline' && e.detail.connectionId === 'erp'));
    assert.ok(events().some((e) => e.type === 'flow.paused' && e.detail.flowId === 'orders'));
    const listed = await gw.request('GET', '/local/events');
    assert.ok(listed.body.events.some((e: { type: string }) => e.type === 'connection.offline'), 'observable over HTTP locally');
    assert.equal((await gw.request('GET', '/local/events', { token: null })).status, 401);
    const ids = Array.from({ length: 50 }, (_, i) => `M-${String(i + 1).padStart(3, '0')}`);
    for (const id of ids) assert.equal((await gw.post('orders', key, id, id)).status, 202);
    for (const id of [ids[0]!, ids[24]!, ids[49]!]) {
      const body = await message('orders', id);
      assert.equal(body.status, 'queued');
      assert.equal(body.deliveries[0].attempts, 0, `${id}: no attempt spent while offline`);
    }
    assert.equal((await message('orders', 'M-000')).deliveries[0].attempts, 3);

    await t.up();
    const delivered = await t.waitForDelivered(51, 30_000);
    assert.deepEqual(delivered.map((r) => r.headers['x-aux-system-msg-id']), ['M-000', ...ids]);
    for (const id of ids) assert.equal(t.byId(id).length, 1, `${id} received once`);
    assert.equal((await connection('erp')).status, 'online');
    assert.equal((await flow('orders')).status, 'enabled');
    assert.ok(events().some((e) => e.type === 'connection.online' && e.detail.connectionId === 'erp'));
    assert.ok(events().some((e) => e.type === 'flow.resumed' && e.detail.flowId === 'orders'));
  });

  it('survives a simulated 24-hour outage (24 probe cycles) without losing anything or using the dead-letter queue', async () => {
    const t = await newTarget();
    await t.down();
    await gw.connection('day', { url: t.url, offlineAfter: 1, retry: { count: 3, intervalSeconds: 0 }, timeoutMs: 500 });
    await gw.flow('daily', { partnerId: 'acme', destinations: ['day'] });
    const ids = Array.from({ length: 10 }, (_, i) => `D-${i}`);
    for (const id of ids) await gw.post('daily', key, id, id);
    await waitFor(async () => (await connection('day')).status === 'offline', { what: 'offline' });
    const probes = new Set<string>();
    await waitFor(
      async () => {
        const c = await connection('day');
        if (c.lastProbeAt) probes.add(c.lastProbeAt);
        return probes.size >= 24;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: '24 failed probe cycles' },
    );
    const held = await gw.runtime.deliveries.get('daily', 'D-0', 'day');
    assert.equal(held?.status, 'paused');
    assert.equal(held?.attempts, 1, 'only the attempt that found the target down');
    await t.up();
    const delivered = await t.waitForDelivered(10, 30_000);
    assert.deepEqual(delivered.map((r) => r.headers['x-aux-system-msg-id']), ids);
    const { Attributes } = await gw.runtime.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: gw.gateway.resources.deadLetterQueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    assert.equal(Number(Attributes!.ApproximateNumberOfMessages) + Number(Attributes!.ApproximateNumberOfMessagesNotVisible), 0);
    assert.ok(probes.size < DEAD_LETTER_QUEUE.maxReceiveCount / 10, 'holds stay far below the redrive threshold');
  });

  it('reauthorize: a bad token keeps it unauthorized and says why; a good one resumes delivery within 5 s', async () => {
    const t = await newTarget((req) => (req.headers.authorization === 'Bearer good-token' ? { status: 200 } : { status: 401 }));
    await gw.connection('crm', { url: t.url, auth: { type: 'bearer', token: 'old-token' } });
    await gw.flow('contacts', { partnerId: 'acme', destinations: ['crm'] });
    await gw.post('contacts', key, 'C-1', 'one');
    await gw.post('contacts', key, 'C-2', 'two');
    await waitFor(async () => (await connection('crm')).status === 'unauthorized', { what: 'unauthorized' });
    const { output, result } = await captureOutput(async () => {
      const bad = await gw.request('POST', '/v1/connections/crm/reauthorize', { body: { auth: { type: 'bearer', token: 'still-wrong' } } });
      assert.equal(bad.status, 200);
      assert.equal(bad.body.status, 'unauthorized');
      assert.match(bad.body.statusReason, /401/);
      const started = Date.now();
      const good = await gw.request('POST', '/v1/connections/crm/reauthorize', { body: { auth: { type: 'bearer', token: 'good-token' } } });
      assert.equal(good.body.status, 'online');
      await t.waitForDelivered(2, 5_000);
      return { good, elapsed: Date.now() - started };
    });
    assert.ok(result.elapsed < 5_000, `resumed in ${result.elapsed} ms`);
    assert.match(output, /connection reauthorized/, 'the capture does see the structured logs');
    assert.deepEqual(t.delivered().map((r) => r.headers['x-aux-system-msg-id']), ['C-1', 'C-2']);
    for (const secret of ['old-token', 'still-wrong', 'good-token']) {
      assert.ok(!output.includes(secret), `${secret} not in logs`);
      assert.ok(!JSON.stringify(result.good.body).includes(secret), `${secret} not in the response`);
      assert.ok(!JSON.stringify(events()).includes(secret), `${secret} not in events`);
    }
    const stored = JSON.stringify(await gw.tableItems());
    assert.ok(!stored.includes('good-token'), 'credentials encrypted at rest');
  });

  it('operator offline holds traffic without probing; online releases it at once', async () => {
    const t = await newTarget();
    await gw.connection('wms', { url: t.url });
    await gw.flow('stock', { partnerId: 'acme', destinations: ['wms'] });
    const off = await gw.request('POST', '/v1/connections/wms/offline');
    assert.equal(off.body.status, 'offline');
    await gw.post('stock', key, 'W-1', 'x');
    await waitFor(async () => (await message('stock', 'W-1')).status === 'paused', { what: 'held' });
    for (let run = 0; run < 3; run++) await gw.gateway.probeNow();
    assert.equal(t.received.length, 0, 'neither delivered nor probed while set offline by hand');
    assert.equal((await connection('wms')).lastProbeAt, undefined);
    const on = await gw.request('POST', '/v1/connections/wms/online');
    assert.equal(on.body.status, 'online');
    await t.waitForDelivered(1, 5_000);
  });

  it('disable rejects with 409 and logs it; enable clears the log; pause holds and resume delivers, keeping the log', async () => {
    const t = await newTarget();
    await gw.connection('ledger', { url: t.url });
    await gw.flow('books', { partnerId: 'acme', destinations: ['ledger'] });
    assert.equal((await gw.request('POST', '/v1/flows/books/disable')).body.status, 'disabled');
    const rejected = await gw.post('books', key, 'L-0', 'x');
    assert.equal(rejected.status, 409);
    assert.equal(rejected.body.code, 'flow-disabled');
    const log = (await gw.request('GET', '/v1/flows/books/log')).body.entries;
    assert.ok(log.some((e: { code: string }) => e.code === 'flow-disabled'));
    assert.equal((await gw.request('POST', '/v1/flows/books/enable')).body.status, 'enabled');
    assert.deepEqual((await gw.request('GET', '/v1/flows/books/log')).body.entries, []);

    assert.equal((await gw.request('POST', '/v1/flows/books/pause')).body.status, 'paused');
    assert.equal((await gw.post('books', key, 'L-1', 'x')).status, 202, 'a paused flow accepts');
    await gw.post('books', key, 'bad id!', 'x');
    await waitFor(async () => (await message('books', 'L-1')).status === 'paused', { what: 'held by pause' });
    assert.equal(t.received.length, 0);
    const before = (await gw.request('GET', '/v1/flows/books/log')).body.entries.length;
    assert.equal((await gw.request('POST', '/v1/flows/books/resume')).body.status, 'enabled');
    await t.waitForDelivered(1, 5_000);
    const afterResume = (await gw.request('GET', '/v1/flows/books/log')).body.entries;
    assert.ok(afterResume.length >= before, 'resume keeps the log');
    assert.ok(afterResume.some((e: { code: string }) => e.code === 'invalid-message-id'));
  });
});
