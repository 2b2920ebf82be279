// The operator console end to end: headless Chromium (Debian's package, driven by
// playwright-core) against a real local gateway and real HTTP targets. One browser and
// one gateway for the whole file; every wait is on a condition, never a fixed sleep.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { CHROMIUM_PATH, launchConsoleBrowser, type ConsoleBrowser } from '../../console/chromium';
import { TestGateway } from '../helpers/gateway';
import { TargetPool } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

describe('operator console in headless Chromium', () => {
  let gw: TestGateway;
  let browser: ConsoleBrowser;
  let page: Page;
  let key: string;
  const targets = new TargetPool();

  const api = async (method: string, path: string, body?: unknown) => {
    const result = await gw.request(method, path, body === undefined ? {} : { body });
    assert.ok(result.status < 300, `${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  };
  const failedEvents = async (flowId: string) =>
    ((await api('GET', `/v1/failed-events?flowId=${flowId}`)).items as any[]).filter((e) => e.status === 'failed');
  const go = async (route: string) => {
    await page.evaluate(`location.hash = ${JSON.stringify(route)}`);
    await page.locator('main h1').first().waitFor();
  };

  before(async () => {
    gw = await TestGateway.start();
    key = await gw.partner('acme');
    browser = await launchConsoleBrowser();
    page = await browser.context.newPage();
    // The address local mode prints: the token rides in the fragment.
    await page.goto(`${gw.url}/console#token=${encodeURIComponent(gw.gateway.operatorToken)}`);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    assert.equal(new URL(page.url()).hash, '#/', 'the token leaves the address bar once it is stored');
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    await targets.stopAll();
  });

  it('repairs a failing delivery entirely in the browser: download, upload a corrected file, restart, delivered', async () => {
    const target = await targets.start((request) =>
      request.body.toString().includes('BROKEN') ? { status: 422, body: '{"error":"qty must be a number"}' } : { status: 200 },
    );
    await gw.connection('erp', { url: target.url });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
    assert.equal((await gw.post('orders', key, 'order-1', 'qty=BROKEN')).status, 202);
    const [event] = await waitFor(async () => ((await failedEvents('orders')).length === 1 ? failedEvents('orders') : undefined), {
      timeoutMs: 20_000,
      what: 'the failed event',
    });

    await go('#/failed');
    await page.locator(`tr[data-event="${event.id}"]`).getByRole('link', { name: 'order-1' }).click();
    await page.getByRole('heading', { name: 'Failed event' }).waitFor();
    await page.getByText('HTTP 422').first().waitFor();

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download payload' }).click()]);
    assert.equal(await readFile((await download.path())!, 'utf8'), 'qty=BROKEN', 'the original payload');

    await page.getByLabel('Corrected file').setInputFiles({ name: 'order-1.txt', mimeType: 'text/plain', buffer: Buffer.from('qty=7') });
    await page.getByRole('button', { name: 'Upload corrected file' }).click();
    await page.getByRole('status').filter({ hasText: 'Uploaded order-1.txt' }).waitFor();
    assert.equal((await api('GET', `/v1/failed-events/${event.id}`)).status, 'failed', 'an upload alone restarts nothing');
    assert.equal(target.delivered().length, 0, 'nothing delivered before the restart');

    // From the keyboard: focus the button and press Enter.
    await page.getByRole('button', { name: 'Restart with the corrected payload' }).press('Enter');
    const [delivered] = await target.waitForDelivered(1);
    assert.equal(delivered!.body.toString(), 'qty=7', 'the corrected payload reached the target');
    await page.getByRole('status').filter({ hasText: 'Restarted' }).waitFor();

    await page.getByRole('link', { name: 'Follow the message’s execution report' }).click();
    await waitFor(
      async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        return page.locator('#report [data-event="delivered"]').count();
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'delivered in the execution report' },
    );
    const events = await page.locator('#report [data-event]').evaluateAll((items) => items.map((item) => item.getAttribute('data-event')));
    assert.ok(events.indexOf('payload-uploaded') < events.indexOf('restarted'), `upload before restart: ${events}`);
    assert.ok(events.indexOf('restarted') < events.lastIndexOf('delivered'), `restart before delivery: ${events}`);
  });

  it('pauses a flow, holding its messages, and resumes it, delivering them', async () => {
    const target = await targets.start();
    await gw.connection('billing', { url: target.url });
    await gw.flow('invoices', { partnerId: 'acme', destinations: ['billing'] });

    await go('#/flows/invoices');
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.locator('#flow-status [data-status="paused"]').waitFor();
    assert.equal((await api('GET', '/v1/flows/invoices')).status, 'paused');

    assert.equal((await gw.post('invoices', key, 'inv-1', 'total=10')).status, 202);
    await waitFor(async () => (await api('GET', '/v1/flows/invoices/messages/inv-1')).status === 'paused', {
      timeoutMs: 20_000,
      what: 'inv-1 held',
    });
    assert.equal(target.delivered().length, 0, 'held while paused');

    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('#flow-status [data-status="enabled"]').waitFor();
    const [delivered] = await target.waitForDelivered(1);
    assert.equal(delivered!.headers['x-aux-system-msg-id'], 'inv-1');

    await page.getByLabel('Message status').selectOption('delivered');
    await waitFor(
      async () => {
        await page.getByRole('button', { name: 'Refresh log' }).click();
        await page.getByLabel('Message status').selectOption('');
        await page.getByLabel('Message status').selectOption('delivered');
        return page.locator('#messages').getByRole('link', { name: 'inv-1' }).count();
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'inv-1 listed as delivered' },
    );
  });

  it('reauthorizes an unauthorized connection; held deliveries then go out with the new credentials', async () => {
    const target = await targets.start((request) =>
      request.headers.authorization === 'Bearer new-secret' ? { status: 200 } : { status: 401 },
    );
    await gw.connection('crm', { url: target.url, auth: { type: 'bearer', token: 'expired' } });
    await gw.flow('contacts', { partnerId: 'acme', destinations: ['crm'] });
    assert.equal((await gw.post('contacts', key, 'contact-1', 'name=Ada')).status, 202);
    await waitFor(async () => (await api('GET', '/v1/connections/crm')).status === 'unauthorized', {
      timeoutMs: 20_000,
      what: 'crm unauthorized',
    });

    await go('#/connections/crm');
    await page.locator('.page-header [data-status="unauthorized"]').waitFor();
    // A rejected form shows the problem's title and detail, and changes nothing.
    await page.getByLabel('Authentication').selectOption('header');
    await page.getByLabel('Header name').fill('not a header');
    await page.getByLabel('Header value').fill('x');
    await page.getByRole('button', { name: 'Reauthorize' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Invalid request body' });
    await alert.waitFor();
    assert.match(await alert.innerText(), /must be an HTTP header name/);
    assert.equal((await api('GET', '/v1/connections/crm')).auth.type, 'bearer');

    await page.getByLabel('Authentication').selectOption('bearer');
    await page.getByLabel('Token').fill('new-secret');
    await page.getByLabel('Token').press('Enter');
    await page.getByRole('status').filter({ hasText: 'the connection is online' }).waitFor();
    assert.equal(await page.getByLabel('Token').inputValue(), '', 'the secret is cleared from the page');
    assert.equal((await api('GET', '/v1/connections/crm')).status, 'online');

    const [delivered] = await target.waitForDelivered(1);
    assert.equal(delivered!.headers.authorization, 'Bearer new-secret');
    assert.equal(delivered!.headers['x-aux-system-msg-id'], 'contact-1');
  });

  it('bulk-restarts only after a dry run that changes nothing', async () => {
    let broken = true;
    const target = await targets.start(() => (broken ? { status: 400, body: 'rejected' } : { status: 200 }));
    await gw.connection('wms', { url: target.url });
    await gw.flow('shipments', { partnerId: 'acme', destinations: ['wms'] });
    for (const id of ['ship-1', 'ship-2']) assert.equal((await gw.post('shipments', key, id, `${id} payload`)).status, 202);
    await waitFor(async () => (await failedEvents('shipments')).length === 2, { timeoutMs: 20_000, what: 'two failed shipments' });

    await go('#/failed');
    const restart = page.getByRole('button', { name: /^Restart/ });
    assert.equal(await restart.isDisabled(), true, 'no restart before a dry run');
    await page.getByLabel('Flow').selectOption('shipments');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('button', { name: 'Dry run', exact: true }).click();
    await page.getByText('Dry run: 2 failed events match. Nothing was changed.').waitFor();
    assert.equal((await failedEvents('shipments')).length, 2, 'the dry run changed nothing');
    assert.equal(target.received.length, 2, 'and sent nothing');

    broken = false;
    await page.getByRole('button', { name: 'Restart 2 failed events' }).click();
    await page.getByRole('status').filter({ hasText: 'Restarted 2 failed events.' }).waitFor();
    const delivered = await target.waitForDelivered(2);
    assert.deepEqual(delivered.map((r) => r.headers['x-aux-system-msg-id']).sort(), ['ship-1', 'ship-2']);
    assert.equal((await failedEvents('shipments')).length, 0);
  });

  it('replays what a restored target lost from the connection page: in order, flagged, a bad window refused', async () => {
    const target = await targets.start();
    await gw.connection('archive', { url: target.url });
    await gw.flow('journal', { partnerId: 'acme', destinations: ['archive'] });
    const receivedAt: string[] = [];
    for (const id of ['entry-1', 'entry-2']) {
      const posted = await gw.post('journal', key, id, `${id} payload`);
      assert.equal(posted.status, 202);
      receivedAt.push(posted.body.receivedAt);
      await target.waitForDelivered(receivedAt.length);
    }
    await gw.countsSettled();
    // datetime-local values in the browser's own time zone, to the second (a string, so no
    // helper of the test's transpiler ends up in the page).
    const local = (iso: string) =>
      page.evaluate<string>(
        `(() => { const d = new Date(${JSON.stringify(iso)}); return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19); })()`,
      );

    await go('#/connections/archive');
    const since = await local(new Date(Date.parse(receivedAt[0]!) - 1000).toISOString());
    await page.getByLabel('Received from').fill(since);
    await page.getByLabel('Received before').fill(await local(new Date(Date.parse(receivedAt[0]!) - 5000).toISOString()));
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Invalid request body' });
    await alert.waitFor();
    assert.match(await alert.innerText(), /since must be before until/);
    assert.equal(target.received.length, 2, 'a refused replay sends nothing');

    await page.getByLabel('Received before').fill('');
    await page.getByLabel('Flow', { exact: true }).selectOption('journal');
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Replayed 2 deliveries' }).waitFor();
    await target.waitForDelivered(4);
    const again = target.received.slice(2);
    assert.deepEqual(
      again.map((r) => r.headers['x-aux-system-msg-id']),
      ['entry-1', 'entry-2'],
      'in their original order',
    );
    assert.ok(again.every((r) => r.headers['x-sluice-possible-duplicate'] === 'true'));
    await waitFor(async () => (await api('GET', '/v1/flows/journal/messages/entry-2')).status === 'delivered', {
      timeoutMs: 20_000,
      what: 'entry-2 delivered again',
    });
    const report = (await api('GET', '/v1/flows/journal/messages/entry-2')).report as { event: string }[];
    assert.ok(
      report.some((e) => e.event === 'replayed'),
      JSON.stringify(report),
    );
  });

  it('`chromium --headless --dump-dom` of the printed address shows the flows and connections that exist', async () => {
    const target = await targets.start();
    await gw.connection('ledger', { url: target.url });
    await gw.flow('journal', { partnerId: 'acme', destinations: ['ledger'] });
    const flows = (await api('GET', '/v1/flows')).items.map((f: any) => f.flowId);
    const connections = (await api('GET', '/v1/connections')).items.map((c: any) => c.connectionId);
    const home = await mkdtemp(join(tmpdir(), 'sluice-dump-dom-'));
    try {
      const address = `${gw.url}/console#token=${encodeURIComponent(gw.gateway.operatorToken)}`;
      // Exactly the documented command; Chromium refuses to run as root without --no-sandbox.
      const args = ['--headless', '--dump-dom', address, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])];
      const dom = await new Promise<string>((resolve, reject) =>
        execFile(
          CHROMIUM_PATH,
          args,
          { env: { ...process.env, HOME: home }, timeout: 60_000, maxBuffer: 8 * 1024 * 1024 },
          (error, stdout) => (error ? reject(error) : resolve(stdout)),
        ),
      );
      assert.ok(flows.includes('journal') && connections.includes('ledger'));
      for (const flowId of flows) assert.match(dom, new RegExp(`data-flow="${flowId}"`), `flow ${flowId}`);
      for (const connectionId of connections)
        assert.match(dom, new RegExp(`data-connection="${connectionId}"`), `connection ${connectionId}`);
      assert.match(dom, /data-status="online"[^>]*>.*?online/, 'statuses in words, not colour alone');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
