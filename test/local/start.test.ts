import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/emulator-wait';

const MAIN = fileURLToPath(new URL('../../local/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `npm start` as a user runs it: `tsx local/main.ts` in a child process. */
function start(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    // Nothing written into the checkout's own .sluice (a developer's npm start may hold it).
    env: { ...process.env, POWERTOOLS_DEV: '', SLUICE_DATA_DIR: 'memory', ...env },
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output.stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output.stderr += text));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output, exited };
}

async function occupiedPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('npm start', () => {
  it('on a busy port names the port and how to choose another, without a stack trace', async () => {
    const { server, port } = await occupiedPort();
    try {
      const run = start({ PORT: String(port) });
      const code = await run.exited;
      assert.equal(code, 1, run.output.stderr);
      assert.match(run.output.stderr, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already in use\\.`));
      assert.match(run.output.stderr, /choose another port: PORT=\d+ npm start/);
      assert.doesNotMatch(run.output.stderr, /^\s+at /m, 'no stack trace');
      assert.doesNotMatch(run.output.stdout, /Starting DynamoDB Local/, 'nothing was started for a busy port');
    } finally {
      server.close();
    }
  });

  it('refuses a PORT that is not a port number, with an example', async () => {
    const run = start({ PORT: 'three-thousand' });
    assert.equal(await run.exited, 2);
    assert.match(run.output.stderr, /PORT must be a port number from 1 to 65535, not "three-thousand"\. For example: PORT=3001 npm start/);
  });

  it('prints its progress while the emulators start, then where it listens, and stops on Ctrl-C', async () => {
    const { server, port } = await occupiedPort();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const run = start({ PORT: String(port), SLUICE_OPERATOR_TOKEN: 'start-test-token' });
    try {
      await waitFor(() => run.output.stdout.includes('Press Ctrl-C to stop.') || run.child.exitCode !== null, {
        what: 'npm start to be ready',
        timeoutMs: 120_000,
        intervalMs: 50,
      });
      assert.equal(run.child.exitCode, null, run.output.stderr);
      const lines = run.output.stdout.split('\n');
      const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
      const steps = [
        at(/^\[\d+\.\d s\] Starting DynamoDB Local \(Java\) and the SQS\/S3 emulator…$/),
        at(/^\[\d+\.\d s\] Creating the table, queue and bucket…$/),
        at(new RegExp(`^\\[\\d+\\.\\d s\\] Starting the API on port ${port}…$`)),
        at(/^Sluice is running in local mode/),
      ];
      assert.ok(
        steps.every((index) => index >= 0),
        run.output.stdout,
      );
      assert.deepEqual(
        [...steps].sort((a, b) => a - b),
        steps,
        'progress lines come in start-up order',
      );
      assert.match(run.output.stdout, new RegExp(`export SLUICE_ENDPOINT=http://127\\.0\\.0\\.1:${port} `));
      assert.ok(!run.output.stdout.includes('start-test-token'), 'a token from the environment is not printed');
      assert.match(
        run.output.stdout,
        new RegExp(`Operator console +http://127\\.0\\.0\\.1:${port}/console#token=<your SLUICE_OPERATOR_TOKEN>`),
      );
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(health.status, 200);
    } finally {
      run.child.kill('SIGINT');
    }
    assert.equal(await run.exited, 0);
    assert.match(run.output.stdout, /Stopping Sluice…/);
  });
});
