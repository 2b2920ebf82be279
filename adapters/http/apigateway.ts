import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
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
 * The path the routers see: the event's `resource` template with its path parameters
 * filled in. Unlike `event.path`, it carries no custom-domain base path (`/sluice/v1/…`
 * on a mapped domain) and no stage. A `{name+}` greedy parameter is inserted as is;
 * the router decodes each parameter once (identifiers never contain `%` or `/`, so an
 * already-decoded value routes the same). Without a usable resource, `event.path`.
 */
export function routePath(event: Pick<APIGatewayProxyEvent, 'resource' | 'path' | 'pathParameters'>): string {
  const resource = event.resource;
  if (!resource || !resource.startsWith('/')) return event.path;
  const parameters = event.pathParameters ?? {};
  let complete = true;
  const path = resource.replace(/\{(\w+)\+?\}/g, (_, name: string) => {
    const value = parameters[name];
    if (value === undefined || value === null) complete = false;
    return value ?? '';
  });
  return complete ? path : event.path;
}

/**
 * Headers, one value per lower-cased name (the last, as API Gateway's `headers` does),
 * and the names that came with more than one value.
 */
function readHeaders(event: APIGatewayProxyEvent): { headers: Record<string, string>; repeated: string[] } {
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

/** API Gateway REST (payload 1.0) proxy event → transport-neutral request. */
export function fromApiGatewayEvent(event: APIGatewayProxyEvent): HttpRequest {
  const { headers, repeated } = readHeaders(event);
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  const body = event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  const identity = event.requestContext?.identity;
  const oversized = (event.requestContext as LocalRequestContext | undefined)?.sluiceLocal?.oversizedBodyBytes;
  return {
    method: event.httpMethod.toUpperCase(),
    path: routePath(event),
    headers,
    query,
    body,
    requestId: event.requestContext?.requestId ?? 'unknown',
    ...(identity?.userArn ? { principal: identity.userArn } : {}),
    ...(identity?.sourceIp ? { sourceIp: identity.sourceIp } : {}),
    ...(repeated.length > 0 ? { repeatedHeaders: repeated } : {}),
    ...(oversized !== undefined ? { oversizedBodyBytes: oversized } : {}),
  };
}

export function toApiGatewayResult(response: HttpResponse): APIGatewayProxyResult {
  return { statusCode: response.statusCode, headers: response.headers, body: response.body, isBase64Encoded: false };
}

export type ApiGatewayHandler = (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult>;

/** The API's own answer in every case: an event it cannot read is a 500 problem, not a Lambda error. */
export function apiGatewayHandler(handle: HttpHandler): ApiGatewayHandler {
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
