import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { SwitchableQueue } from '../helpers/queues';
import { sweepPendingEnqueues, sweepUnconfirmed } from '../../services/enqueue';
import { accepted } from '../../core/lifecycle';
import { captureOutput, TestGateway, type ApiResult } from '../helpers/gateway';

function assertProblem(result: ApiResult, status: number, code: string, label: string): void {
  assert.equal(result.status, status, `${label}: status (body ${JSON.stringify(result.body)})`);
  assert.equal(result.headers.get('content-type'), 'application/problem+json', `${label}: content type`);
  assert.equal(result.body.code, code, `${label}: code`);
  assert.equal(result.body.status, status, `${label}: body status`);
  assert.ok(typeof result.body.type === 'string' && result.body.type.length > 0, `${label}: type`);
  assert.ok(typeof result.body.title === 'string' && result.body.title.length > 0, `${label}: title`);
  assert.ok(typeof result.body.detail === 'string' && result.body.detail.length > 0, `${label}: detail`);
}

describe('partner ingestion', () => {
  let gw: TestGateway;
  let queue: SwitchableQueue;
  let key1: string;
  let key2: string;
  let output = '';

  before(async () => {
    const started = await captureOutput(async () => {
      gw = await TestGateway.start({
        deliver: false,
        overrides: { wrapQueue: (inner) => (queue = new SwitchableQueue(inner)) },
      });
      key1 = await gw.partner('acme');
      key2 = await gw.partner('globex');
      await gw.connection('erp', { url: 'http://127.0.0.1:9/erp' });
      await gw.connection('crm', { url: 'http://127.0.0.1:9/crm', threads: 4 });
      await gw.flow('orders', { partnerId: 'acme', destinations: ['erp', 'crm'] });
      await gw.flow('small', { partnerId: 'acme', destinations: ['erp'], maxPayloadBytes: 1024 });
      await gw.flow('closed', { partnerId: 'acme', destinations: ['erp'] });
      const disabled = await gw.request('POST', '/v1/flows/closed/disable');
      assert.equal(disabled.status, 200);
      assert.equal(disabled.body.status, 'disabled');
    });
    output += started.output;
  });

  after(async () => {
    await gw?.stop();
  });

  it('accepts exactly one of 20 concurrent posts of one GUID and queues one message per destination', async () => {
    const depthBefore = await gw.queueDepth();
    const { result: results, output: logs } = await captureOutput(() =>
      Promise.all(Array.from({ length: 20 }, () => gw.post('orders', key1, 'PO-1001', 'order 1001'))),
    );
    output += logs;
    const accepted = results.filter((r) => r.status === 202);
    const duplicates = results.filter((r) => r.status === 200);
    assert.equal(accepted.length, 1, JSON.stringify(results.map((r) => [r.status, r.body])));
    assert.equal(duplicates.length, 19);
    assert.deepEqual(Object.keys(accepted[0]!.body).sort(), ['flowId', 'messageId', 'receivedAt', 'status']);
    assert.equal(accepted[0]!.body.status, 'accepted');
    for (const duplicate of duplicates) {
      assert.equal(duplicate.body.duplicate, true);
      assert.equal(duplicate.body.messageId, 'PO-1001');
      assert.equal(duplicate.body.status, 'queued');
      assert.equal(duplicate.body.receivedAt, accepted[0]!.body.receivedAt);
    }
    assert.equal((await gw.queueDepth()) - depthBefore, 2, 'one SQS message per destination');

    const status = await gw.request('GET', '/v1/flows/orders/messages/PO-1001', { token: key1 });
    assert.equal(status.status, 200);
    assert.equal(status.body.status, 'queued');
    assert.deepEqual(status.body.deliveries.map((d: { connectionId: string }) => d.connectionId).sort(), ['crm', 'erp']);
    await gw.countsSettled();
    const flow = await gw.request('GET', '/v1/flows/orders');
    assert.equal(flow.body.counts.accepted, 1);
    assert.equal(flow.body.counts.queued, 2);
  });

  it('keeps a 2 MiB binary payload in S3, byte for byte, with its content type', async () => {
    const payload = randomBytes(2 * 1024 * 1024);
    const result = await gw.post('orders', key1, 'BIN-1', payload, { 'content-type': 'application/octet-stream' });
    assert.equal(result.status, 202);
    const message = await gw.runtime.messages.get('orders', 'BIN-1', true);
    assert.equal(message?.payload.kind, 'object');
    assert.equal(message?.bytes, payload.length);
    const key = (message!.payload as { key: string }).key;
    const object = await gw.sdk.s3.send(new GetObjectCommand({ Bucket: gw.runtime.config.bucketName, Key: key }));
    assert.equal(object.ContentType, 'application/octet-stream');
    assert.ok(Buffer.from(await object.Body!.transformToByteArray()).equals(payload));
    // Small payloads stay inline in the record.
    await gw.post('orders', key1, 'SMALL-1', 'tiny');
    assert.equal((await gw.runtime.messages.get('orders', 'SMALL-1', true))?.payload.kind, 'inline');
  });

  it('rejects a corpus of bad requests with problem+json and changes nothing', async () => {
    // Derived items (counts, listing pages) of earlier posts land first: the stream is drained.
    await gw.countsSettled();
    const itemsBefore = (await gw.tableItems()).length;
    const depthBefore = await gw.queueDepth();
    const objectsBefore = (await gw.bucketKeys()).length;
    const post = (flow: string, headers: Record<string, string>, body: string | Buffer = 'x', key: string | null = key1) =>
      gw.request('POST', `/v1/flows/${flow}/messages`, {
        token: key,
        body,
        headers: { 'content-type': 'text/plain', ...headers },
      });
    const corpus: [string, () => Promise<ApiResult>, number, string][] = [
      ['missing GUID', () => post('small', {}), 400, 'missing-message-id'],
      ['empty GUID', () => post('small', { 'x-aux-system-msg-id': '' }), 400, 'missing-message-id'],
      ['overlong GUID', () => post('small', { 'x-aux-system-msg-id': 'a'.repeat(129) }), 400, 'invalid-message-id'],
      ['GUID with slash', () => post('small', { 'x-aux-system-msg-id': 'a/b' }), 400, 'invalid-message-id'],
      ['GUID with hash', () => post('small', { 'x-aux-system-msg-id': 'a#b' }), 400, 'invalid-message-id'],
      ['GUID with inner space', () => post('small', { 'x-aux-system-msg-id': 'a b' }), 400, 'invalid-message-id'],
      ['bad Idempotency-Key', () => post('small', { 'idempotency-key': 'x?y' }), 400, 'invalid-message-id'],
      ['both id headers differ', () => post('small', { 'x-aux-system-msg-id': 'a1', 'idempotency-key': 'a2' }), 400, 'invalid-header'],
      ['x-expires-at not a date', () => post('small', { 'x-aux-system-msg-id': 'e1', 'x-expires-at': 'tomorrow' }), 400, 'invalid-header'],
      [
        'x-expires-at without offset',
        () => post('small', { 'x-aux-system-msg-id': 'e2', 'x-expires-at': '2030-01-01T00:00:00' }),
        400,
        'invalid-header',
      ],
      [
        'x-expires-at impossible date',
        () => post('small', { 'x-aux-system-msg-id': 'e3', 'x-expires-at': '2030-02-31T00:00:00Z' }),
        400,
        'invalid-header',
      ],
      ['chain id with slash', () => post('small', { 'x-aux-system-msg-id': 'c1', 'x-chain-id': 'a/b' }), 400, 'invalid-header'],
      ['overlong chain id', () => post('small', { 'x-aux-system-msg-id': 'c2', 'x-chain-id': 'c'.repeat(200) }), 400, 'invalid-header'],
      ['correlation id with space', () => post('small', { 'x-aux-system-msg-id': 'r1', 'x-correlation-id': 'a b' }), 400, 'invalid-header'],
      ['huge header', () => post('small', { 'x-aux-system-msg-id': 'h1', 'x-note': 'z'.repeat(20_000) }), 400, 'invalid-header'],
      ['empty body', () => post('small', { 'x-aux-system-msg-id': 'b1' }, ''), 400, 'empty-payload'],
      ['body over the flow limit', () => post('small', { 'x-aux-system-msg-id': 'b2' }, 'y'.repeat(1025)), 413, 'payload-too-large'],
      [
        'body over the API limit',
        () => post('orders', { 'x-aux-system-msg-id': 'b3' }, Buffer.alloc(11 * 1024 * 1024, 1)),
        413,
        'payload-too-large',
      ],
      ['unknown flow', () => post('nope', { 'x-aux-system-msg-id': 'u1' }), 404, 'unknown-flow'],
      ['missing key', () => post('small', { 'x-aux-system-msg-id': 'k1' }, 'x', null), 401, 'unauthenticated'],
      ['wrong key', () => post('small', { 'x-aux-system-msg-id': 'k2' }, 'x', 'sluice_not-a-key'), 401, 'unauthenticated'],
      [
        'non-bearer authorization',
        () => post('small', { 'x-aux-system-msg-id': 'k3', authorization: `Basic ${key1}` }, 'x', null),
        401,
        'unauthenticated',
      ],
      ["other partner's key", () => post('small', { 'x-aux-system-msg-id': 'k4' }, 'x', key2), 403, 'forbidden'],
      ['disabled flow', () => post('closed', { 'x-aux-system-msg-id': 'd1' }), 409, 'flow-disabled'],
      [
        'operator body too large',
        () => gw.request('PUT', '/v1/connections/bad', { body: { url: 'http://127.0.0.1:9', pad: 'p'.repeat(70_000) } }),
        413,
        'payload-too-large',
      ],
      [
        'operator malformed JSON',
        () => gw.request('PUT', '/v1/connections/bad', { body: '{"url":', headers: { 'content-type': 'application/json' } }),
        400,
        'invalid-body',
      ],
      [
        'operator wrong types',
        () => gw.request('PUT', '/v1/connections/bad', { body: { url: 'http://127.0.0.1:9', timeoutMs: 'fast' } }),
        400,
        'invalid-body',
      ],
      [
        'operator unknown field',
        () => gw.request('PUT', '/v1/connections/bad', { body: { url: 'http://127.0.0.1:9', colour: 'red' } }),
        400,
        'invalid-body',
      ],
      [
        'operator link-local URL',
        () => gw.request('PUT', '/v1/connections/bad', { body: { url: 'http://169.254.169.254/latest' } }),
        400,
        'invalid-body',
      ],
      [
        'operator unknown destination',
        () => gw.request('PUT', '/v1/flows/bad', { body: { partnerId: 'acme', destinations: ['ghost'] } }),
        400,
        'invalid-body',
      ],
      [
        'operator unknown partner',
        () => gw.request('PUT', '/v1/flows/bad', { body: { partnerId: 'ghost', destinations: ['erp'] } }),
        400,
        'invalid-body',
      ],
      [
        'operator bad resource id',
        () => gw.request('PUT', '/v1/flows/bad%20id', { body: { partnerId: 'acme', destinations: ['erp'] } }),
        400,
        'invalid-body',
      ],
      ['operator without token', () => gw.request('GET', '/v1/flows', { token: null }), 401, 'unauthenticated'],
      [
        'operator with partner key',
        () => gw.request('PUT', '/v1/flows/bad', { token: key1, body: { partnerId: 'acme', destinations: ['erp'] } }),
        401,
        'unauthenticated',
      ],
      [
        'operator duplicate partner',
        () => gw.request('POST', '/v1/partners', { body: { partnerId: 'acme', name: 'again' } }),
        409,
        'conflict',
      ],
      ['operator unknown connection', () => gw.request('GET', '/v1/connections/ghost'), 404, 'not-found'],
      ['partner reads unknown message', () => gw.request('GET', '/v1/flows/small/messages/nope', { token: key1 }), 404, 'not-found'],
    ];
    assert.ok(corpus.length >= 25);
    for (const [label, send, status, code] of corpus) {
      assertProblem(await send(), status, code, label);
    }
    assert.equal((await gw.tableItems()).length, itemsBefore, 'table unchanged (flow log aside)');
    assert.equal(await gw.queueDepth(), depthBefore, 'queue unchanged');
    assert.equal((await gw.bucketKeys()).length, objectsBefore, 'bucket unchanged');

    const wrongTypes = await gw.request('PUT', '/v1/connections/bad', { body: { url: 'http://127.0.0.1:9', timeoutMs: 'fast' } });
    assert.match(wrongTypes.body.detail, /timeoutMs/);
    assert.deepEqual(
      wrongTypes.body.errors.map((e: { field: string }) => e.field),
      ['timeoutMs'],
    );
    const unknownDestination = await gw.request('PUT', '/v1/flows/bad', { body: { partnerId: 'acme', destinations: ['erp', 'ghost'] } });
    assert.match(unknownDestination.body.detail, /destinations\.1: connection ghost does not exist/);

    const log = await gw.request('GET', '/v1/flows/small/log');
    const codes = log.body.entries.map((e: { code: string }) => e.code);
    for (const code of [
      'missing-message-id',
      'invalid-message-id',
      'invalid-header',
      'empty-payload',
      'payload-too-large',
      'unauthenticated',
      'forbidden',
    ]) {
      assert.ok(codes.includes(code), `flow log has ${code}`);
    }
    const at = log.body.entries.map((e: { at: string }) => e.at);
    assert.deepEqual(at, [...at].sort().reverse(), 'newest first');
    assert.ok(log.body.entries.every((e: { level: string }) => ['error', 'warning', 'info'].includes(e.level)));
    const closedLog = await gw.request('GET', '/v1/flows/closed/log');
    assert.ok(closedLog.body.entries.some((e: { code: string }) => e.code === 'flow-disabled'));
  });

  it('never loses a message when the queue send fails after the record is written', async () => {
    queue.failing = true;
    const failed = await gw.post('orders', key1, 'CRASH-1', 'after the write');
    assertProblem(failed, 500, 'internal', 'queue outage');
    assert.equal((await gw.runtime.messages.get('orders', 'CRASH-1', true))?.enqueue, 'pending');
    queue.failing = false;
    const depthBefore = await gw.queueDepth();
    const retried = await gw.post('orders', key1, 'CRASH-1', 'after the write');
    assert.equal(retried.status, 202, JSON.stringify(retried.body));
    assert.equal((await gw.queueDepth()) - depthBefore, 2);
    const again = await gw.post('orders', key1, 'CRASH-1', 'after the write');
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);

    // A message whose poster gave up: the sweep queues it.
    queue.failing = true;
    assert.equal((await gw.post('orders', key1, 'CRASH-2', 'abandoned')).status, 500);
    queue.failing = false;
    const beforeSweep = await gw.queueDepth();
    assert.equal(await sweepPendingEnqueues(gw.runtime, { olderThanMs: 60_000 }), 0, 'too young to sweep');
    assert.equal(await sweepPendingEnqueues(gw.runtime, { olderThanMs: -1000 }), 1);
    assert.equal((await gw.queueDepth()) - beforeSweep, 2);
    assert.equal((await gw.runtime.messages.get('orders', 'CRASH-2', true))?.enqueue, 'done');
    assert.equal(await sweepPendingEnqueues(gw.runtime, { olderThanMs: -1000 }), 0, 'nothing left');
  });

  it('queues a message whose request died between its record and its send, leaving no mark', async () => {
    // Move every flow's sweep checkpoint past what earlier tests posted (deliver is off here).
    await gw.countsSettled();
    await sweepUnconfirmed(gw.runtime, { olderThanMs: -1000 });
    // The record exactly as ingest writes it, and then nothing: the process was killed.
    const receivedAt = new Date(Date.now() + 30_000).toISOString();
    const message = {
      flowId: 'orders',
      messageId: 'KILLED-1',
      partnerId: 'acme',
      contentType: 'text/plain',
      bytes: 4,
      sha256: 'x'.repeat(64),
      payload: { kind: 'inline' as const },
      correlationId: 'c',
      receivedAt,
      enqueue: 'done' as const,
      destinations: [
        { connectionId: 'erp', lane: 0 },
        { connectionId: 'crm', lane: 1 },
      ],
    };
    assert.ok(await gw.runtime.messages.accept(message, accepted(message).deliveries, Buffer.from('lost')));
    await gw.countsSettled();
    const before = await gw.queueDepth();
    assert.equal(await sweepUnconfirmed(gw.runtime, { olderThanMs: 0 }), 0, 'not yet old enough');
    assert.equal(await sweepUnconfirmed(gw.runtime, { olderThanMs: -60_000 }), 2);
    assert.equal((await gw.queueDepth()) - before, 2, 'one ticket per destination');
    assert.equal(await sweepUnconfirmed(gw.runtime, { olderThanMs: -60_000 }), 0, 'each message is looked at once');
    // A repeated post of the same GUID would have queued it too (a no-op now: SQS deduplicates).
    const again = await gw.post('orders', key1, 'KILLED-1', 'lost');
    assert.equal(again.status, 200);
    assert.equal((await gw.queueDepth()) - before, 2);
  });

  it('never shows an API key again after creation, in responses or logs', async () => {
    const rotated = await gw.request('POST', '/v1/partners/acme/keys');
    assert.equal(rotated.status, 201);
    const newKey: string = rotated.body.apiKey;
    assert.match(newKey, /^sluice_[A-Za-z0-9_-]{43}$/);
    assert.equal((await gw.post('orders', key1, 'OLD-KEY', 'x')).status, 401, 'old key stops working');
    const { output: logs } = await captureOutput(async () => {
      const ok = await gw.post('orders', newKey, 'NEW-KEY', 'x');
      assert.equal(ok.status, 202);
      await gw.post('small', newKey, 'bad id!', 'x');
      const responses = await Promise.all([
        gw.request('GET', '/v1/partners'),
        gw.request('GET', '/v1/flows'),
        gw.request('GET', '/v1/flows/orders'),
        gw.request('GET', '/v1/flows/orders/log'),
        gw.request('GET', '/v1/flows/small/log'),
        gw.request('GET', '/v1/flows/orders/messages/NEW-KEY'),
        gw.request('GET', '/v1/flows/orders/messages/NEW-KEY', { token: newKey }),
      ]);
      for (const response of responses) {
        for (const key of [key1, key2, newKey]) assert.ok(!response.raw.toString().includes(key), 'no key in a response');
      }
    });
    output += logs;
    assert.match(output, /partner key rotated|partner request rejected/, 'the capture does see the structured logs');
    for (const key of [key1, key2, newKey]) assert.ok(!output.includes(key), 'no key in the logs');
    const stored = JSON.stringify(await gw.tableItems());
    for (const key of [key1, key2, newKey]) assert.ok(!stored.includes(key), 'no key stored in clear');
  });

  it('lets only the owning partner read a message', async () => {
    const other = await gw.request('GET', '/v1/flows/orders/messages/PO-1001', { token: key2 });
    assertProblem(other, 403, 'forbidden', 'other partner');
  });
});
