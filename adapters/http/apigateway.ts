import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { HttpHandler, HttpRequest, HttpResponse } from '../../api/http';
import { problemOf } from '../../core/problems';

/**
 * Local-only extension of `requestContext`: the local server sets it, API Gateway
 * never does, and clients cannot reach it (it is not a header).
 */
export interface LocalRequestContext {
  sluiceLocal?: { oversizedBodyBytes?: number };
}

/**
 * What API Gateway hands a Lambda proxy integration: payload format 1.0 (REST APIs, and
 * HTTP APIs set to 1.0) or 2.0 (HTTP APIs, the partner API's default).
 */
export type ApiGatewayEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2;

/** Payload format 2.0 carries `version: "2.0"`; 1.0 carries `version: "1.0"` on HTTP APIs and nothing on REST APIs. */
export function isPayloadV2(event: ApiGatewayEvent): event is APIGatewayProxyEventV2 {
  return (event as { version?: unknown }).version === '2.0';
}

/**
 * Fills a route template (`/v1/flows/{flowId}/messages`, `/v1/{proxy+}`) with its path
 * parameters, or `undefined` when one is missing. A `{name+}` greedy parameter is
 * inserted as is; the router decodes each parameter once (identifiers never contain
 * `%` or `/`, so an already-decoded value routes the same).
 */
function fillTemplate(template: string, parameters: Record<string, string | undefined> | null | undefined): string | undefined {
  let complete = true;
  const path = template.replace(/\{(\w+)\+?\}/g, (_, name: string) => {
    const value = parameters?.[name];
    if (value === undefined || value === null) complete = false;
    return value ?? '';
  });
  return complete ? path : undefined;
}

/**
 * The path the routers see: the event's `resource` template with its path parameters
 * filled in. Unlike `event.path`, it carries no custom-domain base path (`/sluice/v1/…`
 * on a mapped domain) and no stage. Without a usable resource, `event.path`.
 */
export function routePath(event: Pick<APIGatewayProxyEvent, 'resource' | 'path' | 'pathParameters'>): string {
  const resource = event.resource;
  if (!resource?.startsWith('/')) return event.path;
  return fillTemplate(resource, event.pathParameters) ?? event.path;
}

/**
 * Payload 2.0: the route key's template (`POST /v1/flows/{flowId}/messages`) with its
 * path parameters. `$default` (or an incomplete template) falls back to `rawPath`, which
 * AWS documents as free of the custom-domain API mapping.
 */
export function routePathV2(event: Pick<APIGatewayProxyEventV2, 'routeKey' | 'rawPath' | 'pathParameters'>): string {
  const template = /^\S+\s+(\/\S*)$/.exec(event.routeKey ?? '')?.[1];
  return (template && fillTemplate(template, event.pathParameters)) || event.rawPath || '/';
}

/**
 * Headers whose values, in every form Sluice accepts, contain no comma outside a quoted
 * string. Payload 2.0 joins a repeated header's values with commas, so for these a comma
 * can only mean the client sent the header more than once; handlers refuse that
 * (`invalid-header`) exactly as they do for 1.0's multi-value lists. Other headers
 * (`x-correlation-id`, `accept`…) may hold commas of their own and are passed on joined.
 */
const COMMA_FREE_HEADERS = new Set([
  'x-aux-system-msg-id',
  'idempotency-key',
  'x-chain-id',
  'x-expires-at',
  'x-api-key',
  'authorization',
  'content-type',
]);

/** Splits on commas outside double-quoted strings (RFC 9110 list syntax). */
function splitList(value: string): string[] {
  return value.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g)?.map((part) => part.trim()) ?? [value];
}

interface ReadHeaders {
  headers: Record<string, string>;
  repeated: string[];
}

/**
 * Payload 1.0: one value per lower-cased name (the last, as API Gateway's `headers`
 * does), and the names that came with more than one value.
 */
function readHeadersV1(event: APIGatewayProxyEvent): ReadHeaders {
  const values = new Map<string, string[]>();
  const add = (name: string, value: string | undefined) => {
    if (value === undefined || value === null) return;
    const key = name.toLowerCase();
    const list = values.get(key) ?? [];
    if (!list.includes(value)) list.push(value);
    values.set(key, list);
  };
  const multi = event.multiValueHeaders ?? {};
  for (const [name, list] of Object.entries(multi)) for (const value of list ?? []) add(name, value);
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    // The single-value map repeats the last multi-value entry; only count what is new.
    if (!multi[name]) add(name, value);
  }
  const headers: Record<string, string> = {};
  const repeated: string[] = [];
  for (const [name, list] of values) {
    headers[name] = list[list.length - 1]!;
    if (list.length > 1) repeated.push(name);
  }
  return { headers, repeated };
}

/**
 * Payload 2.0: names are lower-cased here too (AWS sends them lower-cased, tests and
 * proxies may not); repeated headers arrive comma-joined, cookies in their own list.
 */
