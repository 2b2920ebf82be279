import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createConsoleHandler, consoleProblem, methodNotAllowed, type ConsoleResponse } from '../../console/server';
import { NetworkError, UsageError, type SluiceClient } from '../client';
import { contextOf, ioOf } from '../context';

/** @default port of `sluice console` */
export const DEFAULT_CONSOLE_PORT = 3100;
/** The operator API's own body limit is far lower; corrected payloads may be larger. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const RELAYED_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE']);

export interface ConsoleServerOptions {
  /** Signs and sends the gateway calls (token or SigV4). */
  client: SluiceClient;
  /** 0 picks a free port. @default 3100 */
  port?: number;
  /** The key the browser must present. @default 256 random bits */
  sessionKey?: string;
}

export interface ConsoleServer {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** The address to open: the session key rides in the fragment, which browsers never send. */
  consoleUrl: string;
  sessionKey: string;
  close(): Promise<void>;
}

class BodyTooLargeError extends Error {}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.pause();
        reject(new BodyTooLargeError());
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function sendResponse(response: ServerResponse, answer: ConsoleResponse): void {
  response.writeHead(answer.status, { ...answer.headers, 'content-length': answer.body.length });
  response.end(answer.body);
}

/** The path exactly as a URL parser leaves it: no dot segments, doubled or encoded separators. */
function isPlainPath(path: string): boolean {
  return new URL(path, 'http://console.invalid').pathname === path && !/%2e|%2f|%5c|\/\/|\\/i.test(path);
}

/**
 * `sluice console`: the console's assets on 127.0.0.1, and `/v1/*` relayed to the
 * gateway with this process's credentials. The browser holds only a session key for this
 * server; without it nothing is relayed, and requests naming another host or origin (DNS
 * rebinding, a page elsewhere posting here) are refused.
 */
export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const sessionKey = options.sessionKey ?? randomBytes(32).toString('base64url');
  const expected = Buffer.from(`Bearer ${sessionKey}`);
  const client = options.client;
  let origin = '';
  const handleConsole = createConsoleHandler({
    operator: async (method, path, { body }) => {
      const answer = await client.forward(method, path, body !== undefined ? { body } : {});
      return { status: answer.status, contentType: answer.contentType, text: answer.text };
    },
  });

  const authorized = (request: IncomingMessage) => {
    const presented = Buffer.from(request.headers.authorization ?? '');
    return presented.length === expected.length && timingSafeEqual(presented, expected);
  };

  async function handle(request: IncomingMessage): Promise<ConsoleResponse> {
    const url = new URL(request.url ?? '/', origin);
    const method = (request.method ?? 'GET').toUpperCase();
    const host = request.headers.host ?? '';
    if (host !== new URL(origin).host && host !== `localhost:${new URL(origin).port}`) {
      return consoleProblem(421, 'misdirected', 'Misdirected request', `This console answers only as ${new URL(origin).host}.`);
    }
    const requestOrigin = request.headers.origin;
    if (requestOrigin && requestOrigin !== origin && requestOrigin !== `http://localhost:${new URL(origin).port}`) {
      return consoleProblem(403, 'forbidden', 'Forbidden', 'Requests from other origins are refused.');
    }
    if (url.pathname === '/') return { status: 302, headers: { location: '/console' }, body: Buffer.alloc(0) };
    // Checked before URL parsing, which would resolve `..` and backslashes silently.
    const rawPath = (request.url ?? '/').split('?')[0]!;
    const isApi = rawPath.startsWith('/v1/') || url.pathname.startsWith('/v1/');
    const isTransfer = url.pathname.startsWith('/console/payloads/');
    if ((isApi || isTransfer) && !authorized(request)) {
      return consoleProblem(
        401,
        'unauthenticated',
        'Unauthenticated',
        'Open the address `sluice console` printed: it carries the session key after #token=.',
      );
    }
    let body: Buffer;
    try {
      body = await readBody(request);
    } catch (error) {
      if (error instanceof BodyTooLargeError)
        return consoleProblem(413, 'payload-too-large', 'Payload too large', `Requests are limited to ${MAX_BODY_BYTES} bytes.`);
      throw error;
    }
    if (isApi) {
      if (!isPlainPath(rawPath))
        return consoleProblem(400, 'invalid-path', 'Invalid path', 'The path has dot segments or encoded separators.');
      if (!RELAYED_METHODS.has(method)) return methodNotAllowed([...RELAYED_METHODS], `${method} is not relayed.`);
      const answer = await client.forward(method, url.pathname, {
        query: url.searchParams,
        ...(body.length > 0 ? { body: body.toString('utf8') } : {}),
      });
      return {
        status: answer.status,
        headers: { 'content-type': answer.contentType || 'application/json', 'cache-control': 'no-store' },
        body: Buffer.from(answer.text),
      };
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers[name] = value;
    const answer = await handleConsole({ method, path: url.pathname, headers, body });
    return answer ?? consoleProblem(404, 'not-found', 'Not found', `Nothing is served at ${url.pathname}.`);
  }

  const server: Server = createServer(async (request, response) => {
    try {
      sendResponse(response, await handle(request));
    } catch (error) {
      // Unreachable gateway, missing AWS credentials…: the page shows why.
      const unreachable = error instanceof NetworkError;
      sendResponse(
        response,
        consoleProblem(
          unreachable ? 502 : 500,
          unreachable ? 'bad-gateway' : 'internal',
          unreachable ? 'Gateway unreachable' : 'Console error',
          (error as Error).message,
        ),
      );
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new UsageError(`Port ${options.port ?? DEFAULT_CONSOLE_PORT} is in use: pass --port <n> (0 picks a free one).`)
          : error,
      ),
    );
    server.listen(options.port ?? DEFAULT_CONSOLE_PORT, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    consoleUrl: `${origin}/console#token=${sessionKey}`,
    sessionKey,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0 picks a free one).');
  return n;
}

export function consoleCommand(): Command {
  return new Command('console')
    .description(
      'Serve the operator console on 127.0.0.1 for this endpoint; it signs the calls itself, so no credential reaches the browser',
    )
    .addOption(new Option('--port <n>', 'local port (0 picks a free one)').argParser(port).default(DEFAULT_CONSOLE_PORT))
    .action(async (options: { port: number }, command: Command) => {
      const { client } = contextOf(command);
      const io = ioOf(command);
      const server = await startConsoleServer({ client, port: options.port });
      io.stdout(
        `Sluice console for ${client.endpoint} (${client.useSigV4 ? 'SigV4' : 'operator token'})\n` +
          `  Open ${server.consoleUrl}\n` +
          'Press Ctrl-C to stop.\n',
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
