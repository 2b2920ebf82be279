// A delivery target for trying Sluice by hand: prints what it receives and answers
// 200, or the status given with --status (e.g. 422 to see a business failure).
//
// The answer can change while it runs, so a repair walkthrough needs no restart:
//   - type a status (e.g. `200`) and Enter in its terminal, or
//   - PUT /_target/status with the status as the body: `curl -X PUT <url>/_target/status -d 200`
// GET /_target/status shows the current one.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Where the target's own controls live; deliveries go to any other path. */
export const CONTROL_PATH = '/_target/status';

export interface DemoTargetOptions {
  /** @default 4000 (0 picks a free port) */
  port?: number;
  /** Status answered to POSTs. @default 200 */
  status?: number;
  /** Where it prints what it receives. @default process.stdout */
  write?: (text: string) => void;
}

export interface DemoTarget {
  url: string;
  readonly status: number;
  setStatus(status: number): void;
  stop(): Promise<void>;
}

/** A status the target can answer with: an integer HTTP status, 200-599. */
export function parseStatus(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d{3}$/.test(trimmed)) return undefined;
  const status = Number(trimmed);
  return status >= 200 && status <= 599 ? status : undefined;
}

export async function startDemoTarget(options: DemoTargetOptions = {}): Promise<DemoTarget> {
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  let status = options.status ?? 200;
  const setStatus = (next: number) => {
    status = next;
    write(`now answering POSTs with ${status}\n`);
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (request.url === CONTROL_PATH) {
        const next = request.method === 'PUT' || request.method === 'POST' ? parseStatus(body) : status;
        if (next === undefined) {
          response.writeHead(400, { 'content-type': 'text/plain' });
          response.end('send a status from 200 to 599 as the body, e.g. -d 200\n');
          return;
        }
        if (next !== status) setStatus(next);
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end(`${status}\n`);
        return;
      }
      const id = request.headers['x-aux-system-msg-id'] ?? '-';
      const flags = request.headers['x-sluice-possible-duplicate'] ? ' (possible duplicate)' : '';
      const answer = request.method === 'POST' ? status : 200;
      write(
        `${request.method} ${request.url} id=${id} attempt=${request.headers['x-sluice-attempt'] ?? '-'}${flags} -> ${answer}\n${body}\n`,
      );
      response.writeHead(answer, { 'content-type': 'text/plain' });
      response.end(answer >= 400 ? `rejected with ${answer}\n` : 'ok\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4000, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    get status() {
      return status;
    },
    setStatus,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4000' },
      status: { type: 'string', default: '200' },
    },
  });
  const status = parseStatus(values.status);
  if (status === undefined) {
    process.stderr.write(`--status must be an HTTP status from 200 to 599, not ${values.status}\n`);
    process.exit(2);
  }
  let target: DemoTarget;
  try {
    target = await startDemoTarget({ port: Number(values.port), status });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(`Port ${values.port} is already in use. Choose another with --port, e.g. npm run target -- --port 4001\n`);
      process.exit(1);
    }
    throw error;
  }
  process.stdout.write(
    `demo target on ${target.url}, answering POSTs with ${target.status}\n` +
      `change the answer without a restart: type a status and Enter here, or curl -X PUT ${target.url}${CONTROL_PATH} -d 200\n`,
  );
  // Only a terminal (or a pipe) that stays open feeds this; closing stdin does not stop the target.
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === '') return;
    const next = parseStatus(line);
    if (next === undefined) process.stdout.write(`type a status from 200 to 599 (e.g. 200 or 422), not "${line.trim()}"\n`);
    else target.setStatus(next);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => void target.stop().then(() => process.exit(0)));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
