import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { deliveryQueueAttributes } from '../../local/provision';
import { laneFor } from '../../core/lanes';
import { DELIVERY_QUEUE } from '../../adapters/aws/definitions';
import { TestGateway } from '../helpers/gateway';
import { TargetPool, type TestTarget } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';
import { RetentionQueue } from '../helpers/retention-queue';

/**
 * SPEC delivery semantics 15: a connection down for 30 days, longer than the queue keeps a
 * message (14 days). The test's clock jumps a day at a time; a queue double drops every
 * ticket older than the retention on that clock (fauxqs keeps them forever), as SQS does.
 */

const DAY_MS = 86_400_000;
const THREADS = 3;
const CHAIN = 'order-7';

interface Posted {
  messageId: string;
  lane: number;
}

/** GUIDs that land in lane `lane` of THREADS. */
function idsInLane(prefix: string, lane: number, count: number): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < count; i++) {
    const id = `${prefix}-${i}`;
    if (laneFor({ messageId: id }, THREADS) === lane) ids.push(id);
  }
  return ids;
}

describe('an outage longer than the queue keeps messages (semantics 15)', () => {
  const targets = new TargetPool();
  let gw: TestGateway | undefined;

  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
  });
  after(() => targets.stopAll());

  /** A gateway on a clock the test moves (`setClockOffset`), over a queue that drops what is older than 14 days. */
  async function clockedGateway(): Promise<{ gw: TestGateway; queue: RetentionQueue; setClockOffset: (ms: number) => void }> {
    let offsetMs = 0;
    const clock = { now: () => new Date(Date.now() + offsetMs) };
    const queue = new RetentionQueue(clock, DELIVERY_QUEUE.retentionPeriodSeconds);
    const started = await TestGateway.start({
      fastProbeDelaysSeconds: [],
      overrides: { clock, wrapQueue: queue.wrapQueue },
      wrapDeliverer: queue.wrapDeliverer,
    });
    return {
      gw: started,
      queue,
      setClockOffset: (ms) => {
        offsetMs = ms;
      },
    };
  }

  /** The 30-day scene: a target that is down, three lanes and a chain, on a clocked gateway. */
  async function start() {
    const clocked = await clockedGateway();
    const { queue } = clocked;
    gw = clocked.gw;
    const key = await gw.partner('acme');
    const target = await targets.start();
    await target.down();
    await gw.connection('erp', {
      url: target.url,
      threads: THREADS,
      offlineAfter: 1,
      retry: { count: 3, intervalSeconds: 0 },
      timeoutMs: 500,
    });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
    const posted: Posted[] = [];
    const post = async (day: number) => {
      // Every lane gets messages, and the chain (which stays in one lane) one more.
      const ids = [0, 1, 2].flatMap((lane) => idsInLane(`D${day}-L${lane}`, lane, 2));
      for (const messageId of ids) {
        assert.equal((await gw!.post('orders', key, messageId, `order ${messageId}`)).status, 202);
        posted.push({ messageId, lane: laneFor({ messageId }, THREADS) });
      }
      const chained = `${CHAIN}-d${day}`;
      assert.equal((await gw!.post('orders', key, chained, `chain step of day ${day}`, { 'x-chain-id': CHAIN })).status, 202);
      posted.push({ messageId: chained, lane: laneFor({ messageId: chained, chainId: CHAIN }, THREADS) });
    };
    return {
      gw: gw!,
      queue,
      target,
      posted,
      post,
      /** Moves the test's clock to `day` days after the start. */
      toDay: (day: number) => {
        clocked.setClockOffset(day * DAY_MS);
      },
    };
  }

  /** Everything posted reached the target once, in acceptance order per lane, and nothing was dead-lettered. */
  async function assertAllDeliveredInOrder(gw: TestGateway, target: TestTarget, posted: Posted[]) {
    await target.waitForDelivered(posted.length, 120_000);
    await waitFor(async () => (await gw.runtime.connections.get('erp', true))?.parkedLanes === undefined, {
      what: 'every lane open again',
    }).catch(async (error: Error) => {
      // Say where the lanes stand: a round that never ended shows here.
      const lanes = await Promise.all(
        [0, 1, 2].map(async (lane) => ({
          state: await gw.runtime.lanes.get('erp', lane),
          entries: await gw.runtime.lanes.entries('erp', lane),
        })),
      );
      throw new Error(`${error.message}; lanes: ${JSON.stringify(lanes)}`);
    });
    const delivered = target.delivered().map((r) => String(r.headers['x-aux-system-msg-id']));
    for (let lane = 0; lane < THREADS; lane++) {
      const expected = posted.filter((p) => p.lane === lane).map((p) => p.messageId);
      assert.deepEqual(
        delivered.filter((id) => expected.includes(id)),
        expected,
        `lane ${lane} in acceptance order`,
      );
    }
    const chain = delivered.filter((id) => id.startsWith(CHAIN));
    assert.deepEqual(
      chain,
      posted.filter((p) => p.messageId.startsWith(CHAIN)).map((p) => p.messageId),
      'the chain in order',
    );
    for (const { messageId } of posted) {
      const requests = target.byId(messageId);
      // A request after the first must say it may be a duplicate.
      requests
        .slice(1)
        .forEach((r) => assert.equal(r.headers['x-sluice-possible-duplicate'], 'true', `${messageId} again without the flag`));
      assert.equal(requests.filter((r) => r.status === 200).length, 1, `${messageId} delivered once`);
    }
    const { Attributes = {} } = await gw.sdk.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: gw.gateway.resources.deadLetterQueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    assert.equal(
      Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible),
      0,
      'nothing dead-lettered',
    );
    assert.deepEqual((await gw.request('GET', '/v1/failed-events?flowId=orders')).body.items, []);
  }

  /** Parked deliveries of every lane. */
  async function parkedCount(gw: TestGateway): Promise<number> {
    let count = 0;
    for (let lane = 0; lane < THREADS; lane++) count += (await gw.runtime.lanes.entries('erp', lane)).length;
    return count;
  }

  it('30 days down with the hourly sweep: lanes are parked before their tickets expire, then delivered in order', async () => {
    const { gw, queue, target, posted, post, toDay } = await start();
    await post(0);
    // The first attempt finds the target down: the connection goes offline and every lane's head is held.
    await waitFor(async () => new Set((await gw.runtime.deliveries.held('erp')).map((h) => h.lane)).size === THREADS, {
      what: 'a held head in every lane',
      timeoutMs: 30_000,
    });
    for (let day = 1; day < 30; day++) {
      toDay(day);
      if (day === 5 || day === 20) {
        await post(day);
        await gw.countsSettled();
      }
      await gw.gateway.probeNow();
      // Parked lanes take in every ticket they hold: wait until the queue has handed them all over.
      if (day >= 12) {
        await waitFor(async () => (await parkedCount(gw)) === posted.length && (await gw.queueDepth()) === 0, {
          what: `day ${day}: every delivery parked`,
          timeoutMs: 30_000,
        });
      }
    }
    assert.deepEqual(queue.dropped, [], 'the queue never had to drop a ticket');
    assert.equal(target.received.length, 0);

    toDay(30);
    await target.up();
    await gw.gateway.probeNow();
    await assertAllDeliveredInOrder(gw, target, posted);
    // The execution report tells the whole story of a head held for 30 days.
    const report = (await gw.request('GET', `/v1/flows/orders/messages/${posted[0]!.messageId}`)).body.report as { event: string }[];
    assert.deepEqual([report[0]?.event, report.at(-1)?.event], ['received', 'delivered']);
    assert.ok(
      report.some((e) => e.event === 'paused'),
      JSON.stringify(report),
    );
  });

  it('tickets the queue already dropped (no sweep for 15 days) are queued again from the recorded state, in order', async () => {
    const { gw, queue, target, posted, post, toDay } = await start();
    await post(0);
    await waitFor(async () => new Set((await gw.runtime.deliveries.held('erp')).map((h) => h.lane)).size === THREADS, {
      what: 'a held head in every lane',
      timeoutMs: 30_000,
    });
    toDay(10);
    await post(10);
    await gw.countsSettled();
    // Nothing looked at the lanes for 15 days: the day-0 tickets are past the queue's retention.
    toDay(15);
    await target.up();
    await gw.gateway.probeNow();
    await assertAllDeliveredInOrder(gw, target, posted);
    assert.ok(queue.dropped.length > 0, 'the queue dropped the day-0 tickets');
  });

  it('the deliverer parks a lane itself when it handles a held ticket near the retention', async () => {
    const { gw, queue, target, posted, post, toDay } = await start();
    await post(0);
    await waitFor(async () => new Set((await gw.runtime.deliveries.held('erp')).map((h) => h.lane)).size === THREADS, {
      what: 'a held head in every lane',
      timeoutMs: 30_000,
    });
    // Day 13, and no sweep: the held tickets come back as their hold runs out (here: at once).
    toDay(13);
    for (const h of await gw.runtime.deliveries.held('erp')) await gw.runtime.queue.delay(h.heldReceipt!, 0);
    await waitFor(async () => (await parkedCount(gw)) === posted.length && (await gw.queueDepth()) === 0, {
      what: 'every delivery parked by the deliverer',
      timeoutMs: 30_000,
    });
    assert.deepEqual((await gw.runtime.connections.get('erp', true))?.parkedLanes, [0, 1, 2]);
    toDay(30);
    await target.up();
    await gw.gateway.probeNow();
    await assertAllDeliveredInOrder(gw, target, posted);
    assert.deepEqual(queue.dropped, []);
  });

  it('a queue deleted and created again: the sweep sees a new queue and queues everything again from the recorded state', async () => {
    const { gw, target, posted, post } = await start();
    await post(0);
    await waitFor(async () => new Set((await gw.runtime.deliveries.held('erp')).map((h) => h.lane)).size === THREADS, {
      what: 'a held head in every lane',
      timeoutMs: 30_000,
    });
    await gw.countsSettled();
    const sqs = gw.sdk.sqs;
    const { resources } = gw.gateway;
    const created = async () =>
      Number(
        (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: resources.queueUrl, AttributeNames: ['CreatedTimestamp'] }))).Attributes
          ?.CreatedTimestamp,
      );
    const before = await created();
    const dlq = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: resources.deadLetterQueueUrl, AttributeNames: ['QueueArn'] }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl: resources.queueUrl }));
    // A queue's creation time is in whole seconds: the new one must not share the old one's.
    await waitFor(() => Math.floor(Date.now() / 1000) > before, { what: 'the next second', intervalMs: 20 });
    const name = resources.queueUrl.slice(resources.queueUrl.lastIndexOf('/') + 1);
    const again = await sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: deliveryQueueAttributes(dlq.Attributes!.QueueArn!) }),
    );
    assert.equal(again.QueueUrl, resources.queueUrl);
    assert.notEqual(await created(), before);

    await target.up();
    await gw.gateway.probeNow();
    await assertAllDeliveredInOrder(gw, target, posted);
  });

  it('a head retrying for 12 days with its connection online: its lane gets fresh tickets at once, in order', async () => {
    const clocked = await clockedGateway();
    const { queue } = clocked;
    gw = clocked.gw;
    const key = await gw.partner('acme');
    let healthy = false;
    const target = await targets.start((request) =>
      healthy || request.headers['x-aux-system-msg-id'] !== 'R-0' ? { status: 200 } : { status: 503 },
    );
    await gw.connection('erp', { url: target.url, retry: { count: 100, intervalSeconds: 1 } });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
    const ids = ['R-0', 'R-1', 'R-2', 'R-3'];
    for (const id of ids) assert.equal((await gw.post('orders', key, id, id)).status, 202);
    await waitFor(async () => (await gw!.request('GET', '/v1/flows/orders/messages/R-0')).body.deliveries[0].status === 'retrying', {
      what: 'R-0 retrying',
    });
    // Twelve days on, its next retry finds the ticket near the queue's retention.
    clocked.setClockOffset(12.5 * DAY_MS);
    await waitFor(async () => ((await gw!.runtime.lanes.get('erp', 0))?.epoch ?? 0) >= 1, { what: 'the lane parked', timeoutMs: 30_000 });
    healthy = true;
    await target.waitForDelivered(ids.length, 60_000);
    assert.deepEqual(
      target.delivered().map((r) => r.headers['x-aux-system-msg-id']),
      ids,
    );
    for (const id of ids)
      target
        .byId(id)
        .slice(1)
        .forEach((r) => assert.equal(r.headers['x-sluice-possible-duplicate'], 'true', id));
    await waitFor(async () => (await gw!.runtime.connections.get('erp', true))?.parkedLanes === undefined, { what: 'the lane open again' });
    assert.deepEqual(queue.dropped, []);
  });
});
