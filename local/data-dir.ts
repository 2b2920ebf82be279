import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

/** The `SLUICE_DATA_DIR` value that keeps nothing: every start begins empty. */
export const MEMORY_DATA_DIR = 'memory';

/** Where `npm start` keeps its state unless `SLUICE_DATA_DIR` says otherwise (listed in .gitignore). */
export const DEFAULT_DATA_DIR = '.sluice';

/** Secrets local mode generates once and keeps, each in a file of its own (mode 0600). */
export type KeptSecret =
  /** Bearer token of the operator API (unless SLUICE_OPERATOR_TOKEN gives one). */
  | 'operator-token'
  /** HMAC key of pagination cursors, so a cursor from before a restart still works. */
  | 'cursor-secret'
  /** AES key that seals connection credentials in the table; without it they could not be opened again. */
  | 'credentials-key';

export class DataDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirError';
  }
}

/** Another running gateway holds the data directory (two JVMs on one database file would corrupt it). */
export class DataDirInUseError extends DataDirError {
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(
      `The data directory ${path} is in use by another Sluice (process ${pid}). ` +
        `Stop that one, or give this one its own directory: SLUICE_DATA_DIR=<dir> npm start ` +
        `(if process ${pid} is not a Sluice, delete ${join(path, LOCK_FILE)}).`,
    );
    this.name = 'DataDirInUseError';
  }
}

const LOCK_FILE = 'lock';

/** Directories held by gateways of this process (their lock files carry this process's id). */
const heldHere = new Set<string>();

/** The data directory a setting names: `memory` for none, else an absolute path (relative ones against `cwd`). */
export function resolveDataDir(setting: string | undefined, cwd: string = process.cwd()): string | typeof MEMORY_DATA_DIR {
  const value = setting?.trim() || DEFAULT_DATA_DIR;
  if (value === MEMORY_DATA_DIR) return MEMORY_DATA_DIR;
  return isAbsolute(value) ? value : resolve(cwd, value);
}

/** An open data directory (or memory), held by one gateway until `close()`. */
export interface DataDir {
  /** Absolute path of the directory; undefined in memory mode. */
  readonly path: string | undefined;
  /** The kept value of `name`, generated (256 random bits, base64url) and kept the first time. */
  secret(name: KeptSecret): Promise<string>;
  /** Releases the directory for the next start. */
  close(): Promise<void>;
}

function generated(): string {
  return randomBytes(32).toString('base64url');
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the directory's lock file, or refuses when a live process holds it. A lock left
 * by a process that died (kill -9, a crash) is taken over.
 */
async function lock(path: string): Promise<void> {
  const file = join(path, LOCK_FILE);
  if (heldHere.has(path)) throw new DataDirInUseError(path, process.pid);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      heldHere.add(path);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processIsAlive(holder)) {
      throw new DataDirInUseError(path, holder);
    }
    await rm(file, { force: true });
  }
  throw new DataDirError(`Could not take the lock ${file}`);
}

async function keptSecret(path: string, name: KeptSecret): Promise<string> {
  const file = join(path, name);
  const existing = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing !== undefined) {
    const value = existing.trim();
    // Silently replacing an unreadable key would strand the credentials sealed with it.
    if (!value) throw new DataDirError(`${file} is empty: delete it to have a new one generated`);
    return value;
  }
  const value = generated();
  try {
    await writeFile(file, `${value}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return keptSecret(path, name);
    throw error;
  }
  // The mode given to writeFile passes through the umask; make sure nobody else can read it.
  await chmod(file, 0o600);
  return value;
}

/**
 * Opens the data directory a setting names (see `resolveDataDir`): creates it (mode 0700)
 * and takes its lock. In memory mode nothing touches the disk and every secret is new.
 */
export async function openDataDir(setting: string | undefined, cwd?: string): Promise<DataDir> {
  const resolved = resolveDataDir(setting, cwd);
  if (resolved === MEMORY_DATA_DIR) {
    const secrets = new Map<KeptSecret, string>();
    return {
      path: undefined,
      secret: async (name) => {
        if (!secrets.has(name)) secrets.set(name, generated());
        return secrets.get(name)!;
      },
      close: async () => undefined,
    };
  }
  try {
    await mkdir(resolved, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new DataDirError(`Cannot create the data directory ${resolved}: ${(error as Error).message}`);
  }
  await lock(resolved);
  let closed = false;
  return {
    path: resolved,
    secret: (name) => keptSecret(resolved, name),
    close: async () => {
      if (closed) return;
      closed = true;
      await rm(join(resolved, LOCK_FILE), { force: true });
      heldHere.delete(resolved);
    },
  };
}
