import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { randomBytes } from 'node:crypto';
import { laneFor } from '../../core/lanes';
import { TestGateway } from '../helpers/gateway';
import { TargetPool, type Behaviour } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

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
    // (or 15 s after the first): sequential lanes would show one at a time and fail the test.
    let release!: () => void;
    const allOpen = new Promise<void>((resolve) => (release = resolve));
    let giveUp: NodeJS.Timeout | undefined;
    t.behaviour = async () => {
      giveUp ??= setTimeout(() => release(), 15_000);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (inFlight >= 4) release();
      await allOpen;
      inFlight -= 1;
      return { status: 200 };
    };
    await gw.connection('wide', { url: t.url, threads: 4 });
    await gw.flow('parallel', { partnerId: 'acme', destinations: ['wide'] });
    const lanes = idsByLane('P', 4, 3);
    for (let round = 0; round < 3; round++) {
      for (const lane of lanes) await gw.post('parallel', key, lane[round]!, 'x');
    }
    await t.waitForDelivered(12);
    clearTimeout(giveUp);
    assert.equal(maxInFlight, 4, 'four lanes were open at the target at once');
    for (const lane of lanes) {
      const order = t.delivered().map((r) => r.headers['x-aux-system-msg-id']).filter((id) => lane.includes(id as string));
      assert.deepEqual(order, lane, 'order holds within each lane');
    }
  });

  for (const onError of ['hold-all', 'hold-lane'] as const) {
    it(`${onError}: while one lane's head retries, ${onError === 'hold-all' ? 'every lane of the connection waits' : 'only that lane waits'}`, async () => {
      const t = await newTarget();
      const lanes = idsByLane(onError, 4, 2);
      const head = lanes[0]![0]!;
      let failedOnce = false;
      t.behaviour = (req) => {
        if (req.headers['x-aux-system-msg-id'] === head && !failedOnce) {
          failedOnce = true;
          return { status: 503 };
        }
        return { status: 200 };
      };
      await gw.connection(`c-${onError}`, { url: t.url, threads: 4, onError, retry: { count: 3, intervalSeconds: 3 } });
      await gw.flow(`f-${onError}`, { partnerId: 'acme', destinations: [`c-${onError}`] });
      await gw.post(`f-${onError}`, key, head, 'head');
      await waitFor(async () => (await gw.runtime.deliveries.get(`f-${onError}`, head, `c-${onError}`))?.status === 'retrying', {
        what: 'the head is retrying',
      });
      const others = [...lanes[0]!.slice(1), ...lanes.slice(1).flat()];
      for (const id of others) await gw.post(`f-${onError}`, key, id, 'x');
      await t.waitForDelivered(1 + others.length, 20_000);
      const retry = t.byId(head)[1]!;
      const sameLane = lanes[0]![1]!;
      assert.ok(t.byId(sameLane)[0]!.at >= retry.answeredAt!, 'the same lane waits for its head');
      const otherLanes = lanes.slice(1).flat().map((id) => t.byId(id)[0]!.at);
      if (onError === 'hold-all') {
        assert.ok(otherLanes.every((at) => at >= retry.at - 50), 'other lanes waited for the head retry');
      } else {
        assert.ok(otherLanes.every((at) => at < retry.at), 'other lanes kept flowing during the retry wait');
      }
    });
  }

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
    assert.deepEqual(t.delivered().map((r) => r.headers['x-aux-system-msg-id']), ['OTHER-1', 'LONE-1']);
  });

  it('signs deliveries per Standard Webhooks when the connection has a signing secret', async () => {
    const t = await newTarget();
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    await gw.connection('signed', { url: t.url, signingSecret: secret, auth: { type: 'header', headerName: 'X-Api-Token', value: 'tok-1' } });
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
