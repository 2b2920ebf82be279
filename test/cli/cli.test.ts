import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TestGateway } from '../helpers/gateway';
import { TestTarget } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';
import { EXIT } from '../../cli/exit-codes';
// Type-only, erased at run time: brings cli/main.ts under `tsc --noEmit` (tsconfig's include has no cli/).
import type * as _main from '../../cli/main';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/sluice.mjs', import.meta.url));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/sluice.mjs …` as a user would, from a temporary working directory. */
async function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const name of ['SLUICE_ENDPOINT', 'SLUICE_OPERATOR_TOKEN']) if (!options.env?.[name]) delete env[name];
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: options.cwd ?? tmpdir(), env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('sluice operator CLI against a local gateway', () => {
  let gw: TestGateway;
  let target: TestTarget;
  let key: string;
  let dir: string;
  const CORRECTED = '{"qty": 3}';
  const as = (...args: string[]) => cli([...args, '--endpoint', gw.url, '--token', gw.gateway.operatorToken]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-cli-'));
    target = await TestTarget.start((req) =>
      req.headers['x-aux-system-msg-id'] === 'BAD-1' && req.body.toString() !== CORRECTED
        ? { status: 422, body: '{"error":"qty must be positive"}' }
        : { status: 200 },
    );
    gw = await TestGateway.start();
    key = await gw.partner('acme');
    await gw.connection('erp', { url: target.url, retry: { count: 0, intervalSeconds: 0 } });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
    await gw.connection('crm', { url: target.url });
  });

  after(async () => {
    await gw?.stop();
    await target?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists connections as a table, and --json prints exactly what the API answers', async () => {
    const [table, json] = await Promise.all([as('connections', 'list'), as('connections', 'show', 'erp', '--json')]);
    assert.equal(table.code, EXIT.ok, table.stderr);
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    assert.match(header!, /^CONNECTION\s+STATUS\s+SINCE\s+AUTH\s+FLOWS\s+URL\s+REASON$/);
    const row = rows.find((line) => line.startsWith('erp '));
    assert.ok(row, table.stdout);
    assert.match(row, /^erp\s+online\s+\S+\s+none\s+orders\s+/);
    assert.ok(row.includes(target.url));
    assert.equal(json.code, EXIT.ok, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), (await gw.request('GET', '/v1/connections/erp')).body);
  });

  it('pauses and resumes a flow, and shows both in the flow log', async () => {
    const paused = await as('flows', 'pause', 'orders');
    assert.equal(paused.code, EXIT.ok, paused.stderr);
    assert.match(paused.stdout, /Flow orders is paused/);
    assert.equal((await gw.request('GET', '/v1/flows/orders')).body.status, 'paused');

    const resumed = await as('flows', 'resume', 'orders', '--json');
    assert.equal(resumed.code, EXIT.ok, resumed.stderr);
    assert.equal(JSON.parse(resumed.stdout).status, 'enabled');

    const log = await as('flows', 'log', 'orders');
    assert.equal(log.code, EXIT.ok, log.stderr);
    const lines = log.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^AT\s+LEVEL\s+CODE\s+MESSAGE\s+DETAIL$/);
    assert.ok(lines.some((l) => /\sinfo\s+flow-pause\s/.test(l)), log.stdout);
    assert.ok(lines.some((l) => /\sinfo\s+flow-resume\s/.test(l)), log.stdout);
  });

  it("lists a flow's messages and shows one message's execution report", async () => {
    assert.equal((await gw.post('orders', key, 'OK-1', 'hello')).status, 202);
    await waitFor(async () => (await gw.request('GET', '/v1/flows/orders/messages/OK-1')).body.status === 'delivered', {
      what: 'OK-1 delivered',
      timeoutMs: 30_000,
    });
    const [messages, report] = await Promise.all([
      as('flows', 'messages', 'orders', '--status', 'delivered', '--limit', '10'),
      as('messages', 'show', 'orders', 'OK-1'),
    ]);
    assert.equal(messages.code, EXIT.ok, messages.stderr);
    assert.match(messages.stdout, /^OK-1\s+delivered\s+/m);
    assert.equal(report.code, EXIT.ok, report.stderr);
    assert.match(report.stdout, /^Status:\s+delivered$/m);
    assert.match(report.stdout, /^erp\s+0\s+delivered\s+1\s/m);
    assert.match(report.stdout, /Execution report\nAT\s+EVENT/);
    assert.match(report.stdout, /\sattempt\s/);
  });

  it('exits 4 on not found, 2 on usage errors, 3 when unreachable, 1 on an API error', async () => {
    const port = await closedPort();
    const [notFound, badCommand, missingArg, unreachable, wrongToken] = await Promise.all([
      as('flows', 'show', 'nope'),
      as('flows', 'frobnicate', 'orders'),
      as('failed', 'upload', 'only-an-id'),
      cli(['flows', 'list', '--endpoint', `http://127.0.0.1:${port}`, '--token', 't']),
      cli(['flows', 'list', '--endpoint', gw.url, '--token', 'wrong-token']),
    ]);
    assert.equal(notFound.code, EXIT.notFound);
    assert.match(notFound.stderr, /Flow nope does not exist\..*unknown-flow/);
    assert.equal(notFound.stdout, '');
    assert.equal(badCommand.code, EXIT.usage);
    assert.match(badCommand.stderr, /unknown command 'frobnicate'/);
    assert.equal(missingArg.code, EXIT.usage);
    assert.equal(unreachable.code, EXIT.network);
    assert.match(unreachable.stderr, /Cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.equal(wrongToken.code, EXIT.apiError);
    assert.match(wrongToken.stderr, /unauthenticated/);
  });

  it('sets a connection offline and online by hand, and reauthorizes it from an auth file', async () => {
    const offline = await as('connections', 'offline', 'crm');
    assert.equal(offline.code, EXIT.ok, offline.stderr);
    assert.match(offline.stdout, /^Connection crm is offline/);
    assert.equal((await gw.request('GET', '/v1/connections/crm')).body.status, 'offline');

    const online = await as('connections', 'online', 'crm', '--json');
    assert.equal(online.code, EXIT.ok, online.stderr);
    assert.equal(JSON.parse(online.stdout).status, 'online');

    const authFile = join(dir, 'crm-auth.json');
    await writeFile(authFile, JSON.stringify({ type: 'bearer', token: 'crm-secret-token' }));
    const reauthorized = await as('connections', 'reauthorize', 'crm', '--auth-file', authFile);
    assert.equal(reauthorized.code, EXIT.ok, reauthorized.stderr);
    assert.match(reauthorized.stdout, /^Connection crm reauthorized \(bearer\); it is online/);
    assert.ok(!reauthorized.stdout.includes('crm-secret-token'));
    assert.deepEqual((await gw.request('GET', '/v1/connections/crm')).body.auth, { type: 'bearer' });
  });

  it('repairs a failed event: list, download, upload a correction, restart, delivered corrected', async () => {
    assert.equal((await gw.post('orders', key, 'BAD-1', '{"qty": -1}', { 'content-type': 'application/json' })).status, 202);
    const listed = await waitFor(
      async () => {
        const response = await gw.request('GET', '/v1/failed-events?flowId=orders');
        assert.equal(response.status, 200, JSON.stringify(response.body));
        return response.body.items.find((e: { messageId: string }) => e.messageId === 'BAD-1');
      },
      { what: 'the failed event of BAD-1', timeoutMs: 30_000 },
    );
    const id: string = listed.id;

    const list = await as('failed', 'list', '--flow', 'orders', '--type', 'business');
    assert.equal(list.code, EXIT.ok, list.stderr);
    assert.match(list.stdout, /^ID\s+FLOW\s+MESSAGE\s+CONNECTION\s+TYPE/);
    const row = list.stdout.split('\n').find((line) => line.startsWith(`${id} `));
    assert.ok(row, list.stdout);
    assert.match(row, /\sorders\s+BAD-1\s+erp\s+business\s/);
    assert.match(row, /422/);

    const original = join(dir, 'original.json');
    const download = await as('failed', 'download', id, original);
    assert.equal(download.code, EXIT.ok, download.stderr);
    assert.equal(await readFile(original, 'utf8'), '{"qty": -1}');

    const corrected = join(dir, 'corrected.json');
    await writeFile(corrected, CORRECTED);
    const upload = await as('failed', 'upload', id, corrected);
    assert.equal(upload.code, EXIT.ok, upload.stderr);
    const sha256 = createHash('sha256').update(CORRECTED).digest('hex');
    assert.match(upload.stdout, new RegExp(`^Uploaded 10 bytes from .*corrected\\.json \\(sha256 ${sha256}\\)`));

    const restart = await as('failed', 'restart', id);
    assert.equal(restart.code, EXIT.ok, restart.stderr);
    await waitFor(() => target.byId('BAD-1').some((r) => r.status === 200), { what: 'the corrected delivery', timeoutMs: 30_000 });
    const attempts = target.byId('BAD-1');
    assert.equal(attempts.at(-1)!.body.toString(), CORRECTED);
    assert.equal(attempts.at(-1)!.headers['x-sluice-possible-duplicate'], 'true');
  });
});
