/**
 * Serves the console (assets and payload transfer) for any host: local mode's API
 * server and `sluice console`. Transport-neutral: adapters turn their requests into
 * `ConsoleRequest` and send back `ConsoleResponse`.
 *
 * Payloads travel through this server, not from the browser to S3: the server asks the
 * gateway for the presigned URL of one failed event (with the caller's own credentials)
 * and moves the bytes itself. The bucket needs no CORS rule for whatever origin the
 * console runs on, and the server never fetches a URL that the gateway did not answer
 * for that event, so it is no open proxy.
 */
import { createHash } from 'node:crypto';
import { problemFrom } from '../cli/client';
import { uploadTo } from '../cli/commands/failed';
import { consoleAssets } from './build';

export const CONSOLE_BASE_PATH = '/console';

export interface ConsoleRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export interface ConsoleResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface OperatorAnswer {
  status: number;
  contentType: string;
  text: string;
}

/**
 * Calls the gateway's operator API. `authorization` is the browser's own header: local
 * mode forwards it (the operator token), `sluice console` ignores it and signs itself.
 */
export type OperatorCall = (method: string, path: string, options: { authorization?: string; body?: string }) => Promise<OperatorAnswer>;

export interface ConsoleHandlerOptions {
  operator: OperatorCall;
  /** Fetches presigned URLs. @default global fetch */
  fetch?: typeof fetch;
}

// The app talks only to its own origin; nothing may frame it.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function json(status: number, value: unknown, contentType = 'application/json'): ConsoleResponse {
  return { status, headers: { 'content-type': contentType, 'cache-control': 'no-store' }, body: Buffer.from(JSON.stringify(value)) };
}

export function consoleProblem(status: number, code: string, title: string, detail: string): ConsoleResponse {
  return json(status, { type: 'about:blank', title, status, detail, code }, 'application/problem+json');
}

/** 405 with the `Allow` header RFC 9110 requires. */
export function methodNotAllowed(allowed: readonly string[], detail: string): ConsoleResponse {
  const problem = consoleProblem(405, 'method-not-allowed', 'Method not allowed', detail);
  return { ...problem, headers: { ...problem.headers, allow: allowed.join(', ') } };
}

/** The gateway's own answer, passed on unchanged (a problem stays the problem it was). */
function passOn(answer: OperatorAnswer): ConsoleResponse {
  return {
    status: answer.status,
    headers: { 'content-type': answer.contentType || 'application/json', 'cache-control': 'no-store' },
    body: Buffer.from(answer.text),
  };
}

function parse<T>(answer: OperatorAnswer): T {
  return JSON.parse(answer.text) as T;
}

const PAYLOAD_ROUTE = /^\/console\/payloads\/([^/]+)\/(download|upload)$/;

/** Handles `/console` and everything under it; `undefined` for any other path. */
export function createConsoleHandler(options: ConsoleHandlerOptions) {
  const fetchUrl = options.fetch ?? fetch;

  async function download(id: string, authorization: string | undefined): Promise<ConsoleResponse> {
    const issued = await options.operator('POST', `/v1/failed-events/${encodeURIComponent(id)}/download-url`, {
      ...(authorization ? { authorization } : {}),
    });
    if (issued.status !== 200) return passOn(issued);
    const { url } = parse<{ url: string }>(issued);
    const response = await fetchUrl(url, { method: 'GET', redirect: 'error' });
    const bytes = Buffer.from(await response.arrayBuffer());
    if (!response.ok) {
      const problem = problemFrom(response.status, bytes.toString('utf8'), response.headers.get('content-type') ?? '');
      return consoleProblem(502, 'download-failed', 'Download failed', `The payload store answered ${response.status}: ${problem.detail}`);
    }
    return {
      status: 200,
      headers: {
        'content-type': response.headers.get('content-type') ?? 'application/octet-stream',
        'content-disposition': 'attachment',
        'cache-control': 'no-store',
      },
      body: bytes,
    };
  }

  async function upload(id: string, request: ConsoleRequest): Promise<ConsoleResponse> {
    if (request.body.length === 0)
      return consoleProblem(400, 'empty-payload', 'Empty file', 'The corrected file is empty; nothing was uploaded.');
    const authorization = request.headers.authorization;
    const issued = await options.operator('POST', `/v1/failed-events/${encodeURIComponent(id)}/upload-url`, {
      ...(authorization ? { authorization } : {}),
    });
    if (issued.status !== 200) return passOn(issued);
    const target = parse<Parameters<typeof uploadTo>[0]>(issued);
    if (target.maxBytes !== undefined && request.body.length > target.maxBytes) {
      return consoleProblem(
        413,
        'payload-too-large',
        'File too large',
        `The file is ${request.body.length} bytes; this failed event accepts at most ${target.maxBytes} bytes. Nothing was uploaded.`,
      );
    }
    const fileName = (request.headers['x-file-name'] ?? 'payload').replace(/[^\w.-]/g, '_').slice(0, 100) || 'payload';
    try {
      await uploadTo(target, request.body, fileName);
    } catch (error) {
      return consoleProblem(502, 'upload-failed', 'Upload failed', (error as Error).message);
    }
    return json(200, { id, bytes: request.body.length, sha256: createHash('sha256').update(request.body).digest('hex') });
  }

  return async function handle(request: ConsoleRequest): Promise<ConsoleResponse | undefined> {
    const { path, method } = request;
    if (path !== CONSOLE_BASE_PATH && !path.startsWith(`${CONSOLE_BASE_PATH}/`)) return undefined;
    const payload = PAYLOAD_ROUTE.exec(path);
    if (payload) {
      let id: string;
      try {
        id = decodeURIComponent(payload[1]!);
      } catch {
        return consoleProblem(400, 'invalid-path', 'Invalid path', 'The failed event id in the path cannot be decoded.');
      }
      const action = payload[2]!;
      const expected = action === 'download' ? 'POST' : 'PUT';
      if (method !== expected) return methodNotAllowed([expected], `Use ${expected} for ${action}.`);
      try {
        return action === 'download' ? await download(id, request.headers.authorization) : await upload(id, request);
      } catch (error) {
        return consoleProblem(502, 'transfer-failed', 'Payload transfer failed', (error as Error).message);
      }
    }
    if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(['GET', 'HEAD'], 'The console serves GET only.');
    const name = path === CONSOLE_BASE_PATH || path === `${CONSOLE_BASE_PATH}/` ? 'index.html' : path.slice(CONSOLE_BASE_PATH.length + 1);
    const asset = (await consoleAssets()).get(name);
    if (!asset) return consoleProblem(404, 'not-found', 'Not found', `The console has no ${path}.`);
    return {
      status: 200,
      headers: { 'content-type': asset.contentType, 'cache-control': 'no-cache', ...SECURITY_HEADERS },
      body: method === 'HEAD' ? Buffer.alloc(0) : asset.body,
    };
  };
}

export type ConsoleHandler = ReturnType<typeof createConsoleHandler>;
