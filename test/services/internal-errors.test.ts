import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InMemoryEventPublisher } from '../../adapters/aws/event-publisher';
import type { DeliveryTicket } from '../../core/ports';
import { captureOutput, logEntries, TestGateway } from '../helpers/gateway';
import { TargetPool } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

/**
 * SPEC delivery semantics 12 through the real parts: the queue emulator, the local
 * event-source poller and the deliverer, with an internal error injected after the POST
 * (as a database failure right after the target answered would be).
 */
describe('internal errors and backout (through the queue emulator and the local poller)', () => {
  let gw: TestGateway;
  let key: string;
  const targets = new TargetPool();
  /** Message ids whose next recording step throws, and how many more times. */
  const failures = new Map<string, number>();

  before(async () => {
    gw = await TestGateway.start({
      deliverer: {
        internalRetrySeconds: 1,
        afterRequest: (ticket: DeliveryTicket) => {
          const left = failures.get(ticket.messageId) ?? 0;
          if (left > 0) {
            failures.set(ticket.messageId, left - 1);
            throw new Error(`injected database error for ${ticket.messageId}`);
          }
        },
      },
    });
    key = await gw.partner('acme');
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  const delivery = (flowId: string, messageId: string, connectionId: string) => gw.runtime.deliveries.get(flowId, messageId, connectionId);
  const mentions = (entry: Record<string, any>, messageId: string) => JSON.stringify(entry).includes(`"${messageId}"`);

  it('retries after an internal error with debug logging for that retry only, flagged possible-duplicate', async () => {
    const t = await targets.start();
    await gw.connection('dbg', { url: t.url });
    await gw.flow('debugging', { partnerId: 'acme', destinations: ['dbg'] });
    failures.set('DBG-1', 1);
    const { entries } = await captureOutput(async () => {
      await gw.post('debugging', key, 'DBG-1', 'one');
      await t.waitForDelivered(1);
      await waitFor(async () => (await delivery('debugging', 'DBG-1', 'dbg'))?.status === 'delivered', { what: 'DBG-1 recorded' });
      await gw.post('debugging', key, 'DBG-2', 'two');
      await t.waitForDelivered(2);
      await waitFor(async () => (await delivery('debugging', 'DBG-2', 'dbg'))?.status === 'delivered', { what: 'DBG-2 recorded' });
    });
    const logs = logEntries(entries);
    const internal = logs.findIndex(
      (e) => e.level === 'ERROR' && /internal error while delivering/.test(e.message) && mentions(e, 'DBG-1'),
    );
    assert.ok(internal >= 0, 'the internal error is logged');
    const debug = logs.map((e, i) => ({ e, i })).filter(({ e }) => e.level === 'DEBUG');
    assert.ok(
      debug.some(({ e, i }) => i > internal && e.message === 'decision' && mentions(e, 'DBG-1')),
      'the retry logs its decision at DEBUG',
    );
    assert.ok(
      debug.some(({ e, i }) => i > internal && e.message === 'attempt finished' && mentions(e, 'DBG-1')),
      'the retry logs its attempt at DEBUG',
    );
    assert.ok(
      debug.every(({ i }) => i > internal),
      'nothing was logged at DEBUG before the internal error',
    );
    assert.deepEqual(
      debug.filter(({ e }) => mentions(e, 'DBG-2')).map(({ e }) => e.message),
      [],
      'the level is restored after that retry: the next message logs nothing at DEBUG',
    );
    assert.equal((await delivery('debugging', 'DBG-1', 'dbg'))?.debugNextAttempt, undefined, 'the debug flag is cleared');
    const [first, retry] = t.byId('DBG-1');
    assert.equal(first!.headers['x-sluice-possible-duplicate'], undefined);
    assert.equal(retry!.headers['x-sluice-possible-duplicate'], 'true', 'the target may have seen the first POST');
    assert.deepEqual(
      t.delivered().map((r) => r.headers['x-aux-system-msg-id']),
      ['DBG-1', 'DBG-1', 'DBG-2'],
    );
  });

  it('at the backout threshold: stops the flow, publishes flow.stopped, backs the delivery out as internal; start and restart deliver the rest in order', async () => {
    const t = await targets.start();
    await gw.connection('frail', { url: t.url });
    await gw.flow('backout', { partnerId: 'acme', destinations: ['frail'], backoutThreshold: 2 });
    failures.set('BO-1', 2);
    await gw.post('backout', key, 'BO-1', 'one');
    await gw.post('backout', key, 'BO-2', 'two');
    await waitFor(async () => (await delivery('backout', 'BO-1', 'frail'))?.status === 'failed', { what: 'BO-1 backed out' });
    const stopped = (await gw.request('GET', '/v1/flows/backout')).body;
    assert.equal(stopped.status, 'stopped');
    assert.match(stopped.statusReason, /2 internal failures in a row \(backout threshold 2\)/);
    const published = (gw.runtime.events as InMemoryEventPublisher).events;
    assert.ok(published.some((e) => e.type === 'flow.stopped' && e.detail.flowId === 'backout'));
    const log = (await gw.request('GET', '/v1/flows/backout/log')).body.entries;
    assert.ok(log.some((e: { code: string }) => e.code === 'flow-stopped'));

    const failed = (await gw.request('GET', '/v1/failed-events?flowId=backout&type=internal')).body.items;
    assert.equal(failed.length, 1);
    assert.equal(failed[0].messageId, 'BO-1');
    assert.equal(failed[0].suggestedAction, 'Look up the correlation id in the logs; restart.');
    assert.match(failed[0].error.message, /the gateway's own error \(Error\) 2 times in a row; look up correlation id/);
    assert.ok(!failed[0].error.message.includes('injected'), 'the internal error text stays in the logs');
    assert.equal(failed[0].payload.bytes, 3);

    // The stopped flow holds the rest of the lane: BO-2 is parked, never attempted.
    await waitFor(async () => (await delivery('backout', 'BO-2', 'frail'))?.status === 'paused', { what: 'BO-2 held while stopped' });
    assert.equal(t.byId('BO-2').length, 0, 'nothing behind the head was attempted while stopped');
    assert.equal(t.byId('BO-1').length, 2, 'one POST per failed try');

    assert.equal((await gw.request('POST', '/v1/flows/backout/start')).body.status, 'enabled');
    await t.waitForDelivered(3);
    assert.equal((await gw.request('POST', `/v1/failed-events/${failed[0].id}/restart`)).status, 202);
    await t.waitForDelivered(4);
    assert.deepEqual(
      t.delivered().map((r) => r.headers['x-aux-system-msg-id']),
      ['BO-1', 'BO-1', 'BO-2', 'BO-1'],
    );
    assert.deepEqual(
      t.byId('BO-1').map((r) => r.headers['x-sluice-possible-duplicate']),
      [undefined, 'true', 'true'],
    );
    await waitFor(async () => (await gw.request('GET', '/v1/flows/backout')).body.counts.delivered === 2, { what: 'both recorded' });
  });
});
