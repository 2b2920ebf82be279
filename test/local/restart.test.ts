import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/emulator-wait';
import { TestTarget } from '../helpers/target';
import { freePort } from '../../local/emulators';
import { laneFor } from '../../core/lanes';

/**
 * `npm start` stopped and started again on one SLUICE_DATA_DIR, as a user does it: each
 * run is `tsx local/main.ts` in a child process with emulators of its own (the test run's
 * shared DynamoDB Local keeps nothing on disk), driven over HTTP only.
 */

const MAIN = fileURLToPath(new URL('../../local/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  child: ChildProcess;
  output: { stdout: string; stderr: string };
  url: string;
  /** The token printed, else the one from the environment. */
  token: string;
  stop(): Promise<number | null>;
}

async function startNpm(env: Record<string, string>): Promise<Run> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      POWERTOOLS_DEV: '',
      // Never the test run's emulators: each run starts its own on the data directory.
      SLUICE_SHARED_DYNAMODB_ENDPOINT: '',
      SLUICE_SHARED_QUEUE_ENDPOINT: '',
      PORT: String(port),
      ...env,
    },
  });
  const output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output.stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output.stderr += text));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    return exited;
  };
  try {
    await waitFor(() => output.stdout.includes('Press Ctrl-C to stop.') || child.exitCode !== null, {
      what: 'npm start to be ready',
      timeoutMs: 180_000,
      intervalMs: 50,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  assert.equal(child.exitCode, null, `npm start ended early:\n${output.stdout}\n${output.stderr}`);
  const printed = /^ {2}Operator token {10}(\S+)$/m.exec(output.stdout)?.[1];
  const token = env.SLUICE_OPERATOR_TOKEN || printed;
  assert.ok(token, output.stdout);
  return { child, output, url: `http://127.0.0.1:${port}`, token, stop };
}

async function call(
  run: Run,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? run.token}`, ...options.headers };
  let body: string | undefined;
  if (typeof options.body === 'string') body = options.body;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${run.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  return { status: response.status, body: text && (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
}

async function ok(run: Run, method: string, path: string, options?: Parameters<typeof call>[3]) {
  const result = await call(run, method, path, options);
  assert.ok(result.status >= 200 && result.status < 300, `${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

const post = (run: Run, apiKey: string, messageId: string, payload: string) =>
  call(run, 'POST', '/v1/flows/orders/messages', {
    token: apiKey,
    body: payload,
    headers: { 'content-type': 'text/plain', 'x-aux-system-msg-id': messageId },
  });

/** Everything an operator sees of the configuration and the messages. */
async function snapshot(run: Run) {
  return {
    partners: await ok(run, 'GET', '/v1/partners'),
    connection: await ok(run, 'GET', '/v1/connections/erp'),
    flow: await ok(run, 'GET', '/v1/flows/orders'),
    delivered: await ok(run, 'GET', '/v1/flows/orders/messages/OK-1'),
    failedMessage: await ok(run, 'GET', '/v1/flows/orders/messages/BAD-1'),
    failedEvents: await ok(run, 'GET', '/v1/failed-events?flowId=orders'),
    flowLog: await ok(run, 'GET', '/v1/flows/orders/log'),
  };
}

let workDir: string;
let target: TestTarget;
const runs: Run[] = [];
/** Targets of single tests, stopped in `after` even when a test fails half-way. */
const targets: TestTarget[] = [];

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'sluice-restart-'));
  // Refuses what the test marks as broken; wants the credential it was given.
  target = await TestTarget.start((request) => {
    if (request.headers.authorization !== 'Bearer target-secret') return { status: 401 };
    return request.body.toString().includes('BROKEN') ? { status: 422, body: 'qty must be a number' } : { status: 200 };
  });
});

