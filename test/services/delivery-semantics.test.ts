import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestGateway } from '../helpers/gateway';
import { TargetPool, type Behaviour } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

/**
 * End-to-end checks of SPEC delivery semantics 4, 6, 7, 9 and 10 through the local gateway
 * and real HTTP targets. Nothing here measures how fast Sluice is: intervals are asserted
 * as lower bounds (load only makes them longer) and as the delays Sluice reports, and probes
 * run when the test says so (`probeNow`, `POST …/probe`), never on a timer.
 */
describe('delivery semantics end to end: retries, auth holds, probes, success statuses, expiry', () => {
  let gw: TestGateway;
  let key: string;
  const targets = new TargetPool();
  const newTarget = (behaviour?: Behaviour) => targets.start(behaviour);
  /** Jitter source of the deliverer: 1 takes the full random half of an exponential delay. */
  let jitter = 1;
  const message = async (flowId: string, id: string) => (await gw.request('GET', `/v1/flows/${flowId}/messages/${id}`)).body;
  const connection = async (id: string) => (await gw.request('GET', `/v1/connections/${id}`)).body;
  const retryDelays = async (flowId: string, id: string) =>
    (await message(flowId, id)).report
      .filter((e: { event: string }) => e.event === 'retrying')
      .map((e: { detail: string }) => Number(/in (\d+) s$/.exec(e.detail)?.[1]));
  /** ms from each answer to the next request of the same message, at the target. */
  const gaps = (requests: { at: number; answeredAt?: number }[]) => requests.slice(1).map((r, i) => r.at - requests[i]!.answeredAt!);

  before(async () => {
    gw = await TestGateway.start({ deliverer: { random: () => jitter }, fastProbeDelaysSeconds: [] });
    key = await gw.partner('acme');
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  it('honours Retry-After when it asks for longer than the retry interval', async () => {
    const t = await newTarget((req) =>
      req.headers['x-sluice-attempt'] === '1' ? { status: 503, headers: { 'retry-after': '3' } } : { status: 200 },
    );
    await gw.connection('busy', { url: t.url, retry: { count: 3, intervalSeconds: 1 } });
    await gw.flow('retry-after', { partnerId: 'acme', destinations: ['busy'] });
    await gw.post('retry-after', key, 'RA-1', 'x');
    await t.waitForDelivered(1);
    assert.deepEqual(await retryDelays('retry-after', 'RA-1'), [3], 'the retry was scheduled per Retry-After, not the 1 s interval');
    const [gap] = gaps(t.byId('RA-1'));
    assert.ok(gap! >= 2900, `the retry came ${gap} ms after the 503, not before Retry-After`);
  });

  it('backs off exponentially with equal jitter, capped by maxIntervalSeconds', async () => {
    jitter = 1;
    const t = await newTarget((req) => (Number(req.headers['x-sluice-attempt']) <= 3 ? { status: 503 } : { status: 200 }));
    await gw.connection('expo', { url: t.url, retry: { count: 3, intervalSeconds: 1, backoff: 'exponential', maxIntervalSeconds: 2 } });
    await gw.flow('backoff', { partnerId: 'acme', destinations: ['expo'] });
    await gw.post('backoff', key, 'EX-1', 'x');
    await t.waitForDelivered(1);
    // 1 × 2^(n-1), capped at 2, full jitter: 1, 2, 2 (uncapped the third would be 4).
    assert.deepEqual(await retryDelays('backoff', 'EX-1'), [1, 2, 2]);
    const observed = gaps(t.byId('EX-1'));
    assert.ok(observed[1]! >= 1900 && observed[2]! >= 1900, `gaps ${observed.join(', ')} ms`);

    jitter = 0;
    const u = await newTarget((req) => (req.headers['x-sluice-attempt'] === '1' ? { status: 503 } : { status: 200 }));
    await gw.connection('expo-low', {
      url: u.url,
      retry: { count: 1, intervalSeconds: 4, backoff: 'exponential', maxIntervalSeconds: 60 },
    });
    await gw.flow('backoff-low', { partnerId: 'acme', destinations: ['expo-low'] });
    await gw.post('backoff-low', key, 'EX-2', 'x');
    await u.waitForDelivered(1);
    jitter = 1;
    assert.deepEqual(await retryDelays('backoff-low', 'EX-2'), [2], 'no jitter leaves the fixed half of 4 s');
  });

  it('a 403 holds the delivery and marks the connection unauthorized; the hourly probe counts only a non-401/403 answer', async () => {
    let probeAnswer = 401;
    let deliveryAnswer = 403;
    const t = await newTarget((req) => ({ status: req.method === 'POST' ? deliveryAnswer : probeAnswer }));
    await gw.connection('gate', { url: t.url, auth: { type: 'bearer', token: 'tok' } });
    await gw.flow('forbidden', { partnerId: 'acme', destinations: ['gate'] });
    await gw.post('forbidden', key, 'FB-1', 'x');
    await waitFor(async () => (await connection('gate')).status === 'unauthorized', { what: 'unauthorized' });
    await waitFor(async () => (await message('forbidden', 'FB-1')).deliveries[0].status === 'paused', { what: 'held' });
    const held = await message('forbidden', 'FB-1');
    assert.equal(held.deliveries[0].attempts, 0, 'no retry budget spent on a 403');
    assert.equal((await gw.request('GET', '/v1/flows/forbidden')).body.status, 'paused');
    assert.deepEqual((await gw.request('GET', '/v1/failed-events?flowId=forbidden')).body.items, [], 'no failed event');

    for (const answer of [401, 403]) {
      probeAnswer = answer;
      const probesBefore = t.probes().length;
      await gw.gateway.probeNow();
      assert.equal(t.probes().length, probesBefore + 1, 'the hourly run probed the unauthorized connection');
      const still = await connection('gate');
      assert.equal(still.status, 'unauthorized', `a probe answered ${answer} does not count`);
      assert.match(still.statusReason, new RegExp(`${answer}`));
    }
    assert.equal(t.probes().at(-1)!.headers.authorization, 'Bearer tok', 'the probe carries the credentials');
    assert.equal(t.byId('FB-1').length, 1, 'no delivery attempt while unauthorized');

    probeAnswer = 404;
    deliveryAnswer = 200;
    await gw.gateway.probeNow();
    assert.equal((await connection('gate')).status, 'online', 'any other answer counts as alive');
    await t.waitForDelivered(1);
    assert.equal(t.byId('FB-1').length, 2);
    assert.equal(t.byId('FB-1')[1]!.headers['x-sluice-possible-duplicate'], 'true');
  });

  it('a 5xx probe keeps a connection offline; POST /connections/{id}/probe brings it back at once', async () => {
    let probeAnswer = 503;
    const t = await newTarget((req) => ({ status: req.method === 'POST' ? 200 : probeAnswer }));
    await t.down();
    await gw.connection('flaky', { url: t.url, offlineAfter: 1, retry: { count: 5, intervalSeconds: 0 }, timeoutMs: 1000 });
    await gw.flow('probing', { partnerId: 'acme', destinations: ['flaky'] });
    await gw.post('probing', key, 'PR-1', 'x');
    await waitFor(async () => (await connection('flaky')).status === 'offline', { what: 'offline' });
    await t.up();

    await gw.gateway.probeNow();
    const afterHourly = await connection('flaky');
    assert.equal(afterHourly.status, 'offline', 'a 503 probe is not alive');
    assert.match(afterHourly.statusReason, /503/);
    assert.ok(afterHourly.lastProbeAt, 'the probe was recorded');
    const viaApi = await gw.request('POST', '/v1/connections/flaky/probe');
    assert.equal(viaApi.status, 200);
    assert.equal(viaApi.body.status, 'offline', 'the on-demand probe also reads 503 as down');
    assert.equal(t.delivered().length, 0);

    probeAnswer = 204;
    const back = await gw.request('POST', '/v1/connections/flaky/probe');
    assert.equal(back.status, 200);
    assert.equal(back.body.status, 'online', 'the answer shows the connection after the probe');
    assert.deepEqual(
      t.probes().map((p) => p.method),
      ['GET', 'GET', 'GET'],
      'the hourly run and both on-demand probes reached the target',
    );
    await t.waitForDelivered(1);
    assert.equal((await gw.request('GET', '/v1/flows/probing')).body.status, 'enabled');
    const report = await waitFor(async () => {
      const m = await message('probing', 'PR-1');
      return m.status === 'delivered' ? (m.report as { event: string }[]) : undefined;
    });
    const events = report.map((e) => e.event);
    assert.deepEqual(
      events.slice(events.indexOf('paused')),
      ['paused', 'resumed', 'attempt', 'delivered'],
      'the report shows where the hold ended',
    );
  });

  it('successStatuses decides what counts as delivered', async () => {
    const t = await newTarget(() => ({ status: 202 }));
    await gw.connection('lenient', { url: `${t.url}/lenient`, successStatuses: [200, 202] });
    await gw.connection('strict200', { url: `${t.url}/strict`, successStatuses: [200], retry: { count: 3, intervalSeconds: 0 } });
    await gw.flow('statuses', { partnerId: 'acme', destinations: ['lenient', 'strict200'] });
    await gw.post('statuses', key, 'SS-1', 'x');
    await waitFor(
      async () =>
        (await message('statuses', 'SS-1')).deliveries.every((d: { status: string }) => ['delivered', 'failed'].includes(d.status)),
      {
        what: 'both branches settled',
      },
    );
    const body = await message('statuses', 'SS-1');
    const byConnection = Object.fromEntries(body.deliveries.map((d: { connectionId: string }) => [d.connectionId, d]));
    assert.equal(byConnection.lenient.status, 'delivered');
    assert.equal(byConnection.strict200.status, 'failed', 'a 202 is not a success when only 200 is');
    assert.equal(byConnection.strict200.failureType, 'business');
    assert.equal(byConnection.strict200.attempts, 1, 'and it is not retried');
    assert.equal(t.received.filter((r) => r.path === '/strict').length, 1);
  });

  it('accepts the partner key in x-api-key', async () => {
    const t = await newTarget();
    await gw.connection('keyed', { url: t.url });
    await gw.flow('api-key', { partnerId: 'acme', destinations: ['keyed'] });
    const post = (apiKey: string, id: string) =>
      gw.request('POST', '/v1/flows/api-key/messages', {
        token: null,
        body: 'x',
        headers: { 'content-type': 'text/plain', 'x-api-key': apiKey, 'x-aux-system-msg-id': id },
      });
    const accepted = await post(key, 'AK-1');
    assert.equal(accepted.status, 202);
    assert.equal(accepted.body.messageId, 'AK-1');
    const refused = await post(`${key}x`, 'AK-2');
    assert.equal(refused.status, 401);
    assert.equal(refused.body.code, 'unauthenticated');
    await t.waitForDelivered(1);
    assert.deepEqual(
      t.delivered().map((r) => r.headers['x-aux-system-msg-id']),
      ['AK-1'],
    );
    assert.equal((await gw.request('GET', '/v1/flows/api-key/messages/AK-2')).status, 404, 'the refused post stored nothing');
  });

  it('expiresAfterSeconds: a message held past its expiry fails as expired without an attempt', async () => {
    const t = await newTarget();
    await gw.connection('late', { url: t.url });
    await gw.flow('expiring', { partnerId: 'acme', destinations: ['late'], expiresAfterSeconds: 1 });
    assert.equal((await gw.request('POST', '/v1/connections/late/offline')).body.status, 'offline');
    const posted = await gw.post('expiring', key, 'EXP-1', 'x');
    const expiresAt = Date.parse((await message('expiring', 'EXP-1')).expiresAt);
    assert.equal(expiresAt - Date.parse(posted.body.receivedAt), 1000, 'expiresAt = receivedAt + expiresAfterSeconds');
    await waitFor(async () => (await message('expiring', 'EXP-1')).status === 'paused', { what: 'held while offline' });
    await waitFor(() => Date.now() > expiresAt, { what: 'the expiry to pass' });
    await gw.request('POST', '/v1/connections/late/online');
    await waitFor(async () => (await message('expiring', 'EXP-1')).status === 'failed', { what: 'expired' });
    assert.equal((await message('expiring', 'EXP-1')).deliveries[0].failureType, 'expired');
    assert.equal(t.received.length, 0, 'never attempted');
  });
});
