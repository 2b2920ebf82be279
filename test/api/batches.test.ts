import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SwitchableQueue } from '../helpers/queues';
import { captureOutput, TestGateway, type ApiResult } from '../helpers/gateway';
import { TestTarget } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

function assertProblem(result: ApiResult, status: number, code: string): void {
  assert.equal(result.status, status, JSON.stringify(result.body));
  assert.equal(result.headers.get('content-type'), 'application/problem+json');
  assert.equal(result.body.code, code);
}

describe('batch ingest (POST /v1/flows/{flowId}/batches)', () => {
  let gw: TestGateway;
  let target: TestTarget;
  let queue: SwitchableQueue;
  let key: string;
  let otherKey: string;

  const batch = (flowId: string, body: unknown, apiKey = key) => gw.request('POST', `/v1/flows/${flowId}/batches`, { token: apiKey, body });
  const log = async (flowId: string) =>
    (await gw.request('GET', `/v1/flows/${flowId}/log`)).body.entries as { code: string; messageId?: string }[];

  before(async () => {
    target = await TestTarget.start();
    const started = await captureOutput(async () => {
      gw = await TestGateway.start({ overrides: { wrapQueue: (inner) => (queue = new SwitchableQueue(inner)) } });
      key = await gw.partner('acme');
      otherKey = await gw.partner('globex');
      await gw.connection('erp', { url: `${target.url}/erp` });
      await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
      await gw.flow('small', { partnerId: 'acme', destinations: ['erp'], maxPayloadBytes: 2048 });
      await gw.flow('closed', { partnerId: 'acme', destinations: ['erp'] });
      assert.equal((await gw.request('POST', '/v1/flows/closed/disable')).status, 200);
    });
    void started;
  });

  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  it('accepts each message in array order and delivers them in that order, binary payloads byte for byte', async () => {
    const binary = randomBytes(300);
    const messages = Array.from({ length: 25 }, (_, i) => ({
      id: `B1-${String(i).padStart(2, '0')}`,
      payload: `order ${i}`,
      contentType: 'text/plain',
    }));
    messages[7] = { id: 'B1-07', payload: binary.toString('base64'), encoding: 'base64', contentType: 'application/octet-stream' } as never;
    const result = await batch('orders', { messages });
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.equal(result.body.flowId, 'orders');
    assert.equal(result.body.results.length, 25);
    result.body.results.forEach((r: Record<string, unknown>, i: number) => {
      assert.deepEqual(Object.keys(r).sort(), ['messageId', 'receivedAt', 'status']);
      assert.equal(r.messageId, messages[i]!.id);
      assert.equal(r.status, 'accepted');
    });
    const times = result.body.results.map((r: { receivedAt: string }) => r.receivedAt);
    assert.deepEqual([...times].sort(), times, 'receivedAt follows the array order');
    assert.equal(new Set(times).size, 25, 'one receipt time per message, so listings keep the order');

    const delivered = await target.waitForDelivered(25, 60_000);
    assert.deepEqual(
      delivered.map((r) => r.headers['x-aux-system-msg-id']),
      messages.map((m) => m.id),
      'delivered in array order',
    );
    assert.deepEqual(target.byId('B1-07')[0]!.body, binary, 'base64 payload delivered as the decoded bytes');
    assert.equal(target.byId('B1-07')[0]!.headers['content-type'], 'application/octet-stream');
    assert.equal(target.byId('B1-03')[0]!.body.toString(), 'order 3');
    assert.equal(target.byId('B1-03')[0]!.headers['content-type'], 'text/plain');
  });

  it('answers a GUID repeated inside a batch, and one from an earlier batch, as a duplicate; each is delivered once', async () => {
    const first = await batch('orders', {
      messages: [
        { id: 'D-1', payload: 'one' },
        { id: 'D-2', payload: 'two' },
        { id: 'D-1', payload: 'one again' },
      ],
    });
    assert.equal(first.status, 200);
    const [a, b, c] = first.body.results;
    assert.equal(a.status, 'accepted');
    assert.equal(b.status, 'accepted');
    assert.deepEqual(Object.keys(c).sort(), ['duplicate', 'messageId', 'receivedAt', 'status']);
    assert.equal(c.duplicate, true);
    assert.equal(c.messageId, 'D-1');
    assert.equal(c.receivedAt, a.receivedAt, 'the repeat names the first occurrence');
    assert.ok(['queued', 'delivered'].includes(c.status), c.status);

    const second = await batch('orders', {
      messages: [
        { id: 'D-2', payload: 'two' },
        { id: 'D-3', payload: 'three' },
      ],
    });
    assert.equal(second.body.results[0].duplicate, true);
    assert.equal(second.body.results[0].receivedAt, b.receivedAt);
    assert.equal(second.body.results[1].status, 'accepted');
    // A single post of a batch's GUID is a duplicate too: one GUID space per flow.
    const single = await gw.post('orders', key, 'D-3', 'three');
    assert.equal(single.status, 200);
    assert.equal(single.body.duplicate, true);

    await waitFor(() => ['D-1', 'D-2', 'D-3'].every((id) => target.byId(id).some((r) => r.status === 200)), { what: 'D-* delivered' });
    // A marker posted after them is delivered after them (one lane): nothing else of D-* can still come.
    assert.equal((await gw.post('orders', key, 'D-marker', 'marker')).status, 202);
    await waitFor(() => target.byId('D-marker').length > 0, { what: 'marker delivered' });
    for (const id of ['D-1', 'D-2', 'D-3']) assert.equal(target.byId(id).length, 1, `${id} delivered once`);
    assert.equal(target.byId('D-1')[0]!.body.toString(), 'one', 'the first occurrence is the one kept');
  });

  it('rejects bad messages on their own with the code a single post would get, logs each to the flow, and accepts the rest', async () => {
    await gw.flow('mixed', { partnerId: 'acme', destinations: ['erp'], maxPayloadBytes: 64 });
    const messages: unknown[] = [
      { id: 'E-ok-1', payload: 'fine' },
      { id: 'bad id!', payload: 'x' },
      { payload: 'no id' },
      { id: 'E-empty', payload: '' },
      { id: 'E-b64', payload: 'not*base64', encoding: 'base64' },
      { id: 'E-big', payload: 'x'.repeat(65) },
      { id: 'E-big64', payload: Buffer.alloc(65).toString('base64'), encoding: 'base64' },
      { id: 'E-chain', payload: 'x', chainId: 'bad chain' },
      { id: 'E-expiry', payload: 'x', expiresAt: 'tomorrow' },
      { id: 'E-extra', payload: 'x', colour: 'red' },
      { id: 'E-enc', payload: 'x', encoding: 'hex' },
      'not an object',
      { id: 'E-ok-2', payload: 'fine too' },
    ];
    const result = await batch('mixed', { messages });
    assert.equal(result.status, 200, JSON.stringify(result.body));
    const codes = result.body.results.map((r: { status?: string; error?: { code: string } }) => r.error?.code ?? r.status);
    assert.deepEqual(codes, [
      'accepted',
      'invalid-message-id',
      'missing-message-id',
      'empty-payload',
      'invalid-body',
      'payload-too-large',
      'payload-too-large',
      'invalid-header',
      'invalid-header',
      'invalid-body',
      'invalid-body',
      'invalid-body',
      'accepted',
    ]);
    for (const r of result.body.results.filter((r: { error?: unknown }) => r.error)) {
      assert.ok(r.error.type && r.error.title && r.error.detail && r.error.status >= 400, JSON.stringify(r.error));
    }
    assert.equal(result.body.results[1].messageId, 'bad id!', 'the id as sent, to match the result to the message');
    assert.equal(result.body.results[2].messageId, undefined);
    const single = await gw.post('mixed', key, 'E-single', 'x'.repeat(65));
    assert.equal(single.body.code, result.body.results[5].error.code, 'the same code as a single post');
    assert.equal(single.body.detail, result.body.results[5].error.detail.replace('E-big', 'E-single'));

    const entries = await log('mixed');
    const logged = entries.filter((e) => e.code !== 'payload-too-large' || e.messageId !== 'E-single');
    assert.equal(logged.length, 11, JSON.stringify(entries));
    assert.deepEqual(
      logged
        .filter((e) => e.messageId)
        .map((e) => e.messageId)
        .sort(),
      ['E-b64', 'E-big', 'E-big64', 'E-empty', 'E-enc', 'E-extra'].sort(),
    );
    for (const id of ['E-empty', 'E-b64', 'E-big', 'E-big64', 'E-chain', 'E-expiry', 'E-extra', 'E-enc']) {
      assert.equal((await gw.request('GET', `/v1/flows/mixed/messages/${id}`)).status, 404, `${id} not stored`);
    }
    await waitFor(() => target.byId('E-ok-2').length > 0, { what: 'E-ok-2 delivered' });
  });

  it('refuses the whole request for auth, an unknown or disabled flow, a body that is not { messages }, more than 100 messages, or a body over the limit', async () => {
    const one = { messages: [{ id: 'W-1', payload: 'x' }] };
    assertProblem(await gw.request('POST', '/v1/flows/orders/batches', { token: null, body: one }), 401, 'unauthenticated');
    assertProblem(await batch('orders', one, 'not-a-key'), 401, 'unauthenticated');
    assertProblem(await batch('orders', one, otherKey), 403, 'forbidden');
    assertProblem(await batch('nowhere', one), 404, 'unknown-flow');
    assertProblem(await batch('closed', one), 409, 'flow-disabled');
    assert.ok(
      (await log('closed')).some((e) => e.code === 'flow-disabled'),
      'logged to the flow',
    );
    assertProblem(await batch('orders', 'not json at all'), 400, 'invalid-body');
    assertProblem(await batch('orders', [{ id: 'W-1', payload: 'x' }]), 400, 'invalid-body');
    assertProblem(await batch('orders', { messages: [] }), 400, 'invalid-body');
    assertProblem(await batch('orders', { messages: 'W-1' }), 400, 'invalid-body');
    assertProblem(await batch('orders', { messages: [{ id: 'W-1', payload: 'x' }], extra: 1 }), 400, 'invalid-body');
    const many = { messages: Array.from({ length: 101 }, (_, i) => ({ id: `W-${i}`, payload: 'x' })) };
    const tooMany = await batch('orders', many);
    assertProblem(tooMany, 400, 'invalid-body');
    assert.match(tooMany.body.detail, /101/);
    // small: 2 KiB per message, so a batch body up to 2,732 bytes plus 64 KiB.
    const big = { messages: Array.from({ length: 40 }, (_, i) => ({ id: `W-big-${i}`, payload: 'x'.repeat(2000) })) };
    assertProblem(await batch('small', big), 413, 'payload-too-large');
    assert.equal((await batch('small', { messages: big.messages.slice(0, 20) })).status, 200, 'under the limit it goes through');
    await gw.countsSettled();
    for (const id of ['W-1', 'W-0', 'W-100']) {
      assert.equal((await gw.request('GET', `/v1/flows/orders/messages/${id}`)).status, 404, `${id} not stored`);
    }
  });

  it('sends tickets with SendMessageBatch, 10 at a time; when a send fails, that message and the rest are not queued and a repeat queues them', async () => {
    const sends: number[] = [];
    const original = queue.send.bind(queue);
    let calls = 0;
    let failAt = -1;
    queue.send = async (tickets) => {
      calls += 1;
      if (calls === failAt) throw new Error('injected queue failure');
      sends.push(tickets.length);
      return original(tickets);
    };
    try {
      const messages = Array.from({ length: 25 }, (_, i) => ({ id: `Q-${String(i).padStart(2, '0')}`, payload: `q ${i}` }));
      const ok = await batch('orders', { messages });
      assert.equal(ok.status, 200);
      assert.deepEqual(sends, [10, 10, 5], 'three batched sends of at most 10 tickets');

      sends.length = 0;
      calls = 0;
      failAt = 2;
      const more = Array.from({ length: 25 }, (_, i) => ({ id: `R-${String(i).padStart(2, '0')}`, payload: `r ${i}` }));
      const { result: partial } = await captureOutput(() => batch('orders', { messages: more }));
      assert.equal(partial.status, 200);
      const statuses = partial.body.results.map((r: { status?: string; error?: { code: string } }) => r.error?.code ?? r.status);
      assert.deepEqual(statuses, [...Array(10).fill('accepted'), ...Array(15).fill('internal')]);
      assert.deepEqual(sends, [10], 'nothing after the failed send was sent');

      failAt = -1;
      const again = await batch('orders', { messages: more });
      assert.deepEqual(
        again.body.results.map((r: { status?: string; duplicate?: boolean }) => (r.duplicate ? 'duplicate' : r.status)),
        [...Array(10).fill('duplicate'), ...Array(15).fill('accepted')],
        'the repeat queues what was recorded but not queued',
      );
      const missing = () => more.filter((m) => target.byId(m.id).length === 0).map((m) => m.id);
      await waitFor(() => missing().length === 0, { what: 'R-* delivered', timeoutMs: 60_000 }).catch(async (error) => {
        const details = await Promise.all(missing().map((id) => gw.request('GET', `/v1/flows/orders/messages/${id}`)));
        throw new Error(`${(error as Error).message}; missing ${missing().join(' ')}: ${JSON.stringify(details.map((d) => d.body))}`);
      });
      const order = target.received.map((r) => r.headers['x-aux-system-msg-id']).filter((id) => String(id).startsWith('R-'));
      assert.deepEqual(
        order,
        more.map((m) => m.id),
        'delivered once each, in array order',
      );
    } finally {
      queue.send = original;
    }
  });
});
