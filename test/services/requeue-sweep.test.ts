import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SwitchableQueue } from '../helpers/queues';
import { sweepPendingRequeues } from '../../services/enqueue';
import { TestGateway } from '../helpers/gateway';
import { TestTarget } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

describe('operator re-queues survive a failed queue send', () => {
  let gw: TestGateway;
  let target: TestTarget;
  let queue: SwitchableQueue;

  before(async () => {
    gw = await TestGateway.start({ overrides: { wrapQueue: (inner) => (queue = new SwitchableQueue(inner)) } });
    target = await TestTarget.start();
  });

  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  it('the sweep sends the ticket of a restart whose send failed, and it is delivered once', async () => {
    const key = await gw.partner('acme');
    let reject = true;
    target.behaviour = () => (reject ? { status: 422 } : { status: 200 });
    await gw.connection('erp', { url: target.url });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
    await gw.post('orders', key, 'RQ-1', 'x');
    const id = 'orders~RQ-1~erp';
    await waitFor(async () => (await gw.request('GET', `/v1/failed-events/${id}`)).status === 200, { what: 'failed event' });
    reject = false;
    queue.failing = true;
    const restart = await gw.request('POST', `/v1/failed-events/${id}/restart`);
    assert.equal(restart.status, 500, 'the send failed after the commit');
    queue.failing = false;
    assert.equal((await gw.runtime.deliveries.get('orders', 'RQ-1', 'erp'))?.status, 'queued');
    assert.equal(await sweepPendingRequeues(gw.runtime, { olderThanMs: 60_000 }), 0, 'too young to sweep');
    assert.equal(await sweepPendingRequeues(gw.runtime, { olderThanMs: -1000 }), 1);
    await target.waitForDelivered(1);
    await waitFor(async () => (await gw.runtime.deliveries.get('orders', 'RQ-1', 'erp'))?.status === 'delivered', { what: 'delivered' });
    assert.equal(await sweepPendingRequeues(gw.runtime, { olderThanMs: -1000 }), 0, 'nothing left to sweep');
    assert.equal(target.delivered().length, 1);
    assert.equal(target.delivered()[0]!.headers['x-sluice-possible-duplicate'], 'true');
  });
});
