import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { HttpHandler, HttpRequest, HttpResponse } from '../../api/http';

/** API Gateway REST (payload 1.0) proxy event → transport-neutral request. */
export function fromApiGatewayEvent(event: APIGatewayProxyEvent): HttpRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  const body = event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  const identity = event.requestContext?.identity;
  return {
    method: event.httpMethod.toUpperCase(),
    path: event.path,
    headers,
    query,
    body,
    requestId: event.requestContext?.requestId ?? 'unknown',
    ...(identity?.userArn ? { principal: identity.userArn } : {}),
    ...(identity?.sourceIp ? { sourceIp: identity.sourceIp } : {}),
  };
}

export function toApiGatewayResult(response: HttpResponse): APIGatewayProxyResult {
  return { statusCode: response.statusCode, headers: response.headers, body: response.body, isBase64Encoded: false };
}

export type ApiGatewayHandler = (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult>;

export function apiGatewayHandler(handle: HttpHandler): ApiGatewayHandler {
  return async (event) => toApiGatewayResult(await handle(fromApiGatewayEvent(event)));
}
