import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { ApiGatewayHandler } from '../adapters/http/apigateway';
import { createConsoleHandler, CONSOLE_BASE_PATH, type OperatorCall } from '../console/server';

/** Calls the local operator API over HTTP with the browser's own Authorization header. */
function localOperator(apiUrl: () => string): OperatorCall {
  return async (method, path, { authorization, body }) => {
    const headers: Record<string, string> = {};
    if (authorization) headers.authorization = authorization;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${apiUrl()}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text() };
  };
}

/**
 * Local mode's operator handler with the console in front of it: `/console/**` is the
 * console, everything else goes to `next`. `apiUrl` is read per request because the
 * server's port is known only once it listens.
 */
export function withConsole(next: ApiGatewayHandler, apiUrl: () => string): ApiGatewayHandler {
  const handle = createConsoleHandler({ operator: localOperator(apiUrl) });
  return async (event: APIGatewayProxyEvent, context) => {
    if (event.path !== CONSOLE_BASE_PATH && !event.path.startsWith(`${CONSOLE_BASE_PATH}/`)) return next(event, context);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) headers[name.toLowerCase()] = value;
    const body = event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
    const response = (await handle({ method: event.httpMethod.toUpperCase(), path: event.path, headers, body }))!;
    const result: APIGatewayProxyResult = {
      statusCode: response.status,
      headers: response.headers,
      body: response.body.toString('base64'),
      isBase64Encoded: true,
    };
    return result;
  };
}

/** The address local mode prints: the operator token rides in the fragment, which browsers never send. */
export function consoleUrl(apiUrl: string, operatorToken: string): string {
  return `${apiUrl}${CONSOLE_BASE_PATH}#token=${encodeURIComponent(operatorToken)}`;
}
