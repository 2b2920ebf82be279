import { ProblemError, problemOf, type Problem, type ProblemCode } from '../core/problems';

/** A transport-neutral HTTP request: API Gateway events and the local server both map to it. */
export interface HttpRequest {
  method: string;
  /** Path without stage or query, e.g. `/v1/flows/f1/messages`. */
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  body: Buffer;
  requestId: string;
  /** Who is calling the operator API: the IAM principal on AWS, `operator` locally. */
  principal?: string;
  sourceIp?: string;
  /**
   * Lower-cased names of headers the client sent more than once. `headers` holds one
   * value per name (the last, as API Gateway does), so handlers that need exactly one
   * value (the GUID, the API key) refuse these instead of guessing.
   */
  repeatedHeaders?: string[];
  /**
   * Set when the transport refused to pass on a body this large (the local server,
   * over API Gateway's 10 MB request limit): the partner API still authenticates the
   * caller and logs the rejection to the flow, then answers 413.
   */
  oversizedBodyBytes?: number;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export type HttpHandler = (request: HttpRequest) => Promise<HttpResponse>;

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** `204 No Content`: a deletion that succeeded. */
export function noContent(): HttpResponse {
  return { statusCode: 204, headers: {}, body: '' };
}

export function problemResponse(problem: Problem, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode: problem.status,
    headers: { ...headers, 'content-type': 'application/problem+json' },
    body: JSON.stringify(problem),
  };
}

export function errorResponse(error: unknown, requestId: string): HttpResponse {
  if (error instanceof ProblemError) return problemResponse(error.toProblem(), error.responseHeaders);
  return problemResponse(problemOf('internal', `Internal error; quote request id ${requestId} to the operator.`, { requestId }));
}

export function fail(code: ProblemCode, detail: string, extensions?: Record<string, unknown>): never {
  throw new ProblemError(code, detail, extensions);
}

/** Operator bodies are small JSON documents; anything larger is refused before parsing. */
export const MAX_OPERATOR_BODY_BYTES = 64 * 1024;

/** Parses a JSON operator body; anything unparsable is `invalid-body`. */
export function parseJsonBody(request: HttpRequest): unknown {
  if (request.body.length === 0) fail('invalid-body', 'Request body is empty; a JSON object is expected.');
  if (request.body.length > MAX_OPERATOR_BODY_BYTES) {
    fail('payload-too-large', `Operator request bodies are limited to ${MAX_OPERATOR_BODY_BYTES} bytes.`);
  }
  try {
    return JSON.parse(request.body.toString('utf8'));
  } catch (error) {
    return fail('invalid-body', `Request body is not valid JSON: ${(error as Error).message}`);
  }
}