function readHeadersV2(event: APIGatewayProxyEventV2): ReadHeaders {
  const headers: Record<string, string> = {};
  const repeated = new Set<string>();
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value === undefined || value === null) continue;
    const key = name.toLowerCase();
    // Two spellings of one name in a hand-made event count as a repeat, as in 1.0.
    if (key in headers && headers[key] !== value) repeated.add(key);
    headers[key] = value;
    if (COMMA_FREE_HEADERS.has(key)) {
      // One value sent twice is not ambiguous (as in 1.0): keep it once.
      const parts = new Set(splitList(value));
      if (parts.size > 1) repeated.add(key);
      else if (parts.size === 1) headers[key] = [...parts][0]!;
    }
  }
  if (event.cookies && event.cookies.length > 0) headers.cookie = event.cookies.join('; ');
  return { headers, repeated: [...repeated] };
}

/** Payload 2.0 comma-joins repeated query parameters: read the raw string, last value wins as in 1.0. */
function readQueryV2(event: APIGatewayProxyEventV2): Record<string, string> {
  const query: Record<string, string> = {};
  if (event.rawQueryString !== undefined) {
    for (const [name, value] of new URLSearchParams(event.rawQueryString)) query[name] = value;
    return query;
  }
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) if (value !== undefined) query[name] = value;
  return query;
}

function readBody(body: string | null | undefined, isBase64Encoded: boolean | undefined): Buffer {
  return body ? Buffer.from(body, isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
}

/** API Gateway REST (payload 1.0) proxy event → transport-neutral request. */
function fromPayloadV1(event: APIGatewayProxyEvent): HttpRequest {
  const { headers, repeated } = readHeadersV1(event);
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  const identity = event.requestContext?.identity;
  const oversized = (event.requestContext as LocalRequestContext | undefined)?.sluiceLocal?.oversizedBodyBytes;
  return {
    method: event.httpMethod.toUpperCase(),
    path: routePath(event),
    headers,
    query,
    body: readBody(event.body, event.isBase64Encoded),
    requestId: event.requestContext?.requestId ?? 'unknown',
    ...(identity?.userArn ? { principal: identity.userArn } : {}),
    ...(identity?.sourceIp ? { sourceIp: identity.sourceIp } : {}),
    ...(repeated.length > 0 ? { repeatedHeaders: repeated } : {}),
    ...(oversized !== undefined ? { oversizedBodyBytes: oversized } : {}),
  };
}

/** API Gateway HTTP API (payload 2.0) event → transport-neutral request. */
function fromPayloadV2(event: APIGatewayProxyEventV2): HttpRequest {
  const { headers, repeated } = readHeadersV2(event);
  const context = event.requestContext;
  const userArn = (context as { authorizer?: { iam?: { userArn?: string } } }).authorizer?.iam?.userArn;
  return {
    method: context.http.method.toUpperCase(),
    path: routePathV2(event),
    headers,
    query: readQueryV2(event),
    body: readBody(event.body, event.isBase64Encoded),
    requestId: context.requestId ?? 'unknown',
    ...(userArn ? { principal: userArn } : {}),
    ...(context.http.sourceIp ? { sourceIp: context.http.sourceIp } : {}),
    ...(repeated.length > 0 ? { repeatedHeaders: repeated } : {}),
  };
}

/** An API Gateway proxy event of either payload format → transport-neutral request. */
export function fromApiGatewayEvent(event: ApiGatewayEvent): HttpRequest {
  return isPayloadV2(event) ? fromPayloadV2(event) : fromPayloadV1(event);
}

/** One result shape for both formats: 2.0 reads `statusCode`, `headers`, `body` and `isBase64Encoded` as 1.0 does. */
export function toApiGatewayResult(response: HttpResponse): APIGatewayProxyResult {
  return { statusCode: response.statusCode, headers: response.headers, body: response.body, isBase64Encoded: false };
}

/**
 * A Lambda handler for API Gateway proxy events. The default (1.0) is what local mode
 * builds; `apiGatewayHandler` returns one for both formats, which fits either.
 */
export type ApiGatewayHandler<E extends ApiGatewayEvent = APIGatewayProxyEvent> = (
  event: E,
  context?: Context,
) => Promise<APIGatewayProxyResult>;

/** The API's own answer in every case: an event it cannot read is a 500 problem, not a Lambda error. */
export function apiGatewayHandler(handle: HttpHandler): ApiGatewayHandler<ApiGatewayEvent> {
  return async (event) => {
    let request: HttpRequest;
    try {
      request = fromApiGatewayEvent(event);
    } catch {
      const problem = problemOf('internal', 'The request could not be read.');
      return {
        statusCode: problem.status,
        headers: { 'content-type': 'application/problem+json' },
        body: JSON.stringify(problem),
        isBase64Encoded: false,
      };
    }
    return toApiGatewayResult(await handle(request));
  };
}