after(async () => {
  for (const run of runs) await run.stop();
  await target?.stop();
  for (const t of targets) await t.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('npm start with SLUICE_DATA_DIR', () => {
  it('keeps configuration, messages, reports, failed payloads, the flow log, the token and cursors across a restart', async () => {
    const dataDir = join(workDir, 'data');
    const first = await startNpm({ SLUICE_DATA_DIR: dataDir });
    runs.push(first);
    assert.match(first.output.stdout, new RegExp(`^ {2}Data kept in {12}${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `, 'm'));

    // The generated token is kept, readable by this user only.
    const tokenFile = join(dataDir, 'operator-token');
    assert.equal((await readFile(tokenFile, 'utf8')).trim(), first.token);
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);

    const { apiKey } = await ok(first, 'POST', '/v1/partners', { body: { partnerId: 'acme', name: 'Acme' } });
    await ok(first, 'PUT', '/v1/connections/erp', {
      body: { url: target.url, auth: { type: 'bearer', token: 'target-secret' }, retry: { count: 0, intervalSeconds: 0 } },
    });
    await ok(first, 'PUT', '/v1/flows/orders', { body: { partnerId: 'acme', destinations: ['erp'] } });

    assert.equal((await post(first, apiKey, 'OK-1', 'order 1')).status, 202);
    // Large enough to be kept in S3 rather than inline in the table.
    const broken = `BROKEN ${'x'.repeat(100 * 1024)}`;
    assert.equal((await post(first, apiKey, 'BAD-1', broken)).status, 202);
    // A rejection before acceptance: goes to the flow log.
    assert.equal((await post(first, 'not-a-key', 'OK-9', 'x')).status, 401);
    assert.equal((await post(first, apiKey, 'bad id!', 'x')).status, 400);

    await waitFor(async () => (await ok(first, 'GET', '/v1/flows/orders/messages/OK-1')).status === 'delivered', {
      what: 'OK-1 delivered',
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    await waitFor(async () => (await ok(first, 'GET', '/v1/failed-events?flowId=orders')).items.length === 1, {
      what: 'BAD-1 failed',
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    assert.equal((await post(first, apiKey, 'OK-2', 'order 2')).status, 202);
    await waitFor(async () => (await ok(first, 'GET', '/v1/flows/orders/messages/OK-2')).status === 'delivered', {
      what: 'OK-2 delivered',
      timeoutMs: 60_000,
      intervalMs: 50,
    });

    // A corrected payload, uploaded through the presigned URL before the restart.
    const corrected = `fixed ${'y'.repeat(100 * 1024)}`;
    const upload = await ok(first, 'POST', '/v1/failed-events/orders~BAD-1~erp/upload-url');
    assert.equal(upload.method, 'PUT');
    assert.equal((await fetch(upload.url, { method: 'PUT', body: corrected, headers: { 'content-type': 'text/plain' } })).status, 200);

    // Counts and the listing come from the table's stream: wait until they show all three messages.
    await waitFor(
      async () => {
        const { counts } = await ok(first, 'GET', '/v1/flows/orders');
        return counts.accepted === 3 && counts.delivered === 2 && counts.failed === 1;
      },
      { what: 'counts settled', timeoutMs: 60_000, intervalMs: 100 },
    );
    const page = await ok(first, 'GET', '/v1/flows/orders/messages?limit=1');
    assert.equal(page.items.length, 1);
    assert.ok(page.cursor, 'a second page');
    const rest = await ok(first, 'GET', `/v1/flows/orders/messages?limit=10&cursor=${encodeURIComponent(page.cursor)}`);
    const before = await snapshot(first);
    assert.ok(before.flowLog.entries.length >= 2, JSON.stringify(before.flowLog));
    assert.ok(
      before.delivered.report.some((e: { event: string }) => e.event === 'delivered'),
      JSON.stringify(before.delivered.report),
    );
    assert.equal(before.failedEvents.items[0].payload.corrected, true);

    assert.equal(await first.stop(), 0, first.output.stderr);
    await assert.rejects(stat(join(dataDir, 'lock')), 'a clean stop releases the directory');
    assert.ok((await readdir(join(dataDir, 's3'))).length > 0, 'the payloads are on disk');

    const second = await startNpm({ SLUICE_DATA_DIR: dataDir });
    runs.push(second);
    assert.equal(second.token, first.token, 'the generated token is the same');
    assert.notEqual(second.url, first.url);

    assert.deepEqual(await snapshot(second), before);
    // A cursor handed out before the restart pages on.
    assert.deepEqual(await ok(second, 'GET', `/v1/flows/orders/messages?limit=10&cursor=${encodeURIComponent(page.cursor)}`), rest);

    // The failed payload and its correction were kept (S3), and the restart delivers the correction
    // with the connection's credential (sealed with the kept key).
    const download = await ok(second, 'POST', '/v1/failed-events/orders~BAD-1~erp/download-url');
    assert.equal(await (await fetch(download.url)).text(), corrected);
    assert.equal((await call(second, 'POST', '/v1/failed-events/orders~BAD-1~erp/restart')).status, 202);
    await waitFor(async () => (await ok(second, 'GET', '/v1/flows/orders/messages/BAD-1')).status === 'delivered', {
      what: 'BAD-1 delivered',
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    assert.equal(target.byId('BAD-1').at(-1)?.body.toString(), corrected);

    // The partner's key still works.
    assert.equal((await post(second, apiKey, 'OK-3', 'order 3')).status, 202);
    await waitFor(async () => (await ok(second, 'GET', '/v1/flows/orders/messages/OK-3')).status === 'delivered', {
      what: 'OK-3 delivered',
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    assert.deepEqual(
      target.delivered().map((r) => r.headers['x-aux-system-msg-id']),
      ['OK-1', 'OK-2', 'BAD-1', 'OK-3'],
    );
    assert.equal(await second.stop(), 0, second.output.stderr);
  });

  it('deliveries queued, retrying and held when it stops resume in order after it starts again, nothing twice without the flag', async () => {
    const dataDir = join(workDir, 'resume');
    // erp answers 503 to its first message until the test lets it through: that one is retrying,
    // and with hold-all every lane of erp waits behind it. wms is down: offline, its lane held.
    let erpHealthy = false;
    const erp = await TestTarget.start((request) =>
      !erpHealthy && request.headers['x-aux-system-msg-id'] === 'E-0' ? { status: 503 } : { status: 200 },
    );
    const wms = await TestTarget.start();
    targets.push(erp, wms);
    await wms.down();
    const first = await startNpm({ SLUICE_DATA_DIR: dataDir });
    runs.push(first);
    const { apiKey } = await ok(first, 'POST', '/v1/partners', { body: { partnerId: 'acme', name: 'Acme' } });
    await ok(first, 'PUT', '/v1/connections/erp', { body: { url: erp.url, threads: 2, retry: { count: 100, intervalSeconds: 2 } } });
    await ok(first, 'PUT', '/v1/connections/wms', { body: { url: wms.url, offlineAfter: 1, timeoutMs: 1000 } });
    await ok(first, 'PUT', '/v1/flows/orders', { body: { partnerId: 'acme', destinations: ['erp'] } });
    await ok(first, 'PUT', '/v1/flows/stock', { body: { partnerId: 'acme', destinations: ['wms'] } });
    const postTo = (run: Run, flowId: string, messageId: string) =>
      call(run, 'POST', `/v1/flows/${flowId}/messages`, {
        token: apiKey,
        body: `payload of ${messageId}`,
        headers: { 'content-type': 'text/plain', 'x-aux-system-msg-id': messageId },
      });
    const status = async (run: Run, flowId: string, messageId: string) =>
      (await ok(run, 'GET', `/v1/flows/${flowId}/messages/${messageId}`)).deliveries[0];

    // E-0 first (lane 1), then messages in both lanes of erp (E-10 in lane 1, the others in lane 0); W-0.. to wms.
    const erpIds = ['E-0', 'E-1', 'E-10', 'E-2', 'E-11', 'E-3'];
    const wmsIds = ['W-0', 'W-1', 'W-2'];
    assert.equal((await postTo(first, 'orders', 'E-0')).status, 202);
    await waitFor(async () => (await status(first, 'orders', 'E-0')).status === 'retrying', {
      what: 'E-0 retrying',
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    for (const id of erpIds.slice(1)) assert.equal((await postTo(first, 'orders', id)).status, 202);
    for (const id of wmsIds) assert.equal((await postTo(first, 'stock', id)).status, 202);
    await waitFor(async () => (await ok(first, 'GET', '/v1/connections/wms')).status === 'offline', {
      what: 'wms offline',
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    await waitFor(async () => (await status(first, 'stock', 'W-0')).status === 'paused', {
      what: 'W-0 held',
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    for (const id of erpIds.slice(1)) assert.equal((await status(first, 'orders', id)).status, 'queued', `${id} queued behind E-0`);
    assert.equal((await status(first, 'orders', 'E-0')).status, 'retrying');
    assert.deepEqual(erp.delivered(), []);
    // The flow logs and counts come from the stream: wait until they show everything.
    await waitFor(async () => (await ok(first, 'GET', '/v1/flows/orders')).counts.accepted === erpIds.length, {
      what: 'counts',
      timeoutMs: 60_000,
    });
    // Health changes by itself (probes, holds); the settings must not.
    const strip = (c: Record<string, unknown>) => ({
      ...c,
      ...Object.fromEntries(
        ['status', 'statusReason', 'statusSince', 'lastProbeAt', 'nextProbeAt', 'heldBy', 'holdUntil', 'consecutiveFailures'].map((k) => [
          k,
          undefined,
        ]),
      ),
    });
    const before = {
      connections: (await ok(first, 'GET', '/v1/connections')).items.map(strip),
      flows: (await ok(first, 'GET', '/v1/flows')).items.map((f: Record<string, unknown>) => ({ ...f, counts: undefined })),
      reports: Object.fromEntries(
        await Promise.all(
          [...erpIds.map((id) => ['orders', id]), ...wmsIds.map((id) => ['stock', id])].map(async ([flowId, id]) => [
            id,
            (await ok(first, 'GET', `/v1/flows/${flowId}/messages/${id}`)).report,
          ]),
        ),
      ),
      stockLog: (await ok(first, 'GET', '/v1/flows/stock/log')).entries,
    };
    assert.ok(
      before.stockLog.some((e: { code: string }) => e.code === 'flow-paused'),
      JSON.stringify(before.stockLog),
    );

    assert.equal(await first.stop(), 0, first.output.stderr);
    const second = await startNpm({ SLUICE_DATA_DIR: dataDir });
    runs.push(second);

    // Configuration, reports and flow logs are as they were (reports only grow from here).
    assert.deepEqual((await ok(second, 'GET', '/v1/connections')).items.map(strip), before.connections);
    assert.deepEqual(
      (await ok(second, 'GET', '/v1/flows')).items.map((f: Record<string, unknown>) => ({ ...f, counts: undefined })),
      before.flows,
    );
    for (const [id, report] of Object.entries(before.reports)) {
      const flowId = id.startsWith('E-') ? 'orders' : 'stock';
      const after = (await ok(second, 'GET', `/v1/flows/${flowId}/messages/${id}`)).report;
      assert.deepEqual(after.slice(0, (report as unknown[]).length), report, `report of ${id} kept`);
    }
    assert.deepEqual((await ok(second, 'GET', '/v1/flows/stock/log')).entries.slice(0, before.stockLog.length), before.stockLog);
    assert.equal((await ok(second, 'GET', '/v1/connections/wms')).status, 'offline');

    // erp answers again: E-0's retry goes through, then everything behind it, in order per lane.
    erpHealthy = true;
    await erp.waitForDelivered(erpIds.length, 60_000);
    // wms is back: a probe brings it online and its held lane resumes.
    await wms.up();
    await ok(second, 'POST', '/v1/connections/wms/probe');
    await wms.waitForDelivered(wmsIds.length, 60_000);

    const order = (target: TestTarget) => target.delivered().map((r) => String(r.headers['x-aux-system-msg-id']));
    for (const lane of [0, 1]) {
      const expected = erpIds.filter((id) => laneFor({ messageId: id }, 2) === lane);
      assert.deepEqual(
        order(erp).filter((id) => expected.includes(id)),
        expected,
        `erp lane ${lane} in acceptance order`,
      );
    }
    assert.deepEqual(order(wms), wmsIds);
    for (const id of [...erpIds, ...wmsIds]) {
      const requests = (id.startsWith('E-') ? erp : wms).byId(id);
      assert.equal(requests.filter((r) => r.status === 200).length, 1, `${id} delivered once`);
      requests.slice(1).forEach((r) => assert.equal(r.headers['x-sluice-possible-duplicate'], 'true', `${id} again without the flag`));
    }
    assert.ok(erp.byId('E-0').length >= 2, 'E-0 was retried');
    assert.equal((await status(second, 'orders', 'E-0')).status, 'delivered');
    assert.equal(await second.stop(), 0, second.output.stderr);
  });

  it('with SLUICE_DATA_DIR=memory keeps nothing', async () => {
    const first = await startNpm({ SLUICE_DATA_DIR: 'memory' });
    runs.push(first);
    assert.match(first.output.stdout, /^ {2}Data {20}in memory only \(SLUICE_DATA_DIR=memory\): nothing is kept after Ctrl-C$/m);
    await ok(first, 'POST', '/v1/partners', { body: { partnerId: 'acme', name: 'Acme' } });
    await ok(first, 'PUT', '/v1/connections/erp', { body: { url: target.url } });
    assert.equal(await first.stop(), 0, first.output.stderr);

    const second = await startNpm({ SLUICE_DATA_DIR: 'memory' });
    runs.push(second);
    assert.notEqual(second.token, first.token, 'a new token');
    assert.deepEqual((await ok(second, 'GET', '/v1/partners')).items, []);
    assert.deepEqual((await ok(second, 'GET', '/v1/connections')).items, []);
    assert.equal(await second.stop(), 0, second.output.stderr);
  });
});
