import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { laneFor } from '../../core/lanes';
import { mapLimit } from '../../core/concurrency';
import { TestGateway } from '../helpers/gateway';
import { TargetPool, type ReceivedRequest, type TestTarget } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';
import { replayDeliveries, type ReplayPosition } from '../../services/replay';

const idOf = (r: ReceivedRequest) => String(r.headers['x-aux-system-msg-id']);
const flagged = (r: ReceivedRequest) => r.headers['x-sluice-possible-duplicate'] === 'true';

/** The GUIDs of `requests` per lane of a `threads`-lane connection, in the order the target got them. */
function perLane(requests: ReceivedRequest[], threads: number): string[][] {
  const lanes: string[][] = Array.from({ length: threads }, () => []);
  for (const r of requests) lanes[laneFor({ messageId: idOf(r) }, threads)]!.push(idOf(r));
  return lanes;
}

describe('replay (POST /v1/connections/{id}/replay, SPEC semantics 17)', () => {
  let gw: TestGateway;
  let key: string;
  const targets = new TargetPool();

  const replay = (connectionId: string, body: unknown) => gw.request('POST', `/v1/connections/${connectionId}/replay`, { body });
  const report = async (flowId: string, messageId: string) => {
    const result = await gw.request('GET', `/v1/flows/${flowId}/messages/${messageId}`);
    assert.equal(result.status, 200, JSON.stringify(result.body));
    return result.body as { status: string; report: { event: string; detail: string; connectionId?: string }[] };
  };

  before(async () => {
    gw = await TestGateway.start();
    key = await gw.partner('acme');
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  it('replays 1,000 messages across 4 lanes: again in the original order per lane, every attempt flagged, reports say replayed', async () => {
    const target = await targets.start();
    await gw.connection('restored', { url: target.url, threads: 4 });
    await gw.flow('ledger', { partnerId: 'acme', destinations: ['restored'] });
    const since = new Date().toISOString();
    const ids = Array.from({ length: 1000 }, (_, i) => `L-${String(i).padStart(4, '0')}`);
    const postStarted = performance.now();
    for (let i = 0; i < ids.length; i += 100) {
      const messages = ids.slice(i, i + 100).map((id) => ({ id, payload: `entry ${id}` }));
      const result = await gw.request('POST', '/v1/flows/ledger/batches', { token: key, body: { messages } });
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.ok(result.body.results.every((r: { status: string }) => r.status === 'accepted'));
    }
    const first = await target.waitForDelivered(1000, 300_000);
    const firstDeliveryMs = performance.now() - postStarted;
    const lanes = perLane(first, 4);
    assert.ok(
      lanes.every((lane) => lane.length > 150),
      `all four lanes carry messages: ${lanes.map((l) => l.length)}`,
    );
    // The array order of the batches is the acceptance order, which each lane kept.
    const accepted = perLane(
      ids.map((id) => ({ headers: { 'x-aux-system-msg-id': id } }) as unknown as ReceivedRequest),
      4,
    );
    assert.deepEqual(lanes, accepted, 'first delivery in acceptance order per lane');
    assert.ok(!first.some(flagged), 'no first delivery is flagged');
    await gw.countsSettled();

    // One call replays up to 1,000 within its time budget; on a slow machine it hands back a cursor.
    const replayStarted = performance.now();
    let replayed = 0;
    let cursor: string | undefined;
    let calls = 0;
    do {
      const result = await replay('restored', { since, ...(cursor ? { cursor } : {}) });
      assert.equal(result.status, 202, JSON.stringify(result.body));
      assert.ok(Date.parse(result.body.until) > Date.parse(since), result.body.until);
      replayed += result.body.replayed;
      cursor = result.body.cursor ?? undefined;
      calls += 1;
    } while (cursor);
    const replayCallMs = performance.now() - replayStarted;
    assert.equal(replayed, 1000);

    await waitFor(() => target.received.length >= 2000, { timeoutMs: 300_000, intervalMs: 50, what: '1,000 replayed deliveries' });
    const replayedMs = performance.now() - replayStarted;
    const again = target.received.slice(1000);
    assert.equal(again.length, 1000, 'nothing arrives more than once more');
    assert.ok(again.every((r) => r.status === 200));
    assert.deepEqual(perLane(again, 4), accepted, 'replayed in the original order per lane');
    assert.deepEqual(again.filter((r) => !flagged(r)).map(idOf), [], 'every replayed attempt is flagged possible-duplicate');
    assert.deepEqual([...new Set(again.map((r) => r.headers['x-sluice-attempt']))], ['2'], 'numbered on from the first delivery');
    assert.deepEqual(new Set(again.map(idOf)), new Set(ids));

    await waitFor(async () => (await report('ledger', ids.at(-1)!)).status === 'delivered', { what: 'the last replay recorded' });
    const reports = await mapLimit(ids, 8, (id) => report('ledger', id));
    for (const [i, r] of reports.entries()) {
      assert.equal(r.status, 'delivered', ids[i]);
      const events = r.report.map((e) => e.event);
      assert.deepEqual(
        events.filter((e) => e === 'replayed' || e === 'delivered'),
        ['delivered', 'replayed', 'delivered'],
        `${ids[i]}: ${events}`,
      );
      const entry = r.report.find((e) => e.event === 'replayed')!;
      assert.equal(entry.connectionId, 'restored');
      assert.match(entry.detail, /^replayed to restored by /);
    }
    await gw.countsSettled();
    const flow = (await gw.request('GET', '/v1/flows/ledger')).body;
    assert.equal(flow.counts.delivered, 1000);
    assert.equal(flow.counts.queued, 0);
    assert.equal(flow.counts.accepted, 1000, 'a replay accepts nothing new');
    console.log(
      `replay of 1,000 across 4 lanes: first delivery ${Math.round(firstDeliveryMs)} ms; replay in ${calls} call(s), ${Math.round(replayCallMs)} ms; replayed deliveries done ${Math.round(replayedMs)} ms after the first call`,
    );
  });

  describe('a window, behind queued traffic, one flow, in slices', () => {
    let target: TestTarget;
    const received: Record<string, string> = {};
    const post = async (flowId: string, id: string) => {
      const result = await gw.post(flowId, key, id, `body ${id}`);
      assert.equal(result.status, 202, JSON.stringify(result.body));
      received[id] = result.body.receivedAt;
    };

    before(async () => {
      target = await targets.start();
      await gw.connection('wms', { url: target.url, threads: 1 });
      await gw.connection('crm', { url: target.url });
      await gw.flow('inbound', { partnerId: 'acme', destinations: ['wms'] });
      await gw.flow('returns', { partnerId: 'acme', destinations: ['wms'] });
      await gw.flow('contacts', { partnerId: 'acme', destinations: ['crm'] });
      // One after the other, so the receivedAt of each is later than the one before.
      for (const [flowId, id] of [
        ['inbound', 'A1'],
        ['returns', 'A2'],
        ['inbound', 'A3'],
        ['returns', 'A4'],
      ] as const) {
        await post(flowId, id);
        await target.waitForDelivered(Object.keys(received).length);
      }
      await gw.countsSettled();
    });

    it('replays [since, until) of every flow using the connection behind what is already queued, in slices with a cursor', async () => {
      // The connection is down while a new message waits in its lane: the replay goes behind it.
      assert.equal((await gw.request('POST', '/v1/connections/wms/offline')).status, 200);
      await post('inbound', 'B1');
      await waitFor(async () => (await report('inbound', 'B1')).status === 'paused', { what: 'B1 held' });
      const window = { since: received.A2!, until: received.A4! };
      const sliced = await replay('wms', { ...window, limit: 1 });
      assert.equal(sliced.status, 202, JSON.stringify(sliced.body));
      assert.equal(sliced.body.replayed, 1);
      assert.equal(typeof sliced.body.cursor, 'string', 'stopped at its limit: a cursor goes on');
      assert.equal(sliced.body.until, new Date(received.A4!).toISOString());

      const otherWindow = await replay('wms', { since: received.A1!, until: received.A4!, cursor: sliced.body.cursor });
      assert.equal(otherWindow.status, 400, 'a cursor belongs to its window');
      assert.equal(otherWindow.body.code, 'invalid-body');
      assert.match(otherWindow.body.detail, /cursor/);

      const rest = await replay('wms', { ...window, limit: 1, cursor: sliced.body.cursor });
      assert.equal(rest.status, 202, JSON.stringify(rest.body));
      assert.deepEqual([rest.body.replayed, rest.body.cursor], [1, null]);
      const done = await replay('wms', { ...window, cursor: sliced.body.cursor });
      assert.equal(done.body.replayed, 0, 'the same slice again: already queued, not replayed twice');
      assert.equal((await report('returns', 'A4')).status, 'delivered', 'until is exclusive');
      assert.equal((await report('inbound', 'A1')).status, 'delivered', 'before since');
      for (const [flowId, id] of [
        ['returns', 'A2'],
        ['inbound', 'A3'],
      ] as const)
        assert.equal((await report(flowId, id)).status, 'queued', id);
      assert.equal(target.received.length, 4, 'nothing goes out while the connection is offline');

      assert.equal((await gw.request('POST', '/v1/connections/wms/online')).status, 200);
      await target.waitForDelivered(7);
      const after = target.received.slice(4);
      assert.deepEqual(after.map(idOf), ['B1', 'A2', 'A3'], 'what was queued first, then the replay in acceptance order');
      assert.deepEqual(after.map(flagged), [false, true, true]);
      for (const [flowId, id] of [
        ['returns', 'A2'],
        ['inbound', 'A3'],
      ] as const) {
        const r = await waitFor(
          async () => {
            const view = await report(flowId, id);
            return view.status === 'delivered' ? view : undefined;
          },
          { what: `${id} delivered again` },
        );
        const replayed = r.report.filter((e) => e.event === 'replayed');
        assert.equal(replayed.length, 1, id);
        assert.match(replayed[0]!.detail, new RegExp(`received in \\[${new Date(received.A2!).toISOString().replace(/\./g, '\\.')}, `));
      }
    });

    it('replays only the flow it is asked for', async () => {
      const before = target.received.length;
      const result = await replay('wms', { since: received.A1!, flowId: 'returns' });
      assert.equal(result.status, 202, JSON.stringify(result.body));
      assert.equal(result.body.replayed, 2);
      await target.waitForDelivered(before + 2);
      const again = target.received.slice(before);
      assert.deepEqual(again.map(idOf), ['A2', 'A4']);
      assert.ok(again.every(flagged));
    });

    it('refuses bad input with a problem and changes nothing', async () => {
      await waitFor(async () => (await report('returns', 'A4')).status === 'delivered', { what: 'A4 delivered again' });
      const before = target.received.length;
      const since = received.A1!;
      const cases: [string, unknown, number, string][] = [
        ['wms', {}, 400, 'invalid-body'],
        ['wms', { since: 'yesterday' }, 400, 'invalid-body'],
        ['wms', { since: '2026-02-30T00:00:00Z' }, 400, 'invalid-body'],
        ['wms', { since, until: 'soon' }, 400, 'invalid-body'],
        ['wms', { since, until: since }, 400, 'invalid-body'],
        ['wms', { since: received.A3!, until: received.A2! }, 400, 'invalid-body'],
        ['wms', { since: new Date(Date.now() + 3600_000).toISOString() }, 400, 'invalid-body'],
        ['wms', { since, dryRun: true }, 400, 'invalid-body'],
        ['wms', { since, flowId: 'no such flow!' }, 400, 'invalid-body'],
        ['wms', { since, limit: 0 }, 400, 'invalid-body'],
        ['wms', { since, limit: 1001 }, 400, 'invalid-body'],
        ['wms', { since, cursor: 'garbage' }, 400, 'invalid-body'],
        ['wms', [since], 400, 'invalid-body'],
        ['wms', 'since=yesterday', 400, 'invalid-body'],
        ['nope', { since }, 404, 'not-found'],
        ['wms', { since, flowId: 'nope' }, 404, 'unknown-flow'],
        ['wms', { since, flowId: 'contacts' }, 409, 'conflict'],
      ];
      for (const [connectionId, body, status, code] of cases) {
        const result = await replay(connectionId, body);
        assert.equal(result.status, status, `${connectionId} ${JSON.stringify(body)}: ${JSON.stringify(result.body)}`);
        assert.equal(result.body.code, code, JSON.stringify(body));
        assert.match(result.headers.get('content-type') ?? '', /application\/problem\+json/);
      }
      for (const [flowId, id] of [
        ['inbound', 'A1'],
        ['returns', 'A2'],
        ['inbound', 'A3'],
        ['returns', 'A4'],
        ['inbound', 'B1'],
      ] as const) {
        assert.equal((await report(flowId, id)).status, 'delivered', id);
      }
      assert.equal(target.received.length, before, 'nothing was sent');
    });

    it('a call past its time budget stops after one chunk and says where; going on from there keeps the order', async () => {
      const before = target.received.length;
      const request = {
        connectionId: 'wms',
        flowIds: ['inbound', 'returns'],
        since: new Date(received.A1!),
        until: new Date(received.B1!),
      };
      const stops: string[] = [];
      let after: ReplayPosition | undefined;
      do {
        const outcome = await replayDeliveries(gw.runtime, { ...request, ...(after ? { after } : {}) }, { timeBudgetMs: 0, chunkSize: 1 });
        assert.equal(outcome.replayed, 1, 'each call makes progress');
        after = outcome.next;
        if (after) stops.push(`${after.flowId}/${after.messageId}`);
      } while (after);
      assert.deepEqual(stops, ['inbound/A1', 'returns/A2', 'inbound/A3'], 'the last call reached the end of the window');
      await target.waitForDelivered(before + 4);
      assert.deepEqual(target.received.slice(before).map(idOf), ['A1', 'A2', 'A3', 'A4']);
    });
  });
});
