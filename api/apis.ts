import { timingSafeEqual } from 'node:crypto';
import type { Runtime } from '../adapters/runtime';
import { ProblemError } from '../core/problems';
import { errorResponse, type HttpHandler, type HttpRequest } from './http';
import { healthRoute, partnerApiRoutes, withProblems } from './partner-api';
import { connectionRoutes } from './resources/connections';
import { failedEventRoutes } from './resources/failed-events';
import { flowMessageRoutes } from './resources/flow-messages';
import { flowRoutes } from './resources/flows';
import { partnerRoutes } from './resources/partners';
import { Router, type DocumentedRoute } from './router';

// The partner API has a module of its own, so the ingest function bundles no operator route.
export { createPartnerApi } from './partner-api';

/**
 * The API Gateway resources of each API, as the stack declares them: the partner API
 * has one resource per route, the operator API a greedy proxy. Local mode builds its
 * events from the same tables, so both modes route on `resource` + path parameters.
 */
export const PARTNER_API_RESOURCES = [
  '/health',
  '/v1/flows/{flowId}/messages',
  '/v1/flows/{flowId}/messages/{messageId}',
  '/v1/flows/{flowId}/batches',
] as const;
export const OPERATOR_API_RESOURCES = ['/health', '/v1/{proxy+}'] as const;

export interface ResourceMatch {
  resource: string;
  /** Raw (still percent-encoded) values; the router decodes them. */
  pathParameters: Record<string, string> | null;
}

/** The resource a raw path falls under, as API Gateway would pick it; unknown paths fall under `/{proxy+}`. */
export function matchResource(resources: readonly string[], rawPath: string): ResourceMatch {
  const segments = rawPath.split('/').slice(1);
  for (const resource of resources) {
    const template = resource.split('/').slice(1);
    const parameters: Record<string, string> = {};
    let matched = true;
    for (let i = 0; i < template.length; i++) {
      const part = template[i]!;
      const greedy = /^\{(\w+)\+\}$/.exec(part);
      if (greedy) {
        const rest = segments.slice(i).join('/');
        if (rest === '') matched = false;
        else parameters[greedy[1]!] = rest;
        break;
      }
      const segment = segments[i];
      if (segment === undefined || segment === '') {
        matched = false;
        break;
      }
      const name = /^\{(\w+)\}$/.exec(part);
      if (name) parameters[name[1]!] = segment;
      else if (segment !== part) {
        matched = false;
        break;
      }
      if (i === template.length - 1 && segments.length !== template.length) matched = false;
    }
    if (matched) return { resource, pathParameters: Object.keys(parameters).length > 0 ? parameters : null };
  }
  return { resource: '/{proxy+}', pathParameters: { proxy: rawPath.replace(/^\//, '') } };
}

/** The routes' shapes only (handlers unused): local mode tells the two APIs apart with them. */
const partnerRouteShapes = new Router(partnerApiRoutes({} as Runtime));
const operatorRouteShapes = new Router(operatorRoutes({} as Runtime));

/**
 * Local mode serves both APIs on one port. A partner route is the partner API's, except
 * a path both APIs route (reading a message) called with the operator token. So the
 * operator token posted as a partner key reaches the partner API and is refused there
 * (401, logged to the flow), as on AWS.
 */
export function isPartnerRequest(request: Pick<HttpRequest, 'method' | 'path' | 'headers'>, operatorToken: string): boolean {
  if (!partnerRouteShapes.matches(request.method, request.path)) return false;
  return !(operatorRouteShapes.matches(request.method, request.path) && operatorTokenMatches(request, operatorToken));
}

export interface OperatorApiOptions {
  /**
   * Local mode's bearer token. On AWS it is unset: API Gateway has already
   * authorized the IAM caller before the request reaches the handler.
   */
  operatorToken?: string;
}

export function operatorTokenMatches(request: Pick<HttpRequest, 'headers'>, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match) return false;
  const presented = Buffer.from(match[1]!);
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

function operatorRoutes(runtime: Runtime): DocumentedRoute[] {
  return [
    ...partnerRoutes(runtime),
    ...connectionRoutes(runtime),
    ...flowRoutes(runtime),
    ...flowMessageRoutes(runtime),
    ...failedEventRoutes(runtime),
  ];
}

/** Every route of the operator API, health included: the OpenAPI document is generated from them. */
export function operatorApiRoutes(runtime: Runtime): DocumentedRoute[] {
  return [healthRoute, ...operatorRoutes(runtime)];
}

/** The operator API: partners, connections, flows, messages and failed events. */
export function createOperatorApi(runtime: Runtime, options: OperatorApiOptions = {}): HttpHandler {
  const router = new Router(operatorApiRoutes(runtime));
  const handle = withProblems(runtime, router);
  return async (request) => {
    try {
      // Health needs no credentials, whatever the method (others get 405 from the router).
      if (request.path === '/health') return handle(request);
      if (options.operatorToken !== undefined && !operatorTokenMatches(request, options.operatorToken)) {
        return errorResponse(
          new ProblemError('unauthenticated', 'Operator routes need Authorization: Bearer <operatorToken>.'),
          request.requestId,
        );
      }
    } catch (error) {
      runtime.logger.error('request failed', { requestId: request.requestId, error: error as Error });
      return errorResponse(error, request.requestId);
    }
    return handle({ ...request, principal: request.principal ?? (options.operatorToken ? 'local-operator' : undefined) });
  };
}
