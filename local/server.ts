import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { ApiGatewayHandler, LocalRequestContext } from '../adapters/http/apigateway';
import { matchResource, OPERATOR_API_RESOURCES, PARTNER_API_RESOURCES } from '../api/apis';
import { problemOf, type Problem, type ProblemCode } from '../core/problems';

/** API Gateway's own request limit: larger bodies never reach a handler. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

/** Largest request head (request line and headers) the server reads. */
export const MAX_HEADER_BYTES = 64 * 1024;

export interface LocalApiServerOptions {
  partnerHandler: ApiGatewayHandler;
  operatorHandler: ApiGatewayHandler;
  /** Decides which API a request belongs to (both share one port locally); `path` is raw. */
  isPartnerRequest: (method: string, path: string, headers: Record<string, string | undefined>) => boolean;
  /** @default 3000 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Told about every unexpected error the server turned into a 500. @default nothing */
  onError?: (error: unknown) => void;
}

class BodyTooLargeError extends Error {
  constructor(readonly bytes: number) {
    super(`request body of ${bytes} bytes`);
  }
}

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
    request.on('end', () => (size > MAX_REQUEST_BYTES ? reject(new BodyTooLargeError(size)) : resolve(Buffer.concat(chunks))));
    request.on('error', reject);
  });
}

/**
 * The raw path and query of a request target, without URL resolution: `//host/x` stays
 * a path (a URL parser would read a host), and nothing is decoded here.
 */
export function splitTarget(target: string): { path: string; query: URLSearchParams } {
  let raw = target;
  if (!raw.startsWith('/')) {
    // Absolute form (`http://host/path`) or `*`: keep only the path.
    try {
      const url = new URL(raw);
      raw = `${url.pathname}${url.search}`;
    } catch {
      raw = `/${raw}`;
    }
  }
  const mark = raw.indexOf('?');
  const path = mark === -1 ? raw : raw.slice(0, mark);
  const query = new URLSearchParams(mark === -1 ? '' : raw.slice(mark + 1));
  return { path: path.replace(/#.*$/, ''), query };
}

export interface ProxyEventOptions {
  /** The API Gateway resources of the API that serves this request. */
  resources: readonly string[];
  /** Set when the body was over the request limit and not passed on. */
  oversizedBodyBytes?: number;
}

/**
 * Node request → the API Gateway REST proxy event a Lambda would receive (binary media
 * type any): `resource` and raw `pathParameters` as the stack's resources produce them,
 * `headers` with the last value of each header and `multiValueHeaders` with all of them.
 */
export function toProxyEvent(request: IncomingMessage, body: Buffer, options: ProxyEventOptions = { resources: [] }): APIGatewayProxyEvent {
  const { path, query } = splitTarget(request.url ?? '/');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(request.headersDistinct)) {
    if (!values || values.length === 0) continue;
    headers[name] = values[values.length - 1]!;
    multiValueHeaders[name] = values;
  }
  const queryStringParameters: Record<string, string> = {};
  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const [name, value] of query.entries()) {
    queryStringParameters[name] = value;
    (multiValueQueryStringParameters[name] ??= []).push(value);
  }
  const { resource, pathParameters } = matchResource(options.resources, path);
  const requestContext = {
    requestId: randomUUID(),
    identity: { sourceIp: request.socket.remoteAddress ?? '127.0.0.1' },
    ...(options.oversizedBodyBytes !== undefined ? { sluiceLocal: { oversizedBodyBytes: options.oversizedBodyBytes } } : {}),
  } satisfies LocalRequestContext & Record<string, unknown>;
  const hasQuery = Object.keys(queryStringParameters).length > 0;
  return {
    httpMethod: request.method ?? 'GET',
    path,
    resource,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? queryStringParameters : null,
    multiValueQueryStringParameters: hasQuery ? multiValueQueryStringParameters : null,
    pathParameters,
    stageVariables: null,
    body: body.length > 0 ? body.toString('base64') : null,
    isBase64Encoded: body.length > 0,
    requestContext: requestContext as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

function send(response: ServerResponse, result: APIGatewayProxyResult): void {
  const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body);
  response.writeHead(result.statusCode, { ...(result.headers as Record<string, string>), 'content-length': body.length });
  response.end(body);
}

function problemResult(problem: Problem, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode: problem.status,
    headers: { ...headers, 'content-type': 'application/problem+json' },
    body: JSON.stringify(problem),
  };
}

