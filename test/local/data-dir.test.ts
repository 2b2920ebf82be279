import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirError, DataDirInUseError, openDataDir, resolveDataDir } from '../../local/data-dir';

let workDir: string;

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'sluice-data-dir-'));
});

after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('resolveDataDir', () => {
  it('defaults to .sluice in the working directory, resolves relative paths there, and knows memory', () => {
    assert.equal(resolveDataDir(undefined, '/srv/app'), '/srv/app/.sluice');
    assert.equal(resolveDataDir('  ', '/srv/app'), '/srv/app/.sluice');
    assert.equal(resolveDataDir('state/local', '/srv/app'), '/srv/app/state/local');
    assert.equal(resolveDataDir('/var/lib/sluice', '/srv/app'), '/var/lib/sluice');
    assert.equal(resolveDataDir('memory', '/srv/app'), 'memory');
    assert.equal(resolveDataDir('./memory', '/srv/app'), '/srv/app/memory', 'a directory named memory is still possible');
  });
});

describe('openDataDir', () => {
  it('generates each secret once, keeps it readable by this user only, and gives it back on the next open', async () => {
    const path = join(workDir, 'kept');
    const first = await openDataDir(path);
    assert.equal(first.path, path);
    assert.equal((await stat(path)).mode & 0o777, 0o700);
    const token = await first.secret('operator-token');
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await first.secret('operator-token'), token);
    const cursor = await first.secret('cursor-secret');
    assert.notEqual(cursor, token, 'each secret is its own');
    assert.equal((await stat(join(path, 'operator-token'))).mode & 0o777, 0o600);
    assert.equal((await readFile(join(path, 'operator-token'), 'utf8')).trim(), token);
    await first.close();

    const second = await openDataDir(path);
    assert.equal(await second.secret('operator-token'), token);
    assert.equal(await second.secret('cursor-secret'), cursor);
    await second.close();
  });

  it('refuses an empty secret file rather than replacing a key that sealed data', async () => {
    const path = join(workDir, 'empty-key');
    const dir = await openDataDir(path);
    await writeFile(join(path, 'credentials-key'), '\n');
    await assert.rejects(dir.secret('credentials-key'), DataDirError);
    await dir.close();
  });

  it('is held by one gateway at a time, in this process and across processes, and a dead holder is taken over', async () => {
    const path = join(workDir, 'locked');
    const held = await openDataDir(path);
    await assert.rejects(openDataDir(path), (error: unknown) => error instanceof DataDirInUseError && error.pid === process.pid);
    await held.close();
    const again = await openDataDir(path);
    await again.close();

    // A live process of someone else holds it.
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await writeFile(join(path, 'lock'), String(other.pid));
      await assert.rejects(openDataDir(path), (error: unknown) => {
        assert.ok(error instanceof DataDirInUseError);
        assert.equal(error.pid, other.pid);
        assert.match(error.message, /in use by another Sluice .*SLUICE_DATA_DIR=<dir> npm start/);
        return true;
      });
    } finally {
      other.kill();
      await once(other, 'exit');
    }
    // The same process is gone now (killed, no clean stop): its lock is stale.
    const taken = await openDataDir(path);
    assert.equal((await readFile(join(path, 'lock'), 'utf8')).trim(), String(process.pid));
    await taken.close();
    await assert.rejects(stat(join(path, 'lock')));
  });

  it('in memory mode touches no disk and generates new secrets every time', async () => {
    const cwd = join(workDir, 'memory-cwd');
    await mkdir(cwd);
    const first = await openDataDir('memory', cwd);
    const second = await openDataDir('memory', cwd);
    assert.equal(first.path, undefined);
    const token = await first.secret('operator-token');
    assert.equal(await first.secret('operator-token'), token, 'stable while it runs');
    assert.notEqual(await second.secret('operator-token'), token);
    await first.close();
    await second.close();
    assert.deepEqual(await readdir(cwd), []);
  });
});
