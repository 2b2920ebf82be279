import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/emulator-wait';

const SCRIPT = fileURLToPath(new URL('../../scripts/demo-target.ts', import.meta.url));

/** `npm run target` as a user runs it: a child process, its terminal on stdin/stdout. */
describe('demo target (npm run target)', () => {
  let child: ChildProcessWithoutNullStreams;
  let output = '';
  let url: string;

  before(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, '--port', '0', '--status', '422'], {
      env: { ...process.env },
    });
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    url = await waitFor(() => /demo target on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1], {
      what: 'the demo target to listen',
      timeoutMs: 30_000,
    });
  });

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  const post = async () =>
    (await fetch(`${url}/orders`, { method: 'POST', body: '{"order":1}', headers: { 'x-aux-system-msg-id': 'PO-1' } })).status;

  it('answers with --status, then changes its answer over HTTP without a restart', async () => {
    assert.match(output, /curl -X PUT http:\/\/127\.0\.0\.1:\d+\/_target\/status -d 200/);
    assert.equal(await post(), 422);
    const set = await fetch(`${url}/_target/status`, { method: 'PUT', body: '200' });
    assert.equal(set.status, 200);
    assert.equal((await set.text()).trim(), '200');
    assert.equal(await post(), 200);
    assert.equal((await (await fetch(`${url}/_target/status`)).text()).trim(), '200');
    const bad = await fetch(`${url}/_target/status`, { method: 'PUT', body: 'ok' });
    assert.equal(bad.status, 400);
    assert.equal(await post(), 200, 'a bad control request changes nothing');
  });

  it('changes its answer when a status is typed in its terminal', async () => {
    child.stdin.write('503\n');
    await waitFor(() => output.includes('now answering POSTs with 503'), { what: 'the typed status to apply', timeoutMs: 10_000 });
    assert.equal(await post(), 503);
    assert.match(output, /POST \/orders id=PO-1 attempt=- -> 503/);
    child.stdin.write('teapot\n');
    await waitFor(() => output.includes('not "teapot"'), { what: 'the refusal of a typed non-status', timeoutMs: 10_000 });
    assert.equal(await post(), 503);
  });
});
