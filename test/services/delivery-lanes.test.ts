import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { randomBytes } from 'node:crypto';
import { laneFor } from '../../core/lanes';
import { TestGateway } from '../helpers/gateway';
import { TargetPool, type Behaviour } from '../helpers/target';
import { deferred, waitFor } from '../helpers/emulator-wait';

/** Message ids that land in each of `threads` lanes, `perLane` of each. */
function idsByLane(prefix: string, threads: number, perLane: number): string[][] {
  const lanes: string[][] = Array.from({ length: threads }, () => []);
  for (let i = 0; lanes.some((l) => l.length < perLane); i++) {
    const id = `${prefix}-${i}`;
    const lane = lanes[laneFor({ messageId: id }, threads)]!;
    if (lane.length < perLane) lane.push(id);
  }
  return lanes;
}

describe('lanes, holds, chains and signatures', () => {
  let gw: TestGateway;
  let key: string;
  const targets = new TargetPool();
  const newTarget = (behaviour?: Behaviour) => targets.start(behaviour);

  before(async () => {
    gw = await TestGateway.start();
    key = await gw.partner('acme');
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  it('delivers four lanes in parallel with threads: 4', async () => {
    const t = await newTarget();
    let inFlight = 0;
    let maxInFlight = 0;
    // The target answers the first requests only once four are open at the same time
    // (or 50 s after the first, within the connection timeout): sequential lanes would show one
    // at a time and fail the test.
    let release!: () => void;
    const allOpen = new Promise<void>((resolve) => (release = resolve));
    let giveUp: NodeJS.Timeout | undefined;
    t.behaviour = async () => {
      giveUp ??= setTimeout(() => release(), 50_000);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (inFlight >= 4) release();
      await allOpen;
      inFlight -= 1;
      return { status: 200 };
    };
    await gw.connection('wide', { url: t.url, threads: 4, timeoutMs: 60_000 });
    await gw.flow('parallel', { partnerId: 'acme', destinations: ['wide'] });
    const lanes = idsByLane('P', 4, 3);
    for (let round = 0; round < 3; round++) {
      for (const lane of lanes) await gw.post('parallel', key, lane[round]!, 'x');
    }
    await t.waitForDelivered(12, 120_000);
    clearTimeout(giveUp);
    assert.equal(maxInFlight, 4, 'four lanes were open at the target at once');
    for (const lane of lanes) {
      const order = t
        .delivered()
        .map((r) => r.headers['x-aux-system-msg-id'])
        .filter((id) => lane.includes(id as string));
      assert.deepEqual(order, lane, 'order holds within each lane');
    }
  });

  // Both tests assert the order of events at the target (one monotonic clock), never how long
  // something took: the head's retry is answered only once the test has seen what it needs.

  it("hold-all: other lanes start only after the head's slow retry is answered", async () => {
    const t = await newTarget();
    const lanes = idsByLane('hold-all', 4, 2);
    const head = lanes[0]![0]!;
    const sameLane = lanes[0]![1]!;
    const otherLanes = lanes.slice(1).flat();
    const posted = deferred();
    t.behaviour = async (req) => {
      if (req.headers['x-aux-system-msg-id'] !== head) return { status: 200 };
      if (req.headers['x-sluice-attempt'] === '1') return { status: 503 };
      // The retry is slow (1.5 s) and is not answered before every other message is queued,
      // so the others are certainly waiting while it is in flight, however busy the machine.
      await posted.promise;
      return { status: 200, delayMs: 1500 };
    };
    // The longest timeout: the retry is held open while the test posts, which a busy machine makes slow.
    await gw.connection('c-hold-all', {
      url: t.url,
      threads: 4,
      onError: 'hold-all',
      timeoutMs: 60_000,
      retry: { count: 3, intervalSeconds: 1 },
    });
    await gw.flow('f-hold-all', { partnerId: 'acme', destinations: ['c-hold-all'] });
    await gw.post('f-hold-all', key, head, 'head');
    await waitFor(async () => (await gw.runtime.deliveries.get('f-hold-all', head, 'c-hold-all'))?.status === 'retrying', {
      what: 'the head is retrying',
    });
    for (const id of [sameLane, ...otherLanes]) assert.equal((await gw.post('f-hold-all', key, id, 'x')).status, 202);
    posted.resolve();
    await t.waitForDelivered(2 + otherLanes.length, 60_000);
    const [first, retry] = t.byId(head);
    assert.equal(first!.status, 503);
    assert.equal(retry!.status, 200);
    assert.equal(t.byId(head).length, 2, 'the slow retry was answered within the timeout, not retried again');
    assert.ok(t.byId(sameLane)[0]!.at >= retry!.answeredAt!, 'the same lane waits for its head');
    for (const id of otherLanes) {
      assert.equal(t.byId(id).length, 1, `${id} attempted once`);
      assert.ok(t.byId(id)[0]!.at >= retry!.answeredAt!, `${id} (another lane) started only after the head's retry was answered`);
    }
    const connection = await gw.runtime.connections.get('c-hold-all', true);
    assert.equal(connection?.heldBy, undefined, 'the hold is gone once the head is delivered');
  });

  it("hold-lane: while one lane's head retries, only that lane waits", async () => {
    const t = await newTarget();
    const lanes = idsByLane('hold-lane', 4, 2);
    const head = lanes[0]![0]!;
    const sameLane = lanes[0]![1]!;
    const otherLanes = lanes.slice(1).flat();
    const othersDelivered = () => otherLanes.every((id) => t.byId(id).some((r) => r.status === 200));
    t.behaviour = async (req) => {
      if (req.headers['x-aux-system-msg-id'] !== head) return { status: 200 };
      if (req.headers['x-sluice-attempt'] === '1') return { status: 503 };
      // The retry is answered once the other lanes are through (or after 50 s, within the
      // connection timeout, when they wrongly wait for it: then the order assertions below fail).
      await waitFor(othersDelivered, { timeoutMs: 50_000, what: 'the other lanes' }).catch(() => undefined);
      return { status: 200 };
    };
    await gw.connection('c-hold-lane', {
      url: t.url,
      threads: 4,
      onError: 'hold-lane',
      timeoutMs: 60_000,
      retry: { count: 3, intervalSeconds: 1 },
    });
    await gw.flow('f-hold-lane', { partnerId: 'acme', destinations: ['c-hold-lane'] });
    await gw.post('f-hold-lane', key, head, 'head');
    await waitFor(async () => (await gw.runtime.deliveries.get('f-hold-lane', head, 'c-hold-lane'))?.status === 'retrying', {
      what: 'the head is retrying',
    });
    for (const id of [sameLane, ...otherLanes]) assert.equal((await gw.post('f-hold-lane', key, id, 'x')).status, 202);
    await t.waitForDelivered(2 + otherLanes.length, 120_000);
    const retry = t.byId(head)[1]!;
    assert.equal(retry.status, 200);
    assert.ok(t.byId(sameLane)[0]!.at >= retry.answeredAt!, 'the same lane waits for its head');
    for (const id of otherLanes) {
      assert.ok(t.byId(id)[0]!.answeredAt! < retry.answeredAt!, `${id} (another lane) was delivered while the head was still retrying`);
    }
  });

  it('suspends the rest of a chain after a failure and leaves them untouched at the target', async () => {
    const t = await newTarget();
    t.behaviour = (req) => (req.headers['x-aux-system-msg-id'] === 'CH-1' ? { status: 422, body: 'bad' } : { status: 200 });
    await gw.connection('chained', { url: t.url });
    await gw.flow('chains', { partnerId: 'acme', destinations: ['chained'], onFailure: 'suspend-chain' });
    for (const id of ['CH-1', 'CH-2', 'CH-3', 'CH-4']) await gw.post('chains', key, id, id, { 'x-chain-id': 'order-77' });
    await gw.post('chains', key, 'OTHER-1', 'other chain', { 'x-chain-id': 'order-78' });
    await gw.post('chains', key, 'LONE-1', 'no chain');
    await t.waitForDelivered(2);
    await waitFor(async () => (await gw.request('GET', '/v1/flows/chains')).body.counts.suspended === 3, { what: 'suspended' });
    for (const id of ['CH-2', 'CH-3', 'CH-4']) {
      const body = (await gw.request('GET', `/v1/flows/chains/messages/${id}`)).body;
      assert.equal(body.status, 'suspended');
      assert.equal(t.byId(id).length, 0, `${id} never reached the target`);
    }
    assert.deepEqual(
      t.delivered().map((r) => r.headers['x-aux-system-msg-id']),
      ['OTHER-1', 'LONE-1'],
    );
  });

  it('signs deliveries per Standard Webhooks when the connection has a signing secret', async () => {
    const t = await newTarget();
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    await gw.connection('signed', {
      url: t.url,
      signingSecret: secret,
      auth: { type: 'header', headerName: 'X-Api-Token', value: 'tok-1' },
    });
    await gw.flow('signing', { partnerId: 'acme', destinations: ['signed'] });
    await gw.post('signing', key, 'S-1', '{"hello":"world"}', { 'content-type': 'application/json', 'x-correlation-id': 'corr-9' });
    const [request] = await t.waitForDelivered(1);
    const headers = Object.fromEntries(Object.entries(request!.headers).map(([k, v]) => [k, String(v)]));
    assert.doesNotThrow(() => new Webhook(secret).verify(request!.body.toString(), headers));
    assert.throws(() => new Webhook(secret).verify('{"hello":"tampered"}', headers));
    assert.equal(headers['webhook-id'], 'S-1');
    assert.equal(headers['x-api-token'], 'tok-1');
    assert.equal(headers['x-correlation-id'], 'corr-9');
    const view = (await gw.request('GET', '/v1/connections/signed')).body;
    assert.ok(!JSON.stringify(view).includes(secret.slice(6)), 'secret never returned');
    assert.ok(!JSON.stringify(view).includes('tok-1'), 'credential never returned');
  });
});
