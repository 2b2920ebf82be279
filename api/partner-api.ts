import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { flushMetrics, type Runtime } from '../adapters/runtime';
import { ProblemError } from '../core/problems';
import { errorResponse, jsonResponse, type HttpHandler } from './http';
import { partnerBatchRoutes } from './resources/partner-batches';
import { partnerMessageRoutes } from './resources/partner-messages';
import { Router, type DocumentedRoute } from './router';

/** Renders every failure as problem+json and logs the unexpected ones. */
export function withProblems(runtime: Runtime, router: Router): HttpHandler {
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
    try {
      runtime.metrics.addMetric(`Responses${Math.floor(response.statusCode / 100)}xx`, MetricUnit.Count, 1);
      flushMetrics(runtime);
    } catch (error) {
      // Metrics are never worth a failed answer.
      runtime.logger.warn('metrics not published', { error: error as Error });
    }
    return response;
  };
}

export const healthRoute: DocumentedRoute = {
  method: 'GET',
  path: '/health',
  handler: async () => jsonResponse(200, { status: 'ok' }),
  doc: {
    operationId: 'health',
    summary: 'Health check',
    description: 'No authentication and no data.',
    public: true,
    responses: { 200: { description: 'The API answers.', schema: 'Health' } },
    errors: [],
  },
};

/**
 * The partner routes (besides health): local mode tells the two APIs apart with their
 * shapes, and the OpenAPI document is generated from them (health is documented once, as
 * the operator API's).
 */
export function partnerApiRoutes(runtime: Runtime): DocumentedRoute[] {
  return [...partnerMessageRoutes(runtime), ...partnerBatchRoutes(runtime)];
}

/** The partner API: posting messages (one or a batch) and reading their status. */
export function createPartnerApi(runtime: Runtime): HttpHandler {
  return withProblems(runtime, new Router([healthRoute, ...partnerApiRoutes(runtime)]));
}
