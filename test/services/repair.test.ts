import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '@aws-lambda-powertools/logger';
import { TestGateway } from '../helpers/gateway';
import { TargetPool, type Behaviour } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';
import { mapLimit } from '../../core/concurrency';

describe('bulk restart of failed events', () => {
  let gw: TestGateway;
  let key: string;
  const targets = new TargetPool();
  const newTarget = (behaviour?: Behaviour) => targets.start(behaviour);
  const counts = async (flowId: string) => (await gw.request('GET', `/v1/flows/${flowId}`)).body.counts;

  before(async () => {
    // Hundreds of failures would log hundreds of lines; only errors matter here.
    gw = await TestGateway.start({ overrides: { logger: new Logger({ serviceName: 'sluice-test', logLevel: 'ERROR' }) } });
    key = await gw.partner('acme');
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  it('restarts more than one index page of failed events (105) in one call and delivers each exactly once', async () => {
    const t = await newTarget();
    let healthy = false;
    t.behaviour = () => (healthy ? { status: 200 } : { status: 400, body: 'rejected' });
    await gw.connection('bulk-target', { url: t.url, threads: 16, onError: 'hold-lane' });
    await gw.flow('bulk', { partnerId: 'acme', destinations: ['bulk-target'] });

    // Just over one page of the bulk restart's index reads (100): the second page must be followed too.
    const total = 105;
    const ids = Array.from({ length: total }, (_, i) => `B-${String(i).padStart(4, '0')}`);
    let started = performance.now();
    await mapLimit(ids, 20, async (id) => {
      const result = await gw.post('bulk', key, id, `payload ${id}`);
      assert.equal(result.status, 202);
    });
    await waitFor(async () => (await counts('bulk')).failed === total, { timeoutMs: 60_000, intervalMs: 200, what: `${total} failed` });
    const failPhase = performance.now() - started;

    healthy = true;
    started = performance.now();
    const bulk = await gw.request('POST', '/v1/failed-events/restart', { body: { flowId: 'bulk' } });
    const restartMs = performance.now() - started;
    assert.equal(bulk.status, 202, JSON.stringify(bulk.body));
    assert.deepEqual(bulk.body, { restarted: total, skipped: 0 });
    await t.waitForDelivered(total, 60_000);
    const deliverMs = performance.now() - started;

    const perId = new Map<string, number>();
    for (const r of t.delivered())
      perId.set(String(r.headers['x-aux-system-msg-id']), (perId.get(String(r.headers['x-aux-system-msg-id'])) ?? 0) + 1);
    assert.equal(perId.size, total);
    assert.ok(
      [...perId.values()].every((n) => n === 1),
      'each delivered exactly once',
    );
    assert.ok(t.delivered().every((r) => r.headers['x-sluice-possible-duplicate'] === 'true'));
    assert.equal((await gw.request('GET', '/v1/failed-events?flowId=bulk')).body.items.length, 0);
    await waitFor(async () => (await counts('bulk')).delivered === total, { what: 'delivered count' });
    const c = await counts('bulk');
    assert.equal(c.failed, 0);
    assert.equal(c.queued, 0);
    const audit = await gw.runtime.audit.list(new Date().toISOString().slice(0, 10));
    assert.ok(
      audit.some(
        (a) =>
          a.action === 'failed-event.bulk-restart' &&
          a.detail === `restarted ${total}, skipped 0` &&
          a.target === 'failed-events?flowId=bulk',
      ),
    );
    console.log(
      `bulk: fail phase ${Math.round(failPhase)} ms, restart call ${Math.round(restartMs)} ms, redelivery ${Math.round(deliverMs)} ms`,
    );
  });

  it('filters by connection and type and skips events with an invalid correction', async () => {
    const a = await newTarget();
    const b = await newTarget();
    a.behaviour = (_req, index) => (index < 3 ? { status: 422 } : { status: 200 });
    b.behaviour = (_req, index) => (index < 1 ? { status: 404 } : { status: 200 });
    await gw.connection('filter-a', { url: a.url });
    await gw.connection('filter-b', { url: b.url });
    await gw.flow('filtered', { partnerId: 'acme', destinations: ['filter-a', 'filter-b'], maxPayloadBytes: 32 });
    // F-1..3 fail on a; F-1 also fails on b.
    for (const id of ['F-1', 'F-2', 'F-3']) await gw.post('filtered', key, id, id);
    await waitFor(async () => (await counts('filtered')).failed === 4, { timeoutMs: 20_000, what: '4 failed' });

    const none = await gw.request('POST', '/v1/failed-events/restart', { body: { flowId: 'filtered', type: 'timeout' } });
    assert.deepEqual(none.body, { restarted: 0, skipped: 0 });

    // An empty correction on F-2 (connection a): skipped, and left failed.
    const upload = (await gw.request('POST', '/v1/failed-events/filtered~F-2~filter-a/upload-url')).body;
    assert.equal((await fetch(upload.url, { method: 'PUT', body: '' })).status, 200);
    const onA = await gw.request('POST', '/v1/failed-events/restart', { body: { connectionId: 'filter-a', type: 'business' } });
    assert.equal(onA.status, 202);
    assert.deepEqual(onA.body, { restarted: 2, skipped: 1 });
    await a.waitForDelivered(2);
    assert.deepEqual((await gw.request('GET', '/v1/failed-events?flowId=filtered')).body.items.map((i: any) => i.id).sort(), [
      'filtered~F-1~filter-b',
      'filtered~F-2~filter-a',
    ]);

    const onB = await gw.request('POST', '/v1/failed-events/restart', { body: { flowId: 'filtered', connectionId: 'filter-b' } });
    assert.deepEqual(onB.body, { restarted: 1, skipped: 0 });
    await b.waitForDelivered(3);
    assert.equal(b.byId('F-1').filter((r) => r.status === 200).length, 1);
  });
});
