import { after, before, describe, it } from 'node:test';
import * as lifecycle from '../../core/lifecycle';
import assert from 'node:assert/strict';
import type { SQSEvent } from 'aws-lambda';
import { createRuntime } from '../../adapters/all-services';
import type { Runtime } from '../../adapters/runtime';
import type { InMemoryEventPublisher } from '../../adapters/aws/event-publisher';
import type { DeliveryQueue, DeliveryTicket } from '../../core/ports';
import { createDelivererHandler } from '../../functions/deliverer/handler';
import { deliveryTicket as ticket, sqsRecord } from '../helpers/aws-events';
import { TestGateway } from '../helpers/gateway';
import { TestTarget } from '../helpers/target';

const record = (deliveryTicket: DeliveryTicket, sequence: number, receiveCount = 1) =>
  sqsRecord(deliveryTicket, { sequence, receiveCount });

/** Records visibility changes instead of calling SQS: the records below are handcrafted. */
class RecordingQueue implements DeliveryQueue {
  readonly delays: { receiptHandle: string; seconds: number }[] = [];
  async send(): Promise<void> {}
  async delay(receiptHandle: string, seconds: number): Promise<void> {
    this.delays.push({ receiptHandle, seconds });
  }
  async generation(): Promise<string> {
    return 'recording';
  }
}