/** Methods the two APIs route; `Allow` of a method Node's parser cannot read. */
const ROUTED_METHODS = 'DELETE, GET, POST, PUT';

/**
 * A request Node's HTTP parser refused before any handler (raw NUL, CR or LF in a
 * header, a head over `MAX_HEADER_BYTES`, an unknown method, a malformed request line):
 * answered with a problem, as every other refusal, then the connection is closed.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // As Node's own handler: never write into a connection whose response is under way
  // (that would corrupt what the peer reads); close it instead.
  const inFlight = (socket as Duplex & { _httpMessage?: unknown })._httpMessage;
  if (!socket.writable || inFlight || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  let code: ProblemCode;
  let detail: string;
  const extra: string[] = [];
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      code = 'header-too-large';
      detail = `The request line and headers exceed ${MAX_HEADER_BYTES} bytes.`;
      break;
    case 'HPE_INVALID_METHOD':
      code = 'method-not-allowed';
      detail = `Unknown HTTP method; use ${ROUTED_METHODS}.`;
      extra.push(`Allow: ${ROUTED_METHODS}`);
      break;
    case 'HPE_INVALID_URL':
      code = 'invalid-path';
      detail = 'The request target is not a valid path.';
      break;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      socket.destroy();
      return;
    default:
      code = 'invalid-header';
      detail = 'The request head is malformed (for example a raw NUL, CR or LF in a header, or a bad request line).';
  }
  const problem = problemOf(code, detail);
  const body = Buffer.from(JSON.stringify(problem));
  const head = [
    `HTTP/1.1 ${problem.status} ${problem.title}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${body.length}`,
    'Connection: close',
    ...extra,
  ].join('\r\n');
  socket.end(Buffer.concat([Buffer.from(`${head}\r\n\r\n`), body]));
}

export interface LocalApiServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/**
 * The partner and operator APIs of local mode, calling the same handlers as the Lambdas.
 * Every request gets an answer: whatever fails on the way (routing, reading, a handler,
 * writing) becomes a 500 problem, and the process keeps serving.
 */
export async function startLocalApiServer(options: LocalApiServerOptions): Promise<LocalApiServer> {
  const serve = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    let body: Buffer = Buffer.alloc(0);
    let oversizedBodyBytes: number | undefined;
    try {
      body = await readBody(request);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) {
        response.destroy();
        return;
      }
      oversizedBodyBytes = error.bytes;
    }
    const method = request.method ?? 'GET';
    const { path } = splitTarget(request.url ?? '/');
    const lowerHeaders: Record<string, string | undefined> = {};
    for (const [name, values] of Object.entries(request.headersDistinct)) lowerHeaders[name] = values?.[values.length - 1];
    const partner = options.isPartnerRequest(method, path, lowerHeaders);
    if (oversizedBodyBytes !== undefined && !partner) {
      // Operator bodies are small JSON documents; the partner API logs its own 413.
      send(response, problemResult(problemOf('payload-too-large', `Requests are limited to ${MAX_REQUEST_BYTES} bytes.`)));
      return;
    }
    const event = toProxyEvent(request, body, {
      resources: partner ? PARTNER_API_RESOURCES : OPERATOR_API_RESOURCES,
      ...(oversizedBodyBytes !== undefined ? { oversizedBodyBytes } : {}),
    });
    send(response, await (partner ? options.partnerHandler : options.operatorHandler)(event));
  };

  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (request, response) => {
    serve(request, response).catch((error: unknown) => {
      options.onError?.(error);
      if (response.headersSent || response.destroyed) {
        response.destroy();
        return;
      }
      try {
        send(response, problemResult(problemOf('internal', 'The gateway failed to handle this request; it keeps serving.')));
      } catch {
        response.destroy();
      }
    });
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    try {
      answerClientError(error, socket);
    } catch {
      socket.destroy();
    }
  });
  // A socket error after the parser (a client resetting mid-answer) is the client's
  // problem, never the process's.
  server.on('connection', (socket: Socket) => socket.on('error', () => undefined));
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
