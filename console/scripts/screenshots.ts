/**
 * `npm run screenshots`: the console's dashboard, a failed event and a message's
 * execution report, captured in headless Chromium from a local gateway with sample data,
 * into docs/screenshots/ (shown in the README).
 */
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startLocalGateway } from '../../local/gateway';
import { consoleUrl } from '../../local/console';
import { launchConsoleBrowser } from '../chromium';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const out = new URL('../../docs/screenshots/', import.meta.url);

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Sample targets: an ERP that rejects malformed quantities, a CRM whose token expired.
const target = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    if (request.url?.startsWith('/crm') && request.headers.authorization !== 'Bearer current') {
      response.writeHead(401).end('token expired');
    } else if (body.includes('"qty":"twelve"')) {
      response.writeHead(422, { 'content-type': 'application/json' }).end('{"error":"line 2: qty must be a number"}');
    } else {
      response.writeHead(200).end('ok');
    }
  });
});
await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
const targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;

const gateway = await startLocalGateway({ port: 0 });
const browser = await launchConsoleBrowser({ viewport: { width: 1360, height: 860 } });
try {
  const call = async (method: string, path: string, body?: unknown, token = gateway.operatorToken, contentType = 'application/json') => {
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': contentType,
        ...(method === 'POST' && path.endsWith('/messages') ? { 'x-aux-system-msg-id': String((body as { id: string }).id) } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const acme = (await call('POST', '/v1/partners', { partnerId: 'acme', name: 'ACME Retail' })).apiKey as string;
  const globex = (await call('POST', '/v1/partners', { partnerId: 'globex', name: 'Globex Logistics' })).apiKey as string;
  await call('PUT', '/v1/connections/erp', { url: `${targetUrl}/erp/orders`, retry: { count: 2, intervalSeconds: 30 } });
  await call('PUT', '/v1/connections/crm', { url: `${targetUrl}/crm/contacts`, auth: { type: 'bearer', token: 'expired' } });
  await call('PUT', '/v1/connections/wms', { url: `${targetUrl}/wms/shipments` });
  await call('PUT', '/v1/flows/acme-orders', { partnerId: 'acme', destinations: ['erp'] });
  await call('PUT', '/v1/flows/acme-contacts', { partnerId: 'acme', destinations: ['crm'] });
  await call('PUT', '/v1/flows/globex-shipments', { partnerId: 'globex', destinations: ['wms'] });
  await call('PUT', '/v1/flows/globex-invoices', { partnerId: 'globex', destinations: ['erp'] });

  const post = async (flowId: string, key: string, id: string, payload: unknown) => {
    const response = await fetch(`${gateway.url}/v1/flows/${flowId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-aux-system-msg-id': id },
      body: JSON.stringify(payload),
    });
    if (response.status !== 202) throw new Error(`post ${id}: ${response.status}`);
  };
  for (let n = 1; n <= 6; n++)
    await post('acme-orders', acme, `PO-2026-${1000 + n}`, { order: 1000 + n, lines: [{ sku: 'A-100', qty: n }] });
  await post('acme-orders', acme, 'PO-2026-1007', {
    order: 1007,
    lines: [
      { sku: 'A-100', qty: 3 },
      { sku: 'B-220', qty: 'twelve' },
    ],
  });
  for (let n = 1; n <= 3; n++) await post('globex-shipments', globex, `SHP-${7700 + n}`, { shipment: 7700 + n, carrier: 'DHL' });
  await post('globex-invoices', globex, 'INV-88001', { invoice: 88001, total: 1250.4 });
  await post('acme-contacts', acme, 'CT-501', { name: 'Ada Lovelace' });

  await until('the failed order', async () => (await call('GET', '/v1/failed-events?flowId=acme-orders')).items.length === 1);
  await until('the CRM unauthorized', async () => (await call('GET', '/v1/connections/crm')).status === 'unauthorized');
  await until('deliveries', async () => (await call('GET', '/v1/flows/globex-shipments')).counts.delivered === 3);
  await call('POST', '/v1/connections/wms/offline');
  await call('POST', '/v1/flows/globex-invoices/pause').catch(() => undefined);
  await call('POST', '/v1/connections/erp/probe');
  const [failed] = (await call('GET', '/v1/failed-events?flowId=acme-orders')).items;

  await mkdir(out, { recursive: true });
  const page = await browser.context.newPage();
  await page.goto(consoleUrl(gateway.url, gateway.operatorToken));
  await page.locator('#connections').waitFor();
  await page.screenshot({ path: fileURLToPath(new URL('dashboard.png', out)), fullPage: true });

  await page.evaluate(`location.hash = '#/failed/${encodeURIComponent(failed.id)}'`);
  await page.getByRole('heading', { name: 'Failed event' }).waitFor();
  await page.getByText('Suggested action').waitFor();
  await page.screenshot({ path: fileURLToPath(new URL('failed-event.png', out)), fullPage: true });

  await page.evaluate(`location.hash = '#/flows/acme-orders/messages/PO-2026-1007'`);
  await page.locator('#report').waitFor();
  await page.screenshot({ path: fileURLToPath(new URL('message-report.png', out)), fullPage: true });
  console.log(`Screenshots written to ${fileURLToPath(out)}`);
} finally {
  await browser.close();
  await gateway.stop();
  target.closeAllConnections();
  target.close();
}