describe('deliverer with AWS-shaped batches (up to 10 records of one group)', () => {
  let gw: TestGateway;
  let target: TestTarget;
  let key: string;
  let queue: RecordingQueue;
  let runtime: Runtime;

  before(async () => {
    gw = await TestGateway.start({ deliver: false });
    target = await TestTarget.start();
    key = await gw.partner('acme');
    queue = new RecordingQueue();
    runtime = createRuntime(gw.runtime.config, { queue, sealer: gw.runtime.sealer, logger: gw.runtime.logger });
  });

  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  it('stops a lane at its first retrying record and keeps everything behind it in flight', async () => {
    target.behaviour = (req) => (req.headers['x-aux-system-msg-id'] === 'G-3' ? { status: 503 } : { status: 200 });
    await gw.connection('batch', { url: target.url, retry: { count: 5, intervalSeconds: 30 } });
    await gw.connection('other', { url: `${target.url}/other` });
    await gw.flow('batches', { partnerId: 'acme', destinations: ['batch'] });
    await gw.flow('others', { partnerId: 'acme', destinations: ['other'] });
    const ids = Array.from({ length: 10 }, (_, i) => `G-${i + 1}`);
    for (const id of ids) assert.equal((await gw.post('batches', key, id, id)).status, 202);
    await gw.post('others', key, 'O-1', 'other');
    const records = ids.map((id, i) => record(ticket('batches', 'batch', id), i));
    const event: SQSEvent = { Records: [...records.slice(0, 5), record(ticket('others', 'other', 'O-1'), 99), ...records.slice(5)] };

    const response = await createDelivererHandler(runtime)(event);

    assert.deepEqual(
      response.batchItemFailures.map((f) => f.itemIdentifier),
      records.slice(2).map((r) => r.messageId),
      'the retrying record and all eight behind it are reported; nothing of the other lane',
    );
    assert.deepEqual(target.received.map((r) => r.headers['x-aux-system-msg-id']).sort(), ['G-1', 'G-2', 'G-3', 'O-1']);
    assert.deepEqual(
      queue.delays.find((d) => d.receiptHandle === 'receipt-G-3'),
      { receiptHandle: 'receipt-G-3', seconds: 30 },
    );
    for (const id of ids.slice(3)) {
      assert.deepEqual(
        queue.delays.find((d) => d.receiptHandle === `receipt-${id}`),
        { receiptHandle: `receipt-${id}`, seconds: 0 },
      );
    }
    const g3 = await runtime.deliveries.get('batches', 'G-3', 'batch');
    assert.equal(g3?.status, 'retrying');
    assert.equal((await runtime.deliveries.get('batches', 'G-4', 'batch'))?.status, 'queued');
  });

  it('posts once when the same queue message is handed over twice', async () => {
    target.behaviour = () => ({ status: 200 });
    await gw.connection('twice', { url: `${target.url}/twice` });
    await gw.flow('dupes', { partnerId: 'acme', destinations: ['twice'] });
    await gw.post('dupes', key, 'D-1', 'x');
    const handler = createDelivererHandler(runtime);
    const event: SQSEvent = { Records: [record(ticket('dupes', 'twice', 'D-1'), 1)] };
    assert.deepEqual(await handler(event), { batchItemFailures: [] });
    assert.deepEqual(await handler({ Records: [record(ticket('dupes', 'twice', 'D-1'), 1, 2)] }), { batchItemFailures: [] });
    assert.equal(target.byId('D-1').length, 1);
  });

  it('after a crash between the POST and the state write, posts again flagged possible-duplicate, and never a third time', async () => {
    target.behaviour = () => ({ status: 200 });
    await gw.connection('crashy', { url: `${target.url}/crashy` });
    await gw.flow('crashes', { partnerId: 'acme', destinations: ['crashy'] });
    await gw.post('crashes', key, 'C-1', 'x');
    let crash = true;
    const handler = createDelivererHandler(runtime, {
      afterRequest: () => {
        if (crash) throw new Error('simulated crash after the POST');
      },
    });
    const first = await handler({ Records: [record(ticket('crashes', 'crashy', 'C-1'), 1)] });
    assert.equal(first.batchItemFailures.length, 1, 'the crashed record stays in the queue');
    assert.equal((await runtime.deliveries.get('crashes', 'C-1', 'crashy'))?.attemptInFlight, 1);
    crash = false;
    assert.deepEqual(await handler({ Records: [record(ticket('crashes', 'crashy', 'C-1'), 1, 2)] }), { batchItemFailures: [] });
    assert.deepEqual(await handler({ Records: [record(ticket('crashes', 'crashy', 'C-1'), 1, 3)] }), { batchItemFailures: [] });
    const requests = target.byId('C-1');
    assert.equal(requests.length, 2, 'no third POST');
    assert.equal(requests[0]!.headers['x-sluice-possible-duplicate'], undefined);
    assert.equal(requests[1]!.headers['x-sluice-possible-duplicate'], 'true');
    assert.equal(requests[1]!.headers['x-sluice-attempt'], '2');
    assert.deepEqual(
      requests.map((r) => r.headers['x-aux-system-msg-id']),
      ['C-1', 'C-1'],
      'the same GUID on both POSTs',
    );
  });

  it('stops a flow after backoutThreshold internal failures in a row, publishes flow.stopped and backs the delivery out as internal', async () => {
    target.behaviour = () => ({ status: 200 });
    await gw.connection('fragile', { url: `${target.url}/fragile` });
    await gw.flow('backout', { partnerId: 'acme', destinations: ['fragile'], backoutThreshold: 2 });
    await gw.post('backout', key, 'I-1', 'x');
    const handler = createDelivererHandler(runtime, {
      afterRequest: () => {
        throw new Error('database went away');
      },
    });
    const first = await handler({ Records: [record(ticket('backout', 'fragile', 'I-1'), 1)] });
    assert.equal(first.batchItemFailures.length, 1, 'below the threshold the record stays for its retry');
    assert.equal((await gw.request('GET', '/v1/flows/backout')).body.status, 'enabled');
    assert.equal((await runtime.deliveries.get('backout', 'I-1', 'fragile'))?.debugNextAttempt, true);
    const second = await handler({ Records: [record(ticket('backout', 'fragile', 'I-1'), 1, 2)] });
    assert.deepEqual(second, { batchItemFailures: [] }, 'backed out: the queue message is done');
    const flow = (await gw.request('GET', '/v1/flows/backout')).body;
    assert.equal(flow.status, 'stopped');
    assert.match(flow.statusReason, /2 internal failures/);
    const published = (runtime.events as InMemoryEventPublisher).events;
    assert.ok(published.some((e) => e.type === 'flow.stopped' && e.detail.flowId === 'backout'));
    assert.ok(published.some((e) => e.type === 'message.failed' && e.detail.messageId === 'I-1' && e.detail.type === 'internal'));
    const backedOut = await runtime.deliveries.get('backout', 'I-1', 'fragile');
    assert.equal(backedOut?.status, 'failed');
    assert.equal(backedOut?.failureType, 'internal');
    assert.equal(backedOut?.debugNextAttempt, undefined);
    assert.equal((await gw.request('POST', '/v1/flows/backout/start')).body.status, 'enabled');
    assert.equal((await gw.request('POST', '/v1/failed-events/backout~I-1~fragile/restart')).status, 202);
    const healthy = createDelivererHandler(runtime);
    assert.deepEqual(await healthy({ Records: [record({ ...ticket('backout', 'fragile', 'I-1'), restarts: 1 }, 1)] }), {
      batchItemFailures: [],
    });
    await gw.countsSettled();
    assert.equal((await gw.request('GET', '/v1/flows/backout')).body.counts.delivered, 1);
  });

  it("hold-all: a due or in-flight retry of the head keeps holding the other lanes; a finished head's hold is cleared", async () => {
    target.behaviour = (req) => (req.headers['x-aux-system-msg-id'] === 'H-1' ? { status: 503 } : { status: 200 });
    await gw.connection('held', { url: `${target.url}/held`, threads: 4, onError: 'hold-all', retry: { count: 5, intervalSeconds: 0 } });
    await gw.flow('holds', { partnerId: 'acme', destinations: ['held'] });
    await gw.post('holds', key, 'H-1', 'head');
    await gw.post('holds', key, 'H-2', 'other lane');
    const handler = createDelivererHandler(runtime);
    // Whoever sees the head `retrying` must also see the hold: it is in place before that write.
    const holdWhenRetrying: (string | undefined)[] = [];
    const apply = runtime.deliveries.apply.bind(runtime.deliveries);
    runtime.deliveries.apply = async (delivery, step, ...rest) => {
      if (step.status === 'retrying') holdWhenRetrying.push((await runtime.connections.get('held', true))?.heldBy);
      return apply(delivery, step, ...rest);
    };
    // The head fails once: it is retrying and holds the connection until its retry is due (now).
    try {
      await handler({ Records: [record(ticket('holds', 'held', 'H-1'), 1)] });
    } finally {
      runtime.deliveries.apply = apply;
    }
    assert.deepEqual(holdWhenRetrying, ['holds~H-1~held'], 'the hold was up before the head read retrying');
    assert.equal((await runtime.deliveries.get('holds', 'H-1', 'held'))?.status, 'retrying');
    assert.equal((await runtime.connections.get('held', true))?.heldBy, 'holds~H-1~held');

    // The retry is due but not answered yet: another lane still waits, and looks again soon.
    const other = { ...record(ticket('holds', 'held', 'H-2'), 2), receiptHandle: 'receipt-H-2-wait' };
    const waiting = await handler({ Records: [other] });
    assert.equal(waiting.batchItemFailures.length, 1, 'H-2 is not attempted while the head retries');
    assert.deepEqual(
      queue.delays.find((d) => d.receiptHandle === 'receipt-H-2-wait'),
      { receiptHandle: 'receipt-H-2-wait', seconds: 1 },
    );
    assert.equal(target.byId('H-2').length, 0);

    // The head is finished by another path (discarded here): its hold is stale, cleared, and H-2 goes.
    const head = (await runtime.deliveries.get('holds', 'H-1', 'held'))!;
    await runtime.deliveries.apply(head, lifecycle.discarded(head, { at: new Date().toISOString(), by: 'test' }));
    assert.deepEqual(await handler({ Records: [record(ticket('holds', 'held', 'H-2'), 3)] }), { batchItemFailures: [] });
    assert.equal(target.byId('H-2').length, 1);
    assert.equal((await runtime.connections.get('held', true))?.heldBy, undefined, 'the stale hold is cleared');
  });

  it('hands records back untouched when the invocation is about to time out', async () => {
    target.behaviour = () => ({ status: 200 });
    await gw.connection('late', { url: `${target.url}/late` });
    await gw.flow('deadline', { partnerId: 'acme', destinations: ['late'] });
    await gw.post('deadline', key, 'T-1', 'x');
    await gw.post('deadline', key, 'T-2', 'y');
    const before = target.received.length;
    const response = await createDelivererHandler(runtime)(
      { Records: [record(ticket('deadline', 'late', 'T-1'), 1), record(ticket('deadline', 'late', 'T-2'), 2)] },
      { getRemainingTimeInMillis: () => 5_000 },
    );
    assert.equal(response.batchItemFailures.length, 2);
    assert.equal(target.received.length, before, 'nothing was started');
    assert.equal((await runtime.deliveries.get('deadline', 'T-1', 'late'))?.status, 'queued');
  });
});
