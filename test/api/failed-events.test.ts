import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SUGGESTED_ACTIONS } from '../../core/classify';
import { captureOutput, TestGateway } from '../helpers/gateway';
import { TargetPool, type Behaviour } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

const ITEM_KEYS = [
  'attempts',
  'attemptsSinceRestart',
  'connectionId',
  'error',
  'failedAt',
  'flowId',
  'id',
  'messageId',
  'partnerId',
  'payload',
  'status',
  'suggestedAction',
  'suspendedCount',
  'type',
];

/** Decodes a presigned URL and checks it names exactly `key` and expires as promised. */
function checkPresigned(signed: { url: string; expiresAt: string }, bucket: string, key: string, seconds = 300): URL {
  const url = new URL(signed.url);
  assert.equal(url.origin.startsWith('http://127.0.0.1:'), true, 'local mode: path-style on loopback');
  assert.equal(decodeURIComponent(url.pathname), `/${bucket}/${key}`, 'names exactly one object');
  const expires = Number(url.searchParams.get('X-Amz-Expires'));
  assert.equal(expires, seconds);
  assert.ok(expires <= 900, 'never more than 15 minutes');
  assert.equal(url.searchParams.get('X-Amz-SignedHeaders'), 'host', 'a plain HTTP client can use it');
  assert.equal(url.searchParams.get('x-amz-checksum-crc32'), null, 'no checksum of an empty body baked in');
  const date = url.searchParams.get('X-Amz-Date')!;
  const signedAt = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
  assert.equal(Date.parse(signed.expiresAt), signedAt + expires * 1000, 'expiresAt matches the signature');
  return url;
}

