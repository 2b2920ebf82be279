import { timingSafeEqual } from 'node:crypto';
import { flushMetrics, type Runtime } from '../adapters/runtime';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ProblemError } from '../core/problems';
import { errorResponse, fail, jsonResponse, type HttpHandler, type HttpRequest } from './http';
import { connectionRoutes } from './resources/connections';
import { failedEventRoutes } from './resources/failed-events';
import { flowRoutes } from './resources/flows';
import { partnerMessageRoutes } from './resources/partner-messages';
import { partnerRoutes } from './resources/partners';
import { Router, type Route } from './router';

/** Renders every failure as problem+json and logs the unexpected ones. */
function withProblems(runtime: Runtime, router: Router): HttpHandler {
  return async (request) => {
    let response;
    try {
      response = await router.handle(request);
    } catch (error) {
      if (!(error instanceof ProblemError) || error.code === 'internal') {
        runtime.logger.error('request failed', { requestId: request.requestId, path: request.path, error: error as Error });
      }
      response = errorResponse(error, request.requestId);
    }
    runtime.metrics.addMetric(`Responses${Math.floor(response.statusCode / 100)}xx`, MetricUnit.Count, 1);
    flushMetrics(runtime);
    return response;
  };
}

const healthRoute: Route = { method: 'GET', path: '/health', handler: async () => jsonResponse(200, { status: 'ok' }) };

/** The partner API: posting messages and reading their status. */
export function createPartnerApi(runtime: Runtime): HttpHandler {
  return withProblems(runtime, new Router([healthRoute, ...partnerMessageRoutes(runtime)]));
}

/** The partner routes' shapes only (handlers unused): local mode tells the two APIs apart with it. */
const partnerRouteShapes = new Router(partnerMessageRoutes({} as Runtime));

export function partnerRouteMatches(request: HttpRequest): boolean {
  return partnerRouteShapes.match(request.method, request.path) !== undefined;
}

export interface OperatorApiOptions {
  /**
   * Local mode's bearer token. On AWS it is unset: API Gateway has already
   * authorized the IAM caller before the request reaches the handler.
   */
  operatorToken?: string;
}

export function operatorTokenMatches(request: HttpRequest, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match) return false;
  const presented = Buffer.from(match[1]!);
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/** The operator API: partners, connections, flows, messages and failed events. */
export function createOperatorApi(runtime: Runtime, options: OperatorApiOptions = {}): HttpHandler {
  const router = new Router([
    ...partnerRoutes(runtime),
    ...connectionRoutes(runtime),
    ...flowRoutes(runtime),
    ...failedEventRoutes(runtime),
  ]);
  const handle = withProblems(runtime, router);
  return async (request) => {
    if (request.method === 'GET' && request.path === '/health') return jsonResponse(200, { status: 'ok' });
    if (options.operatorToken !== undefined && !operatorTokenMatches(request, options.operatorToken)) {
      return errorResponse(new ProblemError('unauthenticated', 'Operator routes need Authorization: Bearer <operatorToken>.'), request.requestId);
    }
    return handle({ ...request, principal: request.principal ?? (options.operatorToken ? 'local-operator' : undefined) });
  };
}
