import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { DEAD_LETTER_QUEUE, DELIVERY_QUEUE } from '../../adapters/aws/definitions';
import type { InMemoryEventPublisher } from '../../adapters/aws/event-publisher';
import { captureOutput, logEntries, TestGateway } from '../helpers/gateway';
import { TargetPool, type Behaviour } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

describe('connection health and flow control (probes run when the test says so)', () => {
  let gw: TestGateway;
  let key: string;
  const targets = new TargetPool();
  const newTarget = (behaviour?: Behaviour) => targets.start(behaviour);
  const connection = async (id: string) => (await gw.request('GET', `/v1/connections/${id}`)).body;
  const flow = async (id: string) => (await gw.request('GET', `/v1/flows/${id}`)).body;
  const message = async (flowId: string, id: string) => (await gw.request('GET', `/v1/flows/${flowId}/messages/${id}`)).body;
  const events = () => (gw.runtime.events as InMemoryEventPublisher).events;

  before(async () => {
    // No probe runs by itself during the test (hourly, no fast probes): the tests call the
    // prober, so whatever brings a connection back is what the test did, not a timer.
    gw = await TestGateway.start({ fastProbeDelaysSeconds: [] });
    key = await gw.partner('acme');
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  it('takes a dead target offline, holds a batch and more (12 messages) without attempts, and delivers them in order after a probe', async () => {
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
    // The flow shows paused once it is; its event follows the flow log entry written after that.
    await waitFor(() => events().some((e) => e.type === 'flow.paused' && e.detail.flowId === 'orders'), { what: 'flow.paused published' });
    const listed = await gw.request('GET', '/local/events');
    assert.ok(
      listed.body.events.some((e: { type: string }) => e.type === 'connection.offline'),
      'observable over HTTP locally',
    );
    assert.equal((await gw.request('GET', '/local/events', { token: null })).status, 401);
    // Just over one deliverer batch (10 records): the hold must span batch boundaries.
    const ids = Array.from({ length: 12 }, (_, i) => `M-${String(i + 1).padStart(3, '0')}`);
    for (const id of ids) assert.equal((await gw.post('orders', key, id, id)).status, 202);
    for (const id of [ids[0]!, ids[6]!, ids[11]!]) {
      const body = await message('orders', id);
      assert.equal(body.status, 'queued');
      assert.equal(body.deliveries[0].attempts, 0, `${id}: no attempt spent while offline`);
    }
    assert.equal((await message('orders', 'M-000')).deliveries[0].attempts, 3);

    await t.up();
    assert.equal((await connection('erp')).status, 'offline', 'still offline until a probe finds it');
    await gw.gateway.probeNow();
    const delivered = await t.waitForDelivered(13, 60_000);
    assert.deepEqual(
      delivered.map((r) => r.headers['x-aux-system-msg-id']),
      ['M-000', ...ids],
    );
    for (const id of ids) assert.equal(t.byId(id).length, 1, `${id} received once`);
    assert.equal((await connection('erp')).status, 'online');
    assert.equal((await flow('orders')).status, 'enabled');
    assert.ok(events().some((e) => e.type === 'connection.online' && e.detail.connectionId === 'erp'));
    assert.ok(events().some((e) => e.type === 'flow.resumed' && e.detail.flowId === 'orders'));
  });

  it('a long outage: each probe cycle costs a held lane at most one receive, far below the redrive threshold', async () => {
    // A gateway of its own whose hourly probe runs every second: SQS visibility counts whole
    // seconds, so this is the fastest real probe cycle.
    const hourly = await TestGateway.start({ probeIntervalSeconds: 1, fastProbeDelaysSeconds: [] });
    const receives = new Map<string, number[]>();
    hourly.sdk.sqs.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const output = result.output as { Messages?: { Body?: string; Attributes?: Record<string, string> }[] } | undefined;
        const messages = output?.Messages ?? [];
        for (const m of messages) {
          const id = JSON.parse(m.Body ?? '{}').messageId as string;
          receives.set(id, [...(receives.get(id) ?? []), Number(m.Attributes?.ApproximateReceiveCount)]);
        }
        return result;
      },
      { step: 'initialize', name: 'countReceives' },
    );
    try {
      const t = await newTarget();
      await t.down();
      const apiKey = await hourly.partner('acme');
      await hourly.connection('day', { url: t.url, offlineAfter: 1, retry: { count: 3, intervalSeconds: 0 }, timeoutMs: 500 });
      await hourly.flow('daily', { partnerId: 'acme', destinations: ['day'] });
      const ids = Array.from({ length: 10 }, (_, i) => `D-${i}`);
      for (const id of ids) await hourly.post('daily', apiKey, id, id);
      const status = async () => (await hourly.request('GET', '/v1/connections/day')).body;
      await waitFor(async () => (await status()).status === 'offline', { what: 'offline' });
      // Probe cycles are counted from the prober's own log lines, so none is missed however busy the machine.
      const probesOf = (lines: string[]) => logEntries(lines).filter((e) => e.message === 'probe' && e.connectionId === 'day').length;
      const receivedBefore = receives.get('D-0')?.length ?? 0;
      const { result: cycles } = await captureOutput(async (live) => {
        const start = probesOf(live);
        await waitFor(() => probesOf(live) - start >= 6, { timeoutMs: 120_000, intervalMs: 50, what: 'six failed probe cycles' });
        const duringOutage = (receives.get('D-0')?.length ?? 0) - receivedBefore;
        return { count: probesOf(live) - start + 1, duringOutage };
      });
      const { duringOutage } = cycles;
      const held = await hourly.runtime.deliveries.get('daily', 'D-0', 'day');
      assert.equal(held?.status, 'paused');
      assert.equal(held?.attempts, 1, 'only the attempt that found the target down');

      await t.up();
      await hourly.gateway.probeNow();
      const delivered = await t.waitForDelivered(10, 30_000);
      assert.deepEqual(
        delivered.map((r) => r.headers['x-aux-system-msg-id']),
        ids,
      );
      // Per hold: the head is received at most once per probe cycle (plus its first receive and
      // the one after release); nothing behind it is received while it is held.
      assert.ok(duringOutage <= cycles.count, `D-0 received ${duringOutage} times in ${cycles.count} probe cycles`);
      const counts = receives.get('D-0')!;
      assert.equal(counts.length, counts.at(-1), 'every receive of D-0 was seen');
      for (const id of ids.slice(1)) assert.deepEqual(receives.get(id), [1], `${id} was received once, when its turn came`);
      // At one receive per hourly cycle, a message held for the queue's whole retention stays below the redrive count.
      const cyclesInRetention = DELIVERY_QUEUE.retentionPeriodSeconds / 3600;
      assert.ok(
        cyclesInRetention + 3 < DEAD_LETTER_QUEUE.maxReceiveCount,
        `${cyclesInRetention} cycles fit under ${DEAD_LETTER_QUEUE.maxReceiveCount}`,
      );
      const { Attributes } = await hourly.sdk.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: hourly.gateway.resources.deadLetterQueueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      assert.equal(Number(Attributes!.ApproximateNumberOfMessages) + Number(Attributes!.ApproximateNumberOfMessagesNotVisible), 0);
    } finally {
      await hourly.stop();
    }
  });

  it('reauthorize: a bad token keeps it unauthorized and says why; a good one resumes delivery at once', async () => {
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
      const good = await gw.request('POST', '/v1/connections/crm/reauthorize', { body: { auth: { type: 'bearer', token: 'good-token' } } });
      assert.equal(good.body.status, 'online');
      // No probe or hold timer runs in this test's window: only the reauthorize can release C-1.
      await t.waitForDelivered(2, 30_000);
      return { good };
    });
    assert.match(output, /connection reauthorized/, 'the capture does see the structured logs');
    assert.deepEqual(
      t.delivered().map((r) => r.headers['x-aux-system-msg-id']),
      ['C-1', 'C-2'],
    );
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
    // W-1 is held for an hour: only the release by `online` can deliver it now.
    await t.waitForDelivered(1, 30_000);
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
    await t.waitForDelivered(1, 30_000);
    const afterResume = (await gw.request('GET', '/v1/flows/books/log')).body.entries;
    assert.ok(afterResume.length >= before, 'resume keeps the log');
    assert.ok(afterResume.some((e: { code: string }) => e.code === 'invalid-message-id'));
  });
});
