import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSEvent } from 'aws-lambda';
import { createDelivererHandler } from '../../functions/deliverer/handler';
import { LocalEventSourcePoller } from '../../local/poller';
import { TestGateway } from '../helpers/gateway';
import { TargetPool } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

describe('the deliverer on batches as AWS hands them out (real emulator, local poller, real target)', () => {
  let gw: TestGateway;
  let poller: LocalEventSourcePoller | undefined;
  const targets = new TargetPool();

  before(async () => {
    // No poller of the gateway's own: the test starts one once the whole lane is queued.
    gw = await TestGateway.start({ deliver: false, fastProbeDelaysSeconds: [] });
  });

  after(async () => {
    await poller?.stop();
    await gw?.stop();
    await targets.stopAll();
  });

  it('a head that must wait for its retry keeps its place; the rest of its batch comes back behind it, in order, each attempted once', async () => {
    const key = await gw.partner('acme');
    let refusedHead = false;
    const t = await targets.start((request) => {
      if (request.headers['x-aux-system-msg-id'] === 'L-1' && !refusedHead) {
        refusedHead = true;
        return { status: 503 };
      }
      return { status: 200 };
    });
    await gw.connection('erp', { url: t.url, threads: 1, retry: { count: 3, intervalSeconds: 1 }, timeoutMs: 2000 });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
    const ids = ['L-1', 'L-2', 'L-3', 'L-4', 'L-5'];
    for (const id of ids) assert.equal((await gw.post('orders', key, id, id)).status, 202);

    const deliver = createDelivererHandler(gw.runtime);
    const batches: { messages: string[]; receives: string[] }[] = [];
    poller = new LocalEventSourcePoller({
      sqs: gw.sdk.sqs,
      queueUrl: gw.gateway.resources.queueUrl,
      concurrency: 1,
      handler: (event: SQSEvent) => {
        batches.push({
          messages: event.Records.map((r) => JSON.parse(r.body).messageId as string),
          receives: event.Records.map((r) => r.attributes.ApproximateReceiveCount),
        });
        return deliver(event);
      },
      onError: (error) => assert.fail(error as Error),
    });
    poller.start();
    const delivered = await t.waitForDelivered(5, 30_000);
    await poller.stop();

    // One batch held the whole lane; the head's retry gave the other four back, and the next
    // batch brought the lane again from its head, in order.
    assert.deepEqual(batches[0], { messages: ids, receives: ['1', '1', '1', '1', '1'] });
    assert.deepEqual(batches[1], { messages: ids, receives: ['2', '2', '2', '2', '2'] });
    assert.deepEqual(
      t.received.map((r) => `${r.headers['x-aux-system-msg-id']}:${r.status}`),
      ['L-1:503', 'L-1:200', 'L-2:200', 'L-3:200', 'L-4:200', 'L-5:200'],
    );
    assert.deepEqual(
      delivered.map((r) => r.headers['x-aux-system-msg-id']),
      ids,
    );
    // Only the head's second attempt is flagged (SPEC 3: every attempt after the first); the
    // followers were given back before any attempt, so theirs is a first one.
    assert.deepEqual(
      t.received.map((r) => r.headers['x-sluice-possible-duplicate']),
      [undefined, 'true', undefined, undefined, undefined, undefined],
    );
    await waitFor(async () => (await gw.request('GET', '/v1/flows/orders/messages/L-5')).body?.status === 'delivered', {
      what: 'L-5 recorded delivered',
    });
  });
});
