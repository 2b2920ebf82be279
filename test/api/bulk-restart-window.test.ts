import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestGateway } from '../helpers/gateway';
import { TestTarget } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

describe('bulk restart: since/until bound failedAt, dryRun counts and changes nothing', () => {
  let gw: TestGateway;
  let target: TestTarget;
  let key: string;
  const failed = async () => {
    const result = await gw.request('GET', '/v1/failed-events?flowId=window');
    assert.equal(result.status, 200);
    return result.body.items as { messageId: string; failedAt: string; status: string }[];
  };
  const failAndWait = async (id: string) => {
    assert.equal((await gw.post('window', key, id, id)).status, 202);
    return waitFor(async () => (await failed()).find((item) => item.messageId === id), { what: `${id} failed` });
  };
  const restart = (body: unknown) => gw.request('POST', '/v1/failed-events/restart', { body });

  before(async () => {
    gw = await TestGateway.start();
    target = await TestTarget.start(() => ({ status: 422, body: 'rejected' }));
    key = await gw.partner('acme');
    await gw.connection('picky', { url: `${target.url}/in` });
    await gw.flow('window', { partnerId: 'acme', destinations: ['picky'] });
  });

  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  it('restarts only the events that failed in the window, after a dry run that matched the same ones', async () => {
    // One after the other, so each failedAt is later than the one before.
    const a = await failAndWait('W-A');
    const b = await failAndWait('W-B');
    const c = await failAndWait('W-C');
    assert.ok(a.failedAt < b.failedAt && b.failedAt < c.failedAt, JSON.stringify([a, b, c]));

    const dry = async (body: Record<string, unknown>) => {
      const result = await restart({ flowId: 'window', dryRun: true, ...body });
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.deepEqual(Object.keys(result.body), ['matched']);
      return result.body.matched as number;
    };
    assert.equal(await dry({}), 3);
    assert.equal(await dry({ since: b.failedAt }), 2, 'since is inclusive');
    assert.equal(await dry({ until: b.failedAt }), 2, 'until is inclusive');
    assert.equal(await dry({ since: b.failedAt, until: b.failedAt }), 1);
    assert.equal(await dry({ since: new Date(Date.parse(c.failedAt) + 1).toISOString() }), 0);
    // An offset spelling of the same instant bounds the same way.
    const plusOne = new Date(Date.parse(b.failedAt) + 3600_000).toISOString().replace('Z', '+01:00'); // b.failedAt at UTC+1
    assert.equal(await dry({ since: plusOne }), 2, 'the same instant with an offset');
    assert.equal(target.received.length, 3, 'a dry run sends nothing');
    assert.deepEqual(
      (await failed()).map((i) => i.status),
      ['failed', 'failed', 'failed'],
      'a dry run changes nothing',
    );

    target.behaviour = () => ({ status: 200 });
    const result = await restart({ flowId: 'window', since: b.failedAt });
    assert.equal(result.status, 202, JSON.stringify(result.body));
    assert.equal(result.body.restarted, 2);
    await waitFor(() => target.byId('W-B').length === 2 && target.byId('W-C').length === 2, { what: 'B and C delivered' });
    await waitFor(async () => (await failed()).length === 1, { what: 'B and C leave the failed list' });
    assert.deepEqual(
      (await failed()).map((i) => i.messageId),
      ['W-A'],
      'A failed before the window and stays',
    );
    assert.equal(target.byId('W-A').length, 1);
  });

  it('refuses a bad since/until or dryRun with invalid-body', async () => {
    for (const body of [
      { since: 'yesterday' },
      { until: '2026-13-01T00:00:00Z' },
      { dryRun: 'yes' },
      { since: '2026-02-01T00:00:00Z', until: '2026-01-01T00:00:00Z' },
    ]) {
      const result = await restart(body);
      assert.equal(result.status, 400, JSON.stringify(body));
      assert.equal(result.body.code, 'invalid-body');
    }
  });
});
