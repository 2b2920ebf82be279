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
import { run } from '../../cli/program';

const execFileAsync = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/sluice.mjs', import.meta.url));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/sluice.mjs …` as a user would, from a temporary working directory. */
async function spawnCli(args: string[], options: { env?: Record<string, string> } = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const name of ['SLUICE_ENDPOINT', 'SLUICE_OPERATOR_TOKEN']) if (!options.env?.[name]) delete env[name];
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], { cwd: tmpdir(), env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Runs the CLI in this process (same code as the binary, without a tsx start per command). */
async function runCli(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(['node', 'sluice', ...args], {
    stdout: (chunk) => void (stdout += Buffer.from(chunk).toString('utf8')),
    stderr: (chunk) => void (stderr += chunk),
  });
  return { code, stdout, stderr };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The real local gateway, started once for this file; every command runs against it. */
describe('sluice operator CLI against the local gateway', () => {
  let gw: TestGateway;
  let target: TestTarget;
  let key: string;
  let dir: string;
  const CORRECTED = '{"qty": 3}';
  const as = (...args: string[]) => runCli([...args, '--endpoint', gw.url, '--token', gw.gateway.operatorToken]);
  const failedEventOf = (flowId: string, messageId: string) =>
    waitFor(
      async () => {
        const response = await gw.request('GET', `/v1/failed-events?flowId=${flowId}`);
        assert.equal(response.status, 200, JSON.stringify(response.body));
        return response.body.items.find((e: { messageId: string; status: string }) => e.messageId === messageId && e.status === 'failed');
      },
      { what: `the failed event of ${messageId}`, timeoutMs: 30_000 },
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-cli-'));
    target = await TestTarget.start((req) =>
      req.headers['x-aux-system-msg-id']?.toString().startsWith('BAD-') && req.body.toString() !== CORRECTED
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

  it('creates a partner and rotates its key; each key is printed once and works at once', async () => {
    const created = await as('partners', 'create', 'globex', '--name', 'Globex Corp');
    assert.equal(created.code, EXIT.ok, created.stderr);
    assert.match(created.stdout, /^Partner globex \(Globex Corp\) created\.\nAPI key \(shown once, store it now;/);
    const firstKey = created.stdout.trimEnd().split('\n').at(-1)!;
    await gw.flow('globex-orders', { partnerId: 'globex', destinations: ['erp'] });
    assert.equal((await gw.post('globex-orders', firstKey, 'G-1', 'hello')).status, 202);

    const rotated = await as('partners', 'rotate-key', 'globex', '--json');
    assert.equal(rotated.code, EXIT.ok, rotated.stderr);
    const { apiKey } = JSON.parse(rotated.stdout);
    assert.notEqual(apiKey, firstKey);
    assert.equal((await gw.post('globex-orders', firstKey, 'G-2', 'hello')).status, 401, 'the old key stops working');
    assert.equal((await gw.post('globex-orders', apiKey, 'G-3', 'hello')).status, 202);

    const listed = await as('partners', 'list');
    assert.match(listed.stdout, /^globex\s+Globex Corp\s/m);
    assert.ok(!listed.stdout.includes(apiKey), 'keys are never listed');
    const duplicate = await as('partners', 'create', 'globex');
    assert.equal(duplicate.code, EXIT.apiError);
    assert.match(duplicate.stderr, /Partner globex already exists.*\(code: conflict, HTTP 409\)/);
    const unknown = await as('partners', 'rotate-key', 'nobody');
    assert.equal(unknown.code, EXIT.notFound);
  });

  it('puts a connection from flags, and from a JSON file with flags on top', async () => {
    const fromFlags = await as(
      'connections',
      'put',
      'wms',
      '--url',
      target.url,
      '--retry-count',
      '3',
      '--retry-interval',
      '5',
      '--threads',
      '2',
      '--on-error',
      'hold-lane',
      '--success-statuses',
      '200,202',
      '--auth-type',
      'bearer',
      '--token-value',
      'wms-secret',
    );
    assert.equal(fromFlags.code, EXIT.ok, fromFlags.stderr);
    assert.match(fromFlags.stdout, /^Connection wms saved\./);
    assert.ok(!fromFlags.stdout.includes('wms-secret'), 'secrets are never printed');
    const saved = (await gw.request('GET', '/v1/connections/wms')).body;
    assert.deepEqual(
      [saved.url, saved.retry.count, saved.retry.intervalSeconds, saved.threads, saved.onError, saved.successStatuses, saved.auth],
      [target.url, 3, 5, 2, 'hold-lane', [200, 202], { type: 'bearer' }],
    );

    const file = join(dir, 'wms.json');
    await writeFile(file, JSON.stringify({ url: target.url, retry: { count: 1, intervalSeconds: 9 }, timeoutMs: 2000 }));
    const fromFile = await as('connections', 'put', 'wms', '--file', file, '--retry-count', '4', '--json');
    assert.equal(fromFile.code, EXIT.ok, fromFile.stderr);
    const replaced = JSON.parse(fromFile.stdout);
    assert.deepEqual(
      [replaced.retry.count, replaced.retry.intervalSeconds, replaced.timeoutMs],
      [4, 9, 2000],
      'the flag overrides the file',
    );
    assert.deepEqual(replaced.auth, { type: 'none' }, 'a put replaces every setting');

    const [noUrl, badFlag, refused] = await Promise.all([
      as('connections', 'put', 'wms2'),
      as('connections', 'put', 'wms2', '--url', target.url, '--threads', '0'),
      as('connections', 'put', 'wms2', '--url', 'ftp://example.com/x'),
    ]);
    assert.equal(noUrl.code, EXIT.usage);
    assert.match(noUrl.stderr, /needs --url/);
    assert.equal(badFlag.code, EXIT.usage);
    assert.match(badFlag.stderr, /--threads.*must be a positive integer/);
    assert.equal(refused.code, EXIT.apiError);
    assert.match(refused.stderr, /code: invalid-body, HTTP 400/);
    assert.equal((await gw.request('GET', '/v1/connections/wms2')).status, 404, 'nothing was saved');
  });

  it('puts a flow from flags and from a file', async () => {
    const put = await as(
      'flows',
      'put',
      'shipments',
      '--partner',
      'acme',
      '--destination',
      'erp,crm',
      '--no-auto-retry',
      '--on-failure',
      'suspend-chain',
      '--retention-days',
      '90',
    );
    assert.equal(put.code, EXIT.ok, put.stderr);
    assert.match(put.stdout, /^Flow shipments saved\./);
    assert.match(put.stdout, /Retention:\s+90 days after final/);
    const flow = (await gw.request('GET', '/v1/flows/shipments')).body;
    assert.deepEqual(
      [flow.partnerId, flow.destinations, flow.autoRetry, flow.onFailure, flow.retentionDays],
      ['acme', ['erp', 'crm'], false, 'suspend-chain', 90],
    );

    const file = join(dir, 'shipments.json');
    await writeFile(file, JSON.stringify({ partnerId: 'acme', destinations: ['erp'], backoutThreshold: 9 }));
    const fromFile = await as('flows', 'put', 'shipments', '--file', file, '--destination', 'crm', '--destination', 'erp', '--json');
    assert.equal(fromFile.code, EXIT.ok, fromFile.stderr);
    const saved = JSON.parse(fromFile.stdout);
    assert.deepEqual([saved.destinations, saved.backoutThreshold, saved.autoRetry], [['crm', 'erp'], 9, true]);

    const [noPartner, unknownConnection] = await Promise.all([
      as('flows', 'put', 'other', '--destination', 'erp'),
      as('flows', 'put', 'other', '--partner', 'acme', '--destination', 'nowhere'),
    ]);
    assert.equal(noPartner.code, EXIT.usage);
    assert.match(noPartner.stderr, /needs --partner/);
    assert.equal(unknownConnection.code, EXIT.apiError);
    assert.match(unknownConnection.stderr, /connection nowhere does not exist/);
    assert.equal((await gw.request('GET', '/v1/flows/other')).status, 404);
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
    assert.ok(
      lines.some((l) => /\sinfo\s+flow-pause\s/.test(l)),
      log.stdout,
    );
    assert.ok(
      lines.some((l) => /\sinfo\s+flow-resume\s/.test(l)),
      log.stdout,
    );
  });

  it("lists a flow's messages in the order its --help states, and shows one message's execution report", async () => {
    for (const id of ['OK-1', 'OK-2']) assert.equal((await gw.post('orders', key, id, 'hello')).status, 202);
    await waitFor(async () => (await gw.request('GET', '/v1/flows/orders/messages/OK-2')).body.status === 'delivered', {
      what: 'OK-2 delivered',
      timeoutMs: 30_000,
    });
    // A flow's listing is written from the table's stream: it trails the records.
    await gw.countsSettled();
    const [help, messages, report] = await Promise.all([
      as('flows', 'messages', '--help'),
      as('flows', 'messages', 'orders', '--status', 'delivered', '--limit', '10'),
      as('messages', 'show', 'orders', 'OK-1'),
    ]);
    assert.match(help.stdout, /oldest first \(the order they were received\)/);
    assert.equal(messages.code, EXIT.ok, messages.stderr);
    const order = messages.stdout
      .split('\n')
      .filter((line) => /^OK-\d\s/.test(line))
      .map((line) => line.split(/\s+/)[0]);
    assert.deepEqual(order, ['OK-1', 'OK-2'], 'oldest first, as the help says');
    assert.equal(report.code, EXIT.ok, report.stderr);
    assert.match(report.stdout, /^Status:\s+delivered$/m);
    assert.match(report.stdout, /^erp\s+0\s+delivered\s+1\s/m);
    assert.match(report.stdout, /Execution report\nAT\s+EVENT/);
    assert.match(report.stdout, /\sattempt\s/);
  });

  it('exits 4 on not found, 2 on usage errors, 3 when unreachable, 1 on an API error; says a wrong token was refused', async () => {
    const port = await closedPort();
    const [notFound, badCommand, missingArg, unreachable, wrongToken, failedUnknownFlow, failedUnknownConnection] = await Promise.all([
      spawnCli(['flows', 'show', 'nope', '--endpoint', gw.url, '--token', gw.gateway.operatorToken]),
      spawnCli(['flows', 'frobnicate', 'orders']),
      as('failed', 'upload', 'only-an-id'),
      runCli(['flows', 'list', '--endpoint', `http://127.0.0.1:${port}`, '--token', 't']),
      spawnCli(['flows', 'list', '--endpoint', gw.url, '--token', 'wrong-token']),
      as('failed', 'list', '--flow', 'nope'),
      as('failed', 'list', '--connection', 'nowhere'),
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
    assert.match(
      wrongToken.stderr,
      /^Error: The operator token was refused \(http:\/\/127\.0\.0\.1:\d+ answered: .*\)\. Use the token `npm start` printed, in SLUICE_OPERATOR_TOKEN or --token\. \(code: unauthenticated, HTTP 401\)$/m,
    );
    assert.ok(!wrongToken.stderr.includes('wrong-token'), 'the token is not echoed');
    assert.equal(failedUnknownFlow.code, EXIT.notFound);
    assert.match(failedUnknownFlow.stderr, /Flow nope does not exist\./);
    assert.equal(failedUnknownFlow.stdout, '', 'not "No failed events."');
    assert.equal(failedUnknownConnection.code, EXIT.notFound);
    assert.match(failedUnknownConnection.stderr, /Connection nowhere does not exist\./);
  });

  it('reads the endpoint and token from the same variables as the README walkthrough', async () => {
    const readme = await readFile(README, 'utf8');
    const exports = [...readme.matchAll(/^export (.*)$/gm)].map((m) => m[1]!);
    const walkthrough = readme.slice(readme.indexOf('## Walkthrough'), readme.indexOf('## Deploying'));
    assert.ok(
      exports.some((line) => /SLUICE_ENDPOINT=\S+ SLUICE_OPERATOR_TOKEN=/.test(line)),
      exports.join('\n'),
    );
    const curlVars = new Set([...walkthrough.matchAll(/\$\{?([A-Z_]+)/g)].map((m) => m[1]!));
    curlVars.delete('PARTNER_KEY');
    assert.deepEqual([...curlVars].sort(), ['SLUICE_ENDPOINT', 'SLUICE_OPERATOR_TOKEN']);

    const result = await spawnCli(['connections', 'show', 'erp', '--json'], {
      env: { SLUICE_ENDPOINT: gw.url, SLUICE_OPERATOR_TOKEN: gw.gateway.operatorToken },
    });
    assert.equal(result.code, EXIT.ok, result.stderr);
    assert.equal(JSON.parse(result.stdout).connectionId, 'erp');
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

  it('repairs a failed event: list, download, upload a correction, show it, restart, delivered corrected', async () => {
    assert.equal((await gw.post('orders', key, 'BAD-1', '{"qty": -1}', { 'content-type': 'application/json' })).status, 202);
    const id: string = (await failedEventOf('orders', 'BAD-1')).id;

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
    assert.match(upload.stdout, new RegExp(`^Uploaded 10 bytes from .*corrected\\.json \\(sha256 ${sha256(CORRECTED)}\\)`));

    const shown = await as('failed', 'show', id);
    assert.match(shown.stdout, /^Payload:\s+10 bytes, application\/json, corrected$/m);
    assert.match(shown.stdout, new RegExp(`^Payload SHA-256:\\s+${sha256(CORRECTED)}$`, 'm'));
    const again = join(dir, 'again.json');
    await as('failed', 'download', id, again);
    assert.equal(await readFile(again, 'utf8'), CORRECTED, 'show and download describe the same payload');

    const restart = await as('failed', 'restart', id, '--sha256', sha256(CORRECTED));
    assert.equal(restart.code, EXIT.ok, restart.stderr);
    await waitFor(() => target.byId('BAD-1').some((r) => r.status === 200), { what: 'the corrected delivery', timeoutMs: 30_000 });
    const attempts = target.byId('BAD-1');
    assert.equal(attempts.at(-1)!.body.toString(), CORRECTED);
    assert.equal(attempts.at(-1)!.headers['x-sluice-possible-duplicate'], 'true');
  });

  it('refuses an upload over the limit before sending it', async () => {
    await gw.flow('tiny', { partnerId: 'acme', destinations: ['erp'], maxPayloadBytes: 16 });
    assert.equal((await gw.post('tiny', key, 'BAD-T', 'too short')).status, 202);
    const id: string = (await failedEventOf('tiny', 'BAD-T')).id;
    const big = join(dir, 'big.json');
    await writeFile(big, 'x'.repeat(17));
    const tooBig = await as('failed', 'upload', id, big);
    assert.equal(tooBig.code, EXIT.apiError);
    assert.match(
      tooBig.stderr,
      /big\.json is 17 bytes; the upload limit for this failed event is 16 bytes\. Nothing was uploaded\..*payload-too-large/,
    );
    assert.deepEqual(await gw.bucketKeys('corrections/tiny/'), [], 'nothing reached the bucket');
  });

  it('restart-all: asks for --all without a filter, --dry-run lists what would restart, and reports skipped ones', async () => {
    await gw.flow('bulk', { partnerId: 'acme', destinations: ['erp'] });
    for (const id of ['BAD-B1', 'BAD-B2']) assert.equal((await gw.post('bulk', key, id, '{"qty": -1}')).status, 202);
    const b1 = (await failedEventOf('bulk', 'BAD-B1')).id as string;
    const b2 = (await failedEventOf('bulk', 'BAD-B2')).id as string;

    const unfiltered = await as('failed', 'restart-all');
    assert.equal(unfiltered.code, EXIT.usage);
    assert.match(unfiltered.stderr, /restart-all with no filter restarts every failed event of every flow\..*confirm with --all/);

    const dryRun = await as('failed', 'restart-all', '--flow', 'bulk', '--dry-run');
    assert.equal(dryRun.code, EXIT.ok, dryRun.stderr);
    assert.match(dryRun.stdout, /^ID\s+FLOW\s+MESSAGE/);
    assert.ok(dryRun.stdout.includes(b1) && dryRun.stdout.includes(b2), dryRun.stdout);
    assert.match(dryRun.stdout, /Would restart 2 failed events\. Nothing was changed;/);
    const dryJson = JSON.parse((await as('failed', 'restart-all', '--flow', 'bulk', '--dry-run', '--json')).stdout);
    assert.equal(dryJson.matched, 2);
    assert.deepEqual(dryJson.items.map((e: { id: string }) => e.id).sort(), [b1, b2].sort());
    const still = (await gw.request('GET', '/v1/failed-events?flowId=bulk')).body.items;
    assert.deepEqual(
      still.map((e: { status: string }) => e.status),
      ['failed', 'failed'],
      'a dry run changes nothing',
    );
    const unknownDry = await as('failed', 'restart-all', '--flow', 'nope', '--dry-run');
    assert.equal(unknownDry.code, EXIT.notFound);

    // An empty upload is refused by the restart: the real API answers { restarted, skipped }.
    const upload = (await gw.request('POST', `/v1/failed-events/${b2}/upload-url`)).body;
    assert.equal((await fetch(upload.url, { method: 'PUT', body: '' })).status, 200);
    const restarted = await as('failed', 'restart-all', '--flow', 'bulk');
    assert.equal(restarted.code, EXIT.ok, restarted.stderr);
    assert.match(restarted.stdout, /^Restarted 1 failed event\. Skipped 1 failed event whose uploaded correction was refused/);
    // b2 is failed still (its upload was removed); b1 may have failed again meanwhile.
    const json = JSON.parse((await as('failed', 'restart-all', '--flow', 'bulk', '--json')).stdout);
    assert.deepEqual(Object.keys(json).sort(), ['restarted', 'skipped'], 'prints the API answer exactly');
    assert.ok(json.restarted >= 1 && json.skipped === 0, JSON.stringify(json));

    // b1 was restarted uncorrected and failed again: show tells the total from those since the restart.
    await waitFor(
      async () => {
        const view = (await gw.request('GET', `/v1/failed-events/${b1}`)).body;
        return view.status === 'failed' && view.attempts >= 2 && view.attemptsSinceRestart === 1;
      },
      {
        what: 'b1 to fail again after its restart',
        timeoutMs: 30_000,
      },
    );
    const shown = await as('failed', 'show', b1);
    assert.match(shown.stdout, /^Attempts:\s+\d+ \(1 since the last restart\)$/m);
  });

  it('restart-all --since/--until bound failedAt: --dry-run lists only the window, the restart takes only it', async () => {
    await gw.flow('late', { partnerId: 'acme', destinations: ['erp'] });
    // One after the other, so the second failed later than the first.
    assert.equal((await gw.post('late', key, 'BAD-W1', '{"qty": -1}')).status, 202);
    const w1 = await failedEventOf('late', 'BAD-W1');
    assert.equal((await gw.post('late', key, 'BAD-W2', '{"qty": -1}')).status, 202);
    const w2 = await failedEventOf('late', 'BAD-W2');
    assert.ok(w1.failedAt < w2.failedAt);

    const fromW2 = await as('failed', 'restart-all', '--flow', 'late', '--since', w2.failedAt, '--dry-run');
    assert.equal(fromW2.code, EXIT.ok, fromW2.stderr);
    assert.ok(fromW2.stdout.includes(w2.id) && !fromW2.stdout.includes(w1.id), fromW2.stdout);
    assert.match(fromW2.stdout, /Would restart 1 failed event\. Nothing was changed;/);
    const untilW1 = JSON.parse((await as('failed', 'restart-all', '--flow', 'late', '--until', w1.failedAt, '--dry-run', '--json')).stdout);
    assert.deepEqual([untilW1.matched, untilW1.items.map((e: { id: string }) => e.id)], [1, [w1.id]]);
    const both = JSON.parse(
      (await as('failed', 'restart-all', '--flow', 'late', '--since', w1.failedAt, '--until', w2.failedAt, '--dry-run', '--json')).stdout,
    );
    assert.equal(both.matched, 2, 'both bounds are inclusive');

    const reversed = await as('failed', 'restart-all', '--flow', 'late', '--since', w2.failedAt, '--until', w1.failedAt);
    assert.equal(reversed.code, EXIT.usage);
    assert.match(reversed.stderr, /--since must not be after --until/);
    const badTime = await as('failed', 'restart-all', '--flow', 'late', '--since', 'yesterday', '--dry-run');
    assert.equal(badTime.code, EXIT.usage);
    assert.match(badTime.stderr, /--since.*RFC 3339/);

    const restarted = await as('failed', 'restart-all', '--since', w2.failedAt, '--flow', 'late');
    assert.equal(restarted.code, EXIT.ok, restarted.stderr);
    assert.match(restarted.stdout, /^Restarted 1 failed event\.$/m);
    await waitFor(() => target.byId('BAD-W2').length === 2, { what: 'W2 attempted again' });
    const w1Now = (await gw.request('GET', `/v1/failed-events/${w1.id}`)).body;
    assert.deepEqual([w1Now.status, w1Now.attempts], ['failed', 1], 'W1 failed before the window and was left alone');
    assert.equal(target.byId('BAD-W1').length, 1);
  });

  it('connections replay: sends a window again in order, flagged, following the API until it is done; refuses bad input', async () => {
    await gw.connection('ledger', { url: target.url });
    await gw.flow('books', { partnerId: 'acme', destinations: ['ledger'] });
    const at: Record<string, string> = {};
    for (const id of ['R-1', 'R-2', 'R-3']) {
      const posted = await gw.post('books', key, id, `entry ${id}`);
      assert.equal(posted.status, 202);
      at[id] = posted.body.receivedAt;
      await waitFor(() => target.byId(id).length === 1 && target.byId(id)[0]!.status === 200, { what: `${id} delivered` });
    }
    await gw.countsSettled();
    const before = target.received.length;

    // --limit 1: three API calls, each going on where the last stopped.
    const replayed = await as('connections', 'replay', 'ledger', '--since', at['R-1']!, '--limit', '1');
    assert.equal(replayed.code, EXIT.ok, replayed.stderr);
    assert.match(
      replayed.stdout,
      /^Replayed 3 deliveries to ledger \(every flow that uses it; messages received from \S+ until \S+\)\. They are queued behind/,
    );
    await target.waitForRequests(before + 3);
    const again = target.received.slice(before);
    assert.deepEqual(
      again.map((r) => r.headers['x-aux-system-msg-id']),
      ['R-1', 'R-2', 'R-3'],
    );
    assert.ok(again.every((r) => r.headers['x-sluice-possible-duplicate'] === 'true'));
    await waitFor(async () => (await gw.request('GET', '/v1/flows/books/messages/R-3')).body.status === 'delivered', {
      what: 'R-3 delivered again',
    });

    const json = await as('connections', 'replay', 'ledger', '--since', at['R-2']!, '--until', at['R-3']!, '--flow', 'books', '--json');
    assert.equal(json.code, EXIT.ok, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { replayed: 1, until: new Date(at['R-3']!).toISOString() });
    await target.waitForRequests(before + 4);
    assert.equal(target.received.at(-1)!.headers['x-aux-system-msg-id'], 'R-2');
    const report = (await gw.request('GET', '/v1/flows/books/messages/R-2')).body.report as { event: string }[];
    assert.equal(report.filter((e) => e.event === 'replayed').length, 2);

    const missingSince = await as('connections', 'replay', 'ledger');
    assert.equal(missingSince.code, EXIT.usage);
    assert.match(missingSince.stderr, /--since/);
    const badSince = await as('connections', 'replay', 'ledger', '--since', '2026-01-31');
    assert.equal(badSince.code, EXIT.usage);
    const unknownConnection = await as('connections', 'replay', 'nope', '--since', at['R-1']!);
    assert.equal(unknownConnection.code, EXIT.notFound);
    const unknownFlow = await as('connections', 'replay', 'ledger', '--since', at['R-1']!, '--flow', 'nope', '--json');
    assert.equal(unknownFlow.code, EXIT.notFound);
    assert.equal(JSON.parse(unknownFlow.stderr).code, 'unknown-flow');
    const otherFlow = await as('connections', 'replay', 'ledger', '--since', at['R-1']!, '--flow', 'orders');
    assert.equal(otherFlow.code, EXIT.apiError);
    assert.match(otherFlow.stderr, /does not deliver to connection ledger/);
    assert.equal(target.received.length, before + 4, 'refused replays send nothing');
  });

  it('answers a missing failed event with the not-found code in --json', async () => {
    const missing = await as('failed', 'show', 'orders~NOPE~erp', '--json');
    assert.equal(missing.code, EXIT.notFound);
    assert.equal(JSON.parse(missing.stderr).code, 'not-found');
  });
});
