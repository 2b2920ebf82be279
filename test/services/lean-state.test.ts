import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as lifecycle from '../../core/lifecycle';
import { REPORT_CAP } from '../../adapters/aws/message-store';
import { TestGateway } from '../helpers/gateway';
import { TestTarget } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

/** DynamoDB operations that write, as the SDK names them. */
const WRITES = /^(Put|Update|Delete|TransactWrite|BatchWrite)(Item|Items)?$/;

describe('lean state: one record per message, one write per step', () => {
  let gw: TestGateway;
  let target: TestTarget;
  let key: string;
  const calls: { service: string; operation: string }[] = [];

  before(async () => {
    // No aggregator here: its writes (counts, listing pages) are off the message's path and counted apart.
    gw = await TestGateway.start({ aggregate: false, overrides: { recorder: (service, operation) => calls.push({ service, operation }) } });
    target = await TestTarget.start();
    target.behaviour = () => ({ status: 200 });
    key = await gw.partner('acme');
    await gw.connection('erp', { url: `${target.url}/erp` });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
  });

  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  const dynamo = (from: number) => calls.slice(from).filter((c) => c.service.toLowerCase().includes('dynamo'));

  it('accepts and delivers a 1 KiB message with one conditional put and one conditional update, no transaction', async () => {
    // The first post warms the ingest container's configuration reads.
    assert.equal((await gw.post('orders', key, 'WARM-1', 'x')).status, 202);
    await target.waitForDelivered(1);
    await waitFor(async () => (await gw.runtime.deliveries.get('orders', 'WARM-1', 'erp'))?.status === 'delivered', {
      what: 'warm-up delivered',
    });

    const start = calls.length;
    const accepted = await gw.post('orders', key, 'LEAN-1', 'p'.repeat(1024));
    assert.equal(accepted.status, 202);
    // A warm ingest reads nothing: its first DynamoDB call is the put (what follows is the deliverer's).
    assert.match(dynamo(start)[0]?.operation ?? '', /^Put/, JSON.stringify(dynamo(start)));

    await target.waitForDelivered(2);
    await waitFor(async () => (await gw.runtime.deliveries.get('orders', 'LEAN-1', 'erp'))?.status === 'delivered', { what: 'delivered' });
    const writes = dynamo(start).filter((c) => WRITES.test(c.operation));
    assert.deepEqual(
      writes.map((c) => c.operation.replace(/Item$/, '')),
      ['Put', 'Update'],
      'accepted with one put, delivered with one update',
    );
    assert.ok(!dynamo(start).some((c) => /Transact|Batch/.test(c.operation)), 'no transaction, no batch write');
    assert.equal(target.byId('LEAN-1')[0]!.headers['x-sluice-possible-duplicate'], undefined);

    // Nothing else was written for the message: no index entry, no report item, no counter.
    const items = (await gw.tableItems()).filter((item) => String(item.pk).includes('LEAN-1'));
    assert.deepEqual(
      items.map((item) => item.sk),
      ['MESSAGE'],
    );
    assert.equal(items[0]!.gsi1pk, undefined);
    assert.equal(items[0]!.gsi2pk, undefined);

    const detail = await gw.request('GET', '/v1/flows/orders/messages/LEAN-1');
    assert.deepEqual(
      detail.body.report.map((e: { event: string }) => e.event),
      ['received', 'queued', 'attempt', 'delivered'],
    );
  });

  it('lane counts travel with the flow: ingest reads no connection, and a new thread count reaches the flow', async () => {
    assert.deepEqual((await gw.runtime.flows.get('orders', true))?.destinationThreads, { erp: 1 });
    await gw.connection('erp', { url: `${target.url}/erp`, threads: 3 });
    assert.deepEqual((await gw.runtime.flows.get('orders', true))?.destinationThreads, { erp: 3 });
    const view = await gw.request('GET', '/v1/flows/orders');
    assert.equal(view.body.destinationThreads, undefined, 'internal: never returned');
    const start = calls.length;
    assert.equal((await gw.post('orders', key, 'LANES-1', 'x')).status, 202);
    // The connection save dropped the cached flow: ingest reads the flow again, and nothing else, before its put.
    const beforePut = dynamo(start).map((c) => c.operation);
    assert.deepEqual(
      beforePut.slice(
        0,
        beforePut.findIndex((op) => /^Put/.test(op)),
      ),
      ['GetItem'],
      JSON.stringify(beforePut),
    );
    const lanes = (await gw.request('GET', '/v1/flows/orders/messages/LANES-1')).body.deliveries.map((d: { lane: number }) => d.lane);
    assert.ok(lanes.every((lane: number) => lane >= 0 && lane < 3));
  });

  it('keeps a long execution report whole: the oldest entries spill out of the record, in order', async () => {
    assert.equal((await gw.post('orders', key, 'LONG-1', 'x')).status, 202);
    await waitFor(async () => (await gw.runtime.deliveries.get('orders', 'LONG-1', 'erp'))?.status === 'delivered', { what: 'delivered' });
    let d = (await gw.runtime.deliveries.get('orders', 'LONG-1', 'erp'))!;
    const total = REPORT_CAP * 2 + 5;
    for (let i = 0; i < total; i++) {
      const at = new Date(Date.parse(d.updatedAt) + 1 + i).toISOString();
      d = await gw.runtime.deliveries.apply(d, {
        ...lifecycle.requeueSeen(d, at),
        report: [{ at, event: 'warning', level: 'warning', detail: `note ${i}` }],
      });
    }
    const record = (await gw.tableItems()).find((item) => item.pk === 'MSG#orders#LONG-1' && item.sk === 'MESSAGE')!;
    assert.ok((record.report as unknown[]).length <= REPORT_CAP, 'the record keeps a bounded report');
    const report = (await gw.request('GET', '/v1/flows/orders/messages/LONG-1')).body.report as { event: string; detail: string }[];
    const notes = report.filter((e) => e.event === 'warning').map((e) => e.detail);
    assert.deepEqual(
      notes,
      Array.from({ length: total }, (_, i) => `note ${i}`),
    );
    assert.deepEqual(
      report.slice(0, 4).map((e) => e.event),
      ['received', 'queued', 'attempt', 'delivered'],
    );
  });
});
