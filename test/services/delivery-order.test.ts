import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TestGateway } from '../helpers/gateway';
import { TestTarget } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

describe('ordered delivery through the local event source', () => {
  let gw: TestGateway;
  let target: TestTarget;
  let key: string;

  before(async () => {
    gw = await TestGateway.start();
    target = await TestTarget.start();
    key = await gw.partner('acme');
  });

  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  it('delivers 60 messages in acceptance order while the target fails 30% of the time', async () => {
    // A seeded pseudo-random failure pattern keeps the test reproducible.
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    target.behaviour = () => (random() < 0.3 ? { status: 503, body: 'busy' } : { status: 200 });
    await gw.connection('erp', { url: `${target.url}/orders`, retry: { count: 50, intervalSeconds: 0 } });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
    const ids = Array.from({ length: 60 }, (_, i) => `PO-${String(i).padStart(4, '0')}`);
    for (const id of ids) {
      const result = await gw.post('orders', key, id, `order ${id}`);
      assert.equal(result.status, 202);
    }
    const delivered = await target.waitForDelivered(60, 90_000);
    assert.deepEqual(
      delivered.map((r) => r.headers['x-aux-system-msg-id']),
      ids,
      'successful deliveries in acceptance order',
    );
    assert.ok(target.received.filter((r) => r.status === 503).length >= 10, 'the target failed often, between deliveries');
    for (const id of ids) {
      const requests = target.byId(id);
      assert.equal(requests.filter((r) => r.status === 200).length, 1, `${id} delivered once`);
      assert.equal(requests[0]!.headers['x-sluice-possible-duplicate'], undefined, `${id}: first attempt not flagged`);
      assert.equal(requests[0]!.headers['x-sluice-attempt'], '1');
      for (const later of requests.slice(1)) assert.equal(later.headers['x-sluice-possible-duplicate'], 'true');
      assert.equal(requests.at(-1)!.body.toString(), `order ${id}`);
    }
    const last = await gw.request('GET', `/v1/flows/orders/messages/${ids.at(-1)}`);
    assert.equal(last.body.status, 'delivered');
    await waitFor(async () => (await gw.request('GET', '/v1/flows/orders')).body.counts.delivered === 60, { what: 'counts' });
    const flow = await gw.request('GET', '/v1/flows/orders');
    assert.deepEqual(flow.body.counts, { accepted: 60, queued: 0, delivered: 60, failed: 0, suspended: 0, inError: 0 });
  });

  it('delivers a 2 MiB binary payload byte for byte with its content type', async () => {
    target.behaviour = () => ({ status: 202 });
    const payload = randomBytes(2 * 1024 * 1024);
    const before = target.delivered().length;
    const result = await gw.post('orders', key, 'BIN-2M', payload, { 'content-type': 'application/vnd.acme.bin' });
    assert.equal(result.status, 202);
    await target.waitForDelivered(before + 1);
    const [request] = target.byId('BIN-2M');
    assert.equal(request!.headers['content-type'], 'application/vnd.acme.bin');
    assert.ok(request!.body.equals(payload));
  });
});