describe('failed events: list, download, correct, restart, recover, discard', () => {
  let gw: TestGateway;
  let key: string;
  let bucket: string;
  const targets = new TargetPool();
  const newTarget = (behaviour?: Behaviour) => targets.start(behaviour);
  const list = async (query = '') => {
    const result = await gw.request('GET', `/v1/failed-events${query ? `?${query}` : ''}`);
    assert.equal(result.status, 200, JSON.stringify(result.body));
    return result.body as { items: any[]; cursor: string | null };
  };
  const waitForFailed = (flowId: string, count: number, status = 'failed') =>
    waitFor(
      async () => {
        const { items } = await list(`flowId=${flowId}`);
        return items.filter((i) => i.status === status).length >= count ? items : undefined;
      },
      { timeoutMs: 60_000, what: `${count} ${status} events in ${flowId}` },
    );
  const counts = async (flowId: string) => {
    await gw.countsSettled();
    return (await gw.request('GET', `/v1/flows/${flowId}`)).body.counts;
  };
  const report = async (flowId: string, messageId: string) =>
    (await gw.request('GET', `/v1/flows/${flowId}/messages/${messageId}`)).body.report as any[];

  before(async () => {
    gw = await TestGateway.start();
    key = await gw.partner('acme');
    bucket = gw.runtime.config.bucketName;
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  it('lists a business failure with its suggested action; download, correct, upload and restart deliver the fix', async () => {
    const t = await newTarget();
    t.behaviour = (req) =>
      req.body.toString().includes('BROKEN') ? { status: 422, body: '{"error":"qty must be a number"}' } : { status: 200 };
    await gw.connection('erp', { url: t.url });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'], maxPayloadBytes: 1024 });
    const original = '{"order":"O-1","qty":"BROKEN"}';
    const postedAt = new Date(Date.now() - 1000).toISOString();
    assert.equal((await gw.post('orders', key, 'R-1', original, { 'content-type': 'application/json' })).status, 202);

    const [item] = await waitForFailed('orders', 1);
    const seenAt = new Date(Date.now() + 1000).toISOString();
    assert.deepEqual(Object.keys(item).sort(), ITEM_KEYS);
    assert.deepEqual(item, {
      id: 'orders~R-1~erp',
      flowId: 'orders',
      messageId: 'R-1',
      partnerId: 'acme',
      connectionId: 'erp',
      status: 'failed',
      type: 'business',
      suggestedAction: SUGGESTED_ACTIONS.business,
      error: { httpStatus: 422, message: 'target answered HTTP 422', bodyExcerpt: '{"error":"qty must be a number"}' },
      attempts: 1,
      attemptsSinceRestart: 1,
      failedAt: item.failedAt,
      suspendedCount: 0,
      payload: { bytes: original.length, contentType: 'application/json', sha256: sha256(original), corrected: false },
    });
    // failedAt is when it failed: between the post and now, and the time of the report's `failed` event.
    assert.match(item.failedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.ok(item.failedAt >= postedAt && item.failedAt <= seenAt, `failedAt ${item.failedAt} within the test`);
    assert.equal(item.failedAt, (await report('orders', 'R-1')).find((e) => e.event === 'failed')?.at);
    assert.deepEqual((await gw.request('GET', `/v1/failed-events/${item.id}`)).body, item);
    assert.deepEqual(
      (await list('type=business&connectionId=erp')).items.map((i) => i.id),
      [item.id],
    );
    assert.deepEqual((await list('type=timeout')).items, []);
    assert.deepEqual((await list('connectionId=nobody')).items, []);

    // Download the failed payload with a plain HTTP GET.
    const download = await gw.request('POST', `/v1/failed-events/${item.id}/download-url`);
    assert.equal(download.status, 200, JSON.stringify(download.body));
    assert.deepEqual(Object.keys(download.body).sort(), ['expiresAt', 'url']);
    checkPresigned(download.body, bucket, 'failed/orders/R-1/erp');
    const fetched = await fetch(download.body.url);
    assert.equal(fetched.status, 200);
    assert.equal(Buffer.from(await fetched.arrayBuffer()).toString(), original);

    // Edit and upload the correction with a plain HTTP PUT.
    const upload = await gw.request('POST', `/v1/failed-events/${item.id}/upload-url`);
    assert.equal(upload.status, 200, JSON.stringify(upload.body));
    assert.deepEqual(Object.keys(upload.body).sort(), ['expiresAt', 'maxBytes', 'method', 'url']);
    assert.equal(upload.body.method, 'PUT');
    assert.equal(upload.body.maxBytes, 1024);
    checkPresigned(upload.body, bucket, 'corrections/orders/R-1/erp');
    const corrected = original.replace('"BROKEN"', '7');
    const put = await fetch(upload.body.url, { method: 'PUT', body: corrected, headers: { 'content-type': 'application/json' } });
    assert.equal(put.status, 200);

    // Until restart, the download URL serves the correction, and the failed event shows it.
    const again = await gw.request('POST', `/v1/failed-events/${item.id}/download-url`, { body: { expiresInSeconds: 900 } });
    checkPresigned(again.body, bucket, 'corrections/orders/R-1/erp', 900);
    assert.equal(await (await fetch(again.body.url)).text(), corrected);
    const correctedView = { bytes: corrected.length, contentType: 'application/json', sha256: sha256(corrected), corrected: true };
    assert.deepEqual((await gw.request('GET', `/v1/failed-events/${item.id}`)).body.payload, correctedView);
    assert.deepEqual(
      (await list('flowId=orders')).items.map((i) => i.payload),
      [correctedView],
      'the listing shows it too',
    );

    const restart = await gw.request('POST', `/v1/failed-events/${item.id}/restart`);
    assert.equal(restart.status, 202, JSON.stringify(restart.body));
    assert.equal(restart.body.status, 'queued');
    assert.deepEqual(restart.body.payload, {
      bytes: corrected.length,
      contentType: 'application/json',
      sha256: sha256(corrected),
      corrected: true,
    });

    const [delivered] = await t.waitForDelivered(1);
    assert.equal(delivered!.body.toString(), corrected);
    assert.equal(delivered!.headers['content-type'], 'application/json');
    assert.equal(delivered!.headers['x-sluice-possible-duplicate'], 'true');
    assert.equal(delivered!.headers['x-aux-system-msg-id'], 'R-1');
    assert.deepEqual((await list('flowId=orders')).items, []);
    await waitFor(async () => (await counts('orders')).delivered === 1, { what: 'delivered count' });
    assert.equal((await counts('orders')).failed, 0);

    const entries = await report('orders', 'R-1');
    const uploaded = entries.find((e) => e.event === 'payload-uploaded');
    assert.ok(uploaded, JSON.stringify(entries));
    assert.ok(uploaded.detail.includes(sha256(original)) && uploaded.detail.includes(sha256(corrected)), uploaded.detail);
    assert.equal(uploaded.previousSha256, sha256(original));
    assert.equal(uploaded.sha256, sha256(corrected));
    const restarted = entries.find((e) => e.event === 'restarted');
    assert.equal(restarted.by, 'local-operator');
    assert.ok(entries.findIndex((e) => e.event === 'restarted') < entries.findIndex((e) => e.event === 'delivered'));
    assert.ok(entries.some((e) => e.event === 'download-url-issued') && entries.some((e) => e.event === 'upload-url-issued'));

    // The original failed copy is kept for audit.
    assert.deepEqual(await gw.bucketKeys('failed/orders/'), ['failed/orders/R-1/erp']);
    // Restarting what is now delivered is a conflict.
    const conflict = await gw.request('POST', `/v1/failed-events/${item.id}/restart`);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.code, 'conflict');
    assert.equal((await gw.request('GET', `/v1/failed-events/${item.id}`)).status, 404, 'delivered: no longer a failed event');

    const audit = await gw.runtime.audit.list(new Date().toISOString().slice(0, 10));
    const mine = audit.filter((a) => a.target === item.id).map((a) => a.action);
    assert.deepEqual(mine, ['failed-event.download-url', 'failed-event.upload-url', 'failed-event.download-url', 'failed-event.restart']);
    assert.ok(audit.every((a) => a.principal === 'local-operator'));
    const serialized = JSON.stringify(audit);
    assert.ok(!serialized.includes(gw.gateway.operatorToken), 'no secrets in the audit trail');
    assert.ok(!serialized.includes('X-Amz-Signature'), 'no signed URLs in the audit trail');
  });

  it('after a restart, reports the attempts the target saw in total and those since the restart', async () => {
    const t = await newTarget(() => ({ status: 503, body: 'down for maintenance' }));
    await gw.connection('flaky', { url: t.url, retry: { count: 2, intervalSeconds: 0 } });
    await gw.flow('counted', { partnerId: 'acme', destinations: ['flaky'] });
    assert.equal((await gw.post('counted', key, 'N-1', 'x')).status, 202);
    const [first] = await waitForFailed('counted', 1);
    assert.equal(first.type, 'unavailable');
    assert.deepEqual([first.attempts, first.attemptsSinceRestart], [3, 3]);

    assert.equal((await gw.request('POST', `/v1/failed-events/${first.id}/restart`)).status, 202);
    const failedAgain = await waitFor(
      async () => {
        const view = (await gw.request('GET', `/v1/failed-events/${first.id}`)).body;
        return view.status === 'failed' && view.failedAt !== first.failedAt ? view : undefined;
      },
      { timeoutMs: 60_000, what: 'the restarted delivery to fail again' },
    );
    const seen = t.received.map((r) => r.headers['x-sluice-attempt']);
    assert.deepEqual(seen, ['1', '2', '3', '4', '5', '6']);
    assert.equal(failedAgain.attempts, 6, 'the total matches the last x-sluice-attempt the target saw');
    assert.equal(failedAgain.attemptsSinceRestart, 3);
  });

  it('refuses an oversized or empty correction and keeps the original', async () => {
    const t = await newTarget();
    t.behaviour = () => ({ status: 400, body: 'nope' });
    await gw.connection('strict', { url: t.url });
    await gw.flow('tiny', { partnerId: 'acme', destinations: ['strict'], maxPayloadBytes: 64 });
    const original = 'a'.repeat(40);
    await gw.post('tiny', key, 'T-1', original);
    const [item] = await waitForFailed('tiny', 1);

    const upload = (await gw.request('POST', `/v1/failed-events/${item.id}/upload-url`)).body;
    assert.equal(upload.maxBytes, 64);
    assert.equal((await fetch(upload.url, { method: 'PUT', body: 'b'.repeat(65) })).status, 200);
    const tooLarge = await gw.request('POST', `/v1/failed-events/${item.id}/restart`);
    assert.equal(tooLarge.status, 400);
    assert.equal(tooLarge.headers.get('content-type'), 'application/problem+json');
    assert.equal(tooLarge.body.code, 'invalid-body');
    assert.match(tooLarge.body.detail, /65 bytes.*at most 64/);

    const still = (await gw.request('GET', `/v1/failed-events/${item.id}`)).body;
    assert.deepEqual(still, item, 'nothing changed');
    const download = (await gw.request('POST', `/v1/failed-events/${item.id}/download-url`)).body;
    checkPresigned(download, bucket, 'failed/tiny/T-1/strict');
    assert.equal(await (await fetch(download.url)).text(), original);

    assert.equal((await fetch(upload.url, { method: 'PUT', body: '' })).status, 200);
    const empty = await gw.request('POST', `/v1/failed-events/${item.id}/restart`);
    assert.equal(empty.status, 400);
    assert.match(empty.body.detail, /empty/);
    assert.equal((await gw.request('GET', `/v1/failed-events/${item.id}`)).body.status, 'failed');

    // A correction whose sha256 is not what the operator expects is refused too.
    const fixed = 'c'.repeat(10);
    assert.equal((await fetch(upload.url, { method: 'PUT', body: fixed })).status, 200);
    const mismatch = await gw.request('POST', `/v1/failed-events/${item.id}/restart`, { body: { sha256: sha256('other') } });
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.body.detail, /expected/);

    for (const seconds of [0, 901, 'x']) {
      const bad = await gw.request('POST', `/v1/failed-events/${item.id}/download-url`, { body: { expiresInSeconds: seconds } });
      assert.equal(bad.status, 400, `expiresInSeconds ${seconds}`);
      assert.equal(bad.body.code, 'invalid-body');
    }
    assert.equal(t.received.length, 1, 'nothing was delivered again');
  });

  it('restarting the failed head of a suspended chain delivers the whole chain in order', async () => {
    const t = await newTarget();
    let failedOnce = false;
    t.behaviour = (req) => {
      if (req.headers['x-aux-system-msg-id'] === 'CH-1' && !failedOnce) {
        failedOnce = true;
        return { status: 422 };
      }
      return { status: 200 };
    };
    await gw.connection('chain-target', { url: t.url });
    await gw.flow('chains', { partnerId: 'acme', destinations: ['chain-target'], onFailure: 'suspend-chain' });
    for (const id of ['CH-1', 'CH-2', 'CH-3', 'CH-4']) await gw.post('chains', key, id, id, { 'x-chain-id': 'order-77' });
    await waitFor(async () => (await counts('chains')).suspended === 3, { timeoutMs: 60_000, what: '3 suspended' });
    const [item] = await waitForFailed('chains', 1);
    assert.equal(item.messageId, 'CH-1');
    assert.equal(item.suspendedCount, 3);

    const restart = await gw.request('POST', `/v1/failed-events/${item.id}/restart`);
    assert.equal(restart.status, 202, JSON.stringify(restart.body));
    const delivered = await t.waitForDelivered(4);
    assert.deepEqual(
      delivered.map((r) => r.headers['x-aux-system-msg-id']),
      ['CH-1', 'CH-2', 'CH-3', 'CH-4'],
    );
    assert.equal(delivered[0]!.headers['x-sluice-possible-duplicate'], 'true');
    await waitFor(async () => (await counts('chains')).delivered === 4, { what: 'chain delivered' });
    const c = await counts('chains');
    assert.equal(c.suspended, 0);
    assert.equal(c.failed, 0);
    assert.equal(c.queued, 0);
    assert.ok((await report('chains', 'CH-3')).some((e) => e.event === 'restarted' && e.detail.includes('released with chain order-77')));
    assert.equal(await gw.runtime.deliveries.chainBlocker('chains', 'order-77', 'chain-target'), undefined, 'block lifted');

    // Later messages of the chain flow normally.
    await gw.post('chains', key, 'CH-5', 'CH-5', { 'x-chain-id': 'order-77' });
    await t.waitForDelivered(5);
  });

  it('recover: an in-error delivery (autoRetry off) is listed as inError and delivered after recover', async () => {
    const t = await newTarget();
    t.behaviour = (_req, index) => (index === 0 ? { status: 503 } : { status: 200 });
    await gw.connection('flaky', { url: t.url });
    await gw.flow('manual', { partnerId: 'acme', destinations: ['flaky'], autoRetry: false });
    await gw.post('manual', key, 'M-1', 'payload');
    const [item] = await waitForFailed('manual', 1, 'inError');
    assert.equal(item.status, 'inError');
    assert.equal(item.type, 'unavailable');
    assert.equal(item.error.httpStatus, 503);
    assert.deepEqual(Object.keys(item).sort(), ITEM_KEYS);
    assert.deepEqual(item.payload, { bytes: 7, contentType: 'text/plain', sha256: sha256('payload'), corrected: false });
    assert.equal((await counts('manual')).inError, 1);

    // Restart is for failed deliveries; recover is for in-error ones (and vice versa).
    assert.equal((await gw.request('POST', `/v1/failed-events/${item.id}/restart`)).status, 409);
    const recover = await gw.request('POST', `/v1/failed-events/${item.id}/recover`);
    assert.equal(recover.status, 202, JSON.stringify(recover.body));
    const [delivered] = await t.waitForDelivered(1);
    assert.equal(delivered!.body.toString(), 'payload');
    assert.equal(delivered!.headers['x-sluice-possible-duplicate'], 'true');
    assert.deepEqual((await list('flowId=manual')).items, []);
    await waitFor(async () => (await counts('manual')).delivered === 1, { what: 'recovered delivery' });
    assert.equal((await counts('manual')).inError, 0);
    assert.ok((await report('manual', 'M-1')).some((e) => e.event === 'recovered' && e.by === 'local-operator'));
    assert.equal((await gw.request('POST', `/v1/failed-events/${item.id}/recover`)).status, 409);
  });

  it('discard keeps the delivery as discarded, drops it from the list and releases its chain', async () => {
    const t = await newTarget();
    t.behaviour = (req) => (req.headers['x-aux-system-msg-id'] === 'D-1' ? { status: 422 } : { status: 200 });
    await gw.connection('disc-target', { url: t.url });
    await gw.flow('discards', { partnerId: 'acme', destinations: ['disc-target'], onFailure: 'suspend-chain' });
    for (const id of ['D-1', 'D-2', 'D-3']) await gw.post('discards', key, id, id, { 'x-chain-id': 'batch-1' });
    await waitFor(async () => (await counts('discards')).suspended === 2, { timeoutMs: 60_000, what: '2 suspended' });
    const [item] = await waitForFailed('discards', 1);

    const { result: discard, output } = await captureOutput(() => gw.request('POST', `/v1/failed-events/${item.id}/discard`));
    assert.equal(discard.status, 200, JSON.stringify(discard.body));
    assert.deepEqual(Object.keys(discard.body).sort(), ITEM_KEYS);
    assert.equal(discard.body.status, 'discarded');
    // One structured log line (single-line or pretty-printed JSON, depending on the logger's mode).
    assert.match(
      output,
      /"message":\s*"operator action",[^}]*"action":\s*"failed-event.discard",\s*"principal":\s*"local-operator",\s*"target":\s*"discards~D-1~disc-target"/,
    );
    assert.ok(!output.includes(gw.gateway.operatorToken));

    assert.deepEqual((await list('flowId=discards')).items, []);
    const delivered = await t.waitForDelivered(2);
    assert.deepEqual(
      delivered.map((r) => r.headers['x-aux-system-msg-id']),
      ['D-2', 'D-3'],
    );
    const message = (await gw.request('GET', '/v1/flows/discards/messages/D-1')).body;
    assert.equal(message.status, 'discarded');
    assert.ok(message.report.some((e: any) => e.event === 'discarded'));
    await waitFor(async () => (await counts('discards')).delivered === 2, { what: 'released chain delivered' });
    const c = await counts('discards');
    assert.equal(c.failed, 0);
    assert.equal(c.suspended, 0);
    // Still downloadable for audit, but no longer restartable.
    assert.equal((await gw.request('POST', `/v1/failed-events/${item.id}/download-url`)).status, 200);
    assert.equal((await gw.request('POST', `/v1/failed-events/${item.id}/restart`)).status, 409);
    assert.equal((await gw.request('POST', `/v1/failed-events/${item.id}/discard`)).status, 409);
  });

  it('answers unknown ids, bad bodies and bad cursors with problems', async () => {
    for (const id of ['orders~NOPE~erp', 'garbage', 'a~b', 'a~b~c~d', 'bad%20flow~x~y']) {
      for (const [method, suffix] of [
        ['GET', ''],
        ['POST', '/restart'],
        ['POST', '/download-url'],
        ['POST', '/discard'],
      ] as const) {
        const result = await gw.request(method, `/v1/failed-events/${id}${suffix}`);
        assert.equal(result.status, 404, `${method} ${id}${suffix}`);
        assert.equal(result.headers.get('content-type'), 'application/problem+json');
        assert.equal(result.body.code, 'not-found');
      }
    }
    for (const body of [{ flowid: 'x' }, { type: 'nope' }, { flowId: 'bad id' }, [], 'text']) {
      const result = await gw.request('POST', '/v1/failed-events/restart', { body });
      assert.equal(result.status, 400, JSON.stringify(body));
      assert.equal(result.body.code, 'invalid-body');
    }
    assert.equal((await gw.request('POST', '/v1/failed-events/restart')).body.code, 'invalid-body', 'a body is required');
    assert.equal((await gw.request('GET', '/v1/failed-events?type=nope')).status, 400);
    assert.equal((await gw.request('GET', '/v1/failed-events?limit=1000')).status, 400);
    const forged = Buffer.from(JSON.stringify({ pk: 'PARTNER#x', sk: 'PARTNER', gsi3pk: 'FAILED', gsi3sk: 'x' })).toString('base64url');
    assert.equal((await gw.request('GET', `/v1/failed-events?cursor=${forged}`)).status, 400);
    assert.equal((await gw.request('GET', '/v1/failed-events', { token: null })).status, 401);
  });

  it('pages through the list with limit and cursor', async () => {
    const t = await newTarget();
    t.behaviour = () => ({ status: 409 });
    await gw.connection('pager', { url: t.url, threads: 4 });
    await gw.flow('paging', { partnerId: 'acme', destinations: ['pager'] });
    const ids = Array.from({ length: 7 }, (_, i) => `PG-${i}`);
    await Promise.all(ids.map((id) => gw.post('paging', key, id, id)));
    await waitForFailed('paging', 7);
    for (const query of ['flowId=paging&limit=3', 'connectionId=pager&limit=3']) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { items: any[]; cursor: string | null } = await list(`${query}${cursor ? `&cursor=${cursor}` : ''}`);
        assert.ok(page.items.length <= 3);
        seen.push(...page.items.map((i) => i.messageId));
        cursor = page.cursor;
        pages += 1;
      } while (cursor);
      assert.deepEqual([...seen].sort(), ids, query);
      assert.ok(pages >= 3, `${query}: ${pages} pages`);
    }
  });
});
