// Runs every test file under test/ with Node's own test runner (through tsx).
// Node 20's runner does not expand globs, so the files are listed here.
//
// DynamoDB Local (a JVM, seconds to start) and the SQS/S3 emulator are started once for
// the whole run and announced to every test file through the environment; each file's
// gateway then uses a table, queues and bucket of its own. A file run on its own (without
// this script) starts its own emulators. Set SLUICE_TEST_SHARED_EMULATORS=0 to do that here too.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { register } from 'tsx/esm/api';

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return path.endsWith('.test.ts') ? [path] : [];
  });
}

const filter = process.argv.slice(2);
const files = findTests('test')
  .filter((file) => filter.length === 0 || filter.some((f) => file.includes(f)))
  .sort();
const concurrency = process.env.SLUICE_TEST_CONCURRENCY ?? '2';
const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...process.env };

let emulators;
if (process.env.SLUICE_TEST_SHARED_EMULATORS !== '0') {
  register();
  const { startEmulators, sharedEmulatorEnv } = await import('../local/emulators.ts');
  emulators = await startEmulators();
  Object.assign(env, sharedEmulatorEnv(emulators));
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
// Ctrl-C reaches the runner through the terminal; stop the emulators once it has ended.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const status = await new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
await emulators?.stop();
process.exit(status);
