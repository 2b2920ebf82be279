import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { ApiGatewayHandler } from '../adapters/http/apigateway';
import { problemOf } from '../core/problems';

/** API Gateway's own request limit: larger bodies never reach a handler. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

export interface LocalApiServerOptions {
  partnerHandler: ApiGatewayHandler;
  operatorHandler: ApiGatewayHandler;
  /** Decides which API a request belongs to (both share one port locally). */
  isPartnerRequest: (method: string, path: string, headers: Record<string, string | undefined>) => boolean;
  /** @default 3000 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
}

class BodyTooLargeError extends Error {}

/** Beyond this the connection is cut instead of drained. */
const MAX_DRAIN_BYTES = 8 * MAX_REQUEST_BYTES;

/**
 * Reads the body; an oversized one is drained (not buffered) so the client can read
 * the 413 instead of seeing its upload cut off.
 */
function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_DRAIN_BYTES) request.destroy();
      else if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
    });
    request.on('end', () => (size > MAX_REQUEST_BYTES ? reject(new BodyTooLargeError()) : resolve(Buffer.concat(chunks))));
    request.on('error', reject);
  });
}

/** Node request → the API Gateway REST proxy event a Lambda would receive (binary media type any). */
export function toProxyEvent(request: IncomingMessage, body: Buffer): APIGatewayProxyEvent {
  const url = new URL(request.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const query = Object.fromEntries(url.searchParams.entries());
  const requestId = randomUUID();
  return {
    httpMethod: request.method ?? 'GET',
    path: url.pathname,
    resource: url.pathname,
    headers,
    multiValueHeaders: {},
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: body.length > 0 ? body.toString('base64') : null,
    isBase64Encoded: body.length > 0,
    requestContext: {
      requestId,
      identity: { sourceIp: request.socket.remoteAddress ?? '127.0.0.1' },
    } as APIGatewayProxyEvent['requestContext'],
  };
}

function send(response: ServerResponse, result: APIGatewayProxyResult): void {
  const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body);
  response.writeHead(result.statusCode, { ...(result.headers as Record<string, string>), 'content-length': body.length });
  response.end(body);
}

function sendProblem(response: ServerResponse, code: 'payload-too-large' | 'internal', detail: string): void {
  const problem = problemOf(code, detail);
  send(response, {
    statusCode: problem.status,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify(problem),
  });
}

export interface LocalApiServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** The partner and operator APIs of local mode, calling the same handlers as the Lambdas. */
export async function startLocalApiServer(options: LocalApiServerOptions): Promise<LocalApiServer> {
  const server = createServer({ maxHeaderSize: 64 * 1024 }, async (request, response) => {
    let body: Buffer;
    try {
      body = await readBody(request);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        sendProblem(response, 'payload-too-large', `Requests are limited to ${MAX_REQUEST_BYTES} bytes.`);
        return;
      }
      response.destroy();
      return;
    }
    const event = toProxyEvent(request, body);
    const headers = Object.fromEntries(Object.entries(event.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const handler = options.isPartnerRequest(event.httpMethod, event.path, headers)
      ? options.partnerHandler
      : options.operatorHandler;
    try {
      send(response, await handler(event));
    } catch {
      sendProblem(response, 'internal', 'The handler failed unexpectedly.');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
