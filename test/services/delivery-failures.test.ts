import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { TestGateway } from '../helpers/gateway';
import { TargetPool, type Behaviour } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';
import { laneFor } from '../../core/lanes';
import type { InMemoryEventPublisher } from '../../adapters/aws/event-publisher';

describe('failure classification, retries and the failed store', () => {
  let gw: TestGateway;
  let key: string;
  const targets = new TargetPool();
  const target = (behaviour?: Behaviour) => targets.start(behaviour);

  async function delivery(flowId: string, messageId: string) {
    return (await gw.request('GET', `/v1/flows/${flowId}/messages/${messageId}`)).body;
  }

  before(async () => {
    gw = await TestGateway.start();
    key = await gw.partner('acme');
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  it('retries a 503 exactly count times at the interval, fails as unavailable, keeps the payload, moves on', async () => {
    const t = await target();
    t.behaviour = (req) => (req.headers['x-aux-system-msg-id'] === 'R-1' ? { status: 503, body: 'down for maintenance' } : { status: 200 });
    await gw.connection('always503', { url: t.url, retry: { count: 3, intervalSeconds: 1 } });
    await gw.flow('retry', { partnerId: 'acme', destinations: ['always503'] });
    assert.equal((await gw.post('retry', key, 'R-1', 'first')).status, 202);
    assert.equal((await gw.post('retry', key, 'R-2', 'second')).status, 202);
    await t.waitForDelivered(1, 30_000);
    const attempts = t.byId('R-1');
    assert.equal(attempts.length, 4, 'one attempt plus three retries');
    assert.deepEqual(
      attempts.map((a) => a.headers['x-sluice-attempt']),
      ['1', '2', '3', '4'],
    );
    for (let i = 1; i < attempts.length; i++) {
      assert.ok(attempts[i]!.at - attempts[i - 1]!.answeredAt! >= 990, `retry ${i} waited the interval`);
    }
    assert.equal(t.delivered()[0]!.headers['x-aux-system-msg-id'], 'R-2', 'the lane moved on');
    const failed = await delivery('retry', 'R-1');
    assert.equal(failed.status, 'failed');
    assert.equal(failed.deliveries[0].failureType, 'unavailable');
    assert.equal(failed.deliveries[0].attempts, 4);
    assert.equal(failed.deliveries[0].lastError.httpStatus, 503);
    assert.equal(failed.deliveries[0].lastError.bodyExcerpt, 'down for maintenance');
    const events = failed.report.map((e: { event: string }) => e.event);
    assert.deepEqual(events.filter((e: string) => e === 'attempt').length, 4);
    assert.ok(events.includes('failed'));
    const stored = await gw.runtime.deliveries.get('retry', 'R-1', 'always503');
    const object = await gw.sdk.s3.send(new GetObjectCommand({ Bucket: gw.runtime.config.bucketName, Key: stored!.failedPayload!.key }));
    assert.equal(Buffer.from(await object.Body!.transformToByteArray()).toString(), 'first');
    await gw.countsSettled();
    const flow = (await gw.request('GET', '/v1/flows/retry')).body;
    assert.equal(flow.counts.failed, 1);
    assert.equal(flow.counts.delivered, 1);
    const published = (gw.runtime.events as InMemoryEventPublisher).events.filter((e) => e.type === 'message.failed');
    assert.ok(published.some((e) => e.detail.messageId === 'R-1' && e.detail.type === 'unavailable'));
  });

  it('fails a 400 at once as business, with one attempt', async () => {
    const t = await target(() => ({ status: 400, body: '{"error":"bad field"}' }));
    await gw.connection('strict', { url: t.url, retry: { count: 5, intervalSeconds: 0 } });
    await gw.flow('business', { partnerId: 'acme', destinations: ['strict'] });
    await gw.post('business', key, 'B-1', '{"qty": -1}', { 'content-type': 'application/json' });
    await waitFor(async () => (await delivery('business', 'B-1')).status === 'failed', { what: 'business failure' });
    assert.equal(t.received.length, 1);
    const body = await delivery('business', 'B-1');
    assert.equal(body.deliveries[0].failureType, 'business');
    assert.equal(body.deliveries[0].attempts, 1);
    assert.equal(body.deliveries[0].lastError.bodyExcerpt, '{"error":"bad field"}');
  });

  it('holds a 401 without a failed event, marks the connection unauthorized and pauses the flow', async () => {
    const t = await target(() => ({ status: 401 }));
    await gw.connection('locked', { url: t.url, threads: 2, auth: { type: 'bearer', token: 'expired-token' } });
    await gw.flow('auth', { partnerId: 'acme', destinations: ['locked'] });
    await gw.post('auth', key, 'A-1', 'x');
    await waitFor(async () => (await gw.request('GET', '/v1/connections/locked')).body.status === 'unauthorized', {
      what: 'unauthorized',
    });
    await waitFor(async () => (await delivery('auth', 'A-1')).deliveries[0].status === 'paused', { what: 'held delivery' });
    const body = await delivery('auth', 'A-1');
    assert.equal(body.deliveries[0].attempts, 0, 'no retry budget spent');
    assert.equal(body.deliveries[0].failureType, undefined);
    assert.equal(t.received[0]!.headers.authorization, 'Bearer expired-token');
    await gw.countsSettled();
    const flow = (await gw.request('GET', '/v1/flows/auth')).body;
    assert.equal(flow.status, 'paused');
    assert.match(flow.statusReason, /locked/);
    assert.equal(flow.counts.failed, 0);
    const stored = await gw.runtime.deliveries.get('auth', 'A-1', 'locked');
    assert.ok(stored!.heldReceipt, 'receipt kept for release');
    // A message in the other lane is received while the connection is unauthorized (A-1's lane is
    // blocked by A-1 itself). Once the deliverer has parked it, "not attempted" means something.
    const otherLane = Array.from({ length: 50 }, (_, i) => `A-${i + 2}`).find(
      (id) => laneFor({ messageId: id }, 2) !== laneFor({ messageId: 'A-1' }, 2),
    )!;
    await gw.post('auth', key, otherLane, 'y');
    await waitFor(async () => (await delivery('auth', otherLane)).deliveries[0].status === 'paused', { what: `${otherLane} held` });
    assert.equal((await delivery('auth', otherLane)).deliveries[0].attempts, 0);
    assert.equal(t.received.length, 1, 'nothing else is attempted while unauthorized');
  });

  it('fails a hanging target as timeout after its retries', async () => {
    const t = await target(() => ({ status: 200, hang: true }));
    await gw.connection('slow', { url: t.url, timeoutMs: 200, retry: { count: 1, intervalSeconds: 0 }, offlineAfter: 10 });
    await gw.flow('timeouts', { partnerId: 'acme', destinations: ['slow'] });
    await gw.post('timeouts', key, 'T-1', 'x');
    await waitFor(async () => (await delivery('timeouts', 'T-1')).status === 'failed', { what: 'timeout failure' });
    const body = await delivery('timeouts', 'T-1');
    assert.equal(body.deliveries[0].failureType, 'timeout');
    assert.equal(t.received.length, 2);
  });

  it('fails an expired message as expired without attempting it', async () => {
    const t = await target();
    await gw.connection('fine', { url: t.url });
    await gw.flow('expiry', { partnerId: 'acme', destinations: ['fine'] });
    await gw.post('expiry', key, 'X-1', 'x', { 'x-expires-at': '2020-01-01T00:00:00Z' });
    await waitFor(async () => (await delivery('expiry', 'X-1')).status === 'failed', { what: 'expired' });
    assert.equal((await delivery('expiry', 'X-1')).deliveries[0].failureType, 'expired');
    assert.equal(t.received.length, 0);
  });

  it('one retrying branch never blocks another: the good branch delivers everything while the bad one waits out its retry', async () => {
    const good = await target(() => ({ status: 200 }));
    const bad = await target(() => ({ status: 503 }));
    await gw.connection('good-2', { url: good.url });
    // A retry interval far longer than the test: the bad branch's lane is blocked all along.
    await gw.connection('bad-2', { url: bad.url, retry: { count: 5, intervalSeconds: 600 } });
    await gw.flow('fanout-retry', { partnerId: 'acme', destinations: ['bad-2', 'good-2'] });
    await gw.post('fanout-retry', key, 'FR-1', 'one');
    await waitFor(async () => (await gw.runtime.deliveries.get('fanout-retry', 'FR-1', 'bad-2'))?.status === 'retrying', {
      what: 'the bad branch is retrying',
    });
    for (const id of ['FR-2', 'FR-3']) await gw.post('fanout-retry', key, id, id);
    await good.waitForDelivered(3);
    assert.deepEqual(
      good.delivered().map((r) => r.headers['x-aux-system-msg-id']),
      ['FR-1', 'FR-2', 'FR-3'],
    );
    assert.equal((await gw.runtime.deliveries.get('fanout-retry', 'FR-1', 'bad-2'))?.status, 'retrying', 'still retrying meanwhile');
    assert.deepEqual(
      bad.received.map((r) => r.headers['x-aux-system-msg-id']),
      ['FR-1'],
      'the bad lane held FR-2 and FR-3 behind its head',
    );
    const body = await delivery('fanout-retry', 'FR-3');
    const byConnection = Object.fromEntries(
      body.deliveries.map((d: { connectionId: string; status: string }) => [d.connectionId, d.status]),
    );
    assert.equal(byConnection['good-2'], 'delivered');
    assert.notEqual(byConnection['bad-2'], 'delivered');
  });

  it('fans out to every destination; a message reads failed while any branch failed', async () => {
    const good = await target(() => ({ status: 200 }));
    const bad = await target(() => ({ status: 422, body: 'rejected' }));
    await gw.connection('good', { url: good.url });
    await gw.connection('bad', { url: bad.url });
    await gw.flow('fanout', { partnerId: 'acme', destinations: ['good', 'bad'] });
    for (const id of ['F-1', 'F-2', 'F-3']) await gw.post('fanout', key, id, id);
    await good.waitForDelivered(3);
    await waitFor(async () => (await delivery('fanout', 'F-3')).deliveries.every((d: { status: string }) => d.status !== 'queued'), {
      what: 'both branches settled',
    });
    const body = await delivery('fanout', 'F-3');
    const byConnection = Object.fromEntries(
      body.deliveries.map((d: { connectionId: string; status: string }) => [d.connectionId, d.status]),
    );
    assert.deepEqual(byConnection, { good: 'delivered', bad: 'failed' });
    assert.equal(body.status, 'failed', 'a message reads failed while any branch failed');
    assert.deepEqual(
      good.delivered().map((r) => r.headers['x-aux-system-msg-id']),
      ['F-1', 'F-2', 'F-3'],
    );
  });
});
