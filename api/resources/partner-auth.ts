import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Flow } from '../../core/model';
import { ProblemError, type ProblemCode } from '../../core/problems';
import type { Runtime } from '../../adapters/runtime';
import { fail, type HttpRequest } from '../http';

/** The API key a request presents, or why it presents none that can be used. */
export type PresentedKey = { apiKey: string } | { refusal: string };

/**
 * Reads the partner's API key from `Authorization: Bearer` or `x-api-key`. Two
 * different keys (in both headers, or a header sent twice) are ambiguous and refused:
 * which partner is calling must never depend on which header wins.
 */
export function presentedApiKey(request: HttpRequest): PresentedKey {
  const repeated = (request.repeatedHeaders ?? []).filter((name) => name === 'authorization' || name === 'x-api-key');
  if (repeated.length > 0) return { refusal: `The ${repeated.join(' and ')} header was sent more than once; send one API key.` };
  const authorization = request.headers.authorization;
  let bearer: string | undefined;
  if (authorization) {
    bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
    if (!bearer) return { refusal: 'Authorization must be "Bearer <apiKey>".' };
  }
  const headerKey = request.headers['x-api-key'] || undefined;
  if (bearer && headerKey && bearer !== headerKey) {
    return { refusal: 'Authorization and x-api-key carry different keys; send one API key.' };
  }
  const apiKey = bearer ?? headerKey;
  return apiKey ? { apiKey } : { refusal: 'An API key is required: Authorization: Bearer <apiKey> or x-api-key.' };
}

export interface Authenticated {
  partnerId: string;
  flow: Flow;
}

/**
 * Authenticates the caller and resolves the flow it posts to. Every rejection on an
 * existing flow is written to that flow's log before it is raised.
 */
export async function authorizeFlow(runtime: Runtime, request: HttpRequest, flowId: string): Promise<Authenticated> {
  const presented = presentedApiKey(request);
  // One round trip for both: the key and the flow are independent reads.
  const [partnerId, flow] = await Promise.all([
    'apiKey' in presented ? runtime.partners.authenticateCached(presented.apiKey) : Promise.resolve(undefined),
    runtime.flows.getCached(flowId),
  ]);
  const reject = async (code: ProblemCode, detail: string): Promise<never> => {
    if (flow) await logRejection(runtime, flowId, code, detail, request);
    throw new ProblemError(code, detail);
  };
  if ('refusal' in presented) return reject('unauthenticated', presented.refusal);
  if (!partnerId) return reject('unauthenticated', 'The API key is not valid.');
  if (!flow) return fail('unknown-flow', `Flow ${flowId} does not exist.`);
  if (flow.partnerId !== partnerId) return reject('forbidden', `Partner ${partnerId} may not post to flow ${flowId}.`);
  return { partnerId, flow };
}

export async function logRejection(
  runtime: Runtime,
  flowId: string,
  code: ProblemCode,
  detail: string,
  request: HttpRequest,
  messageId?: string,
): Promise<void> {
  await runtime.flows.log(flowId, {
    at: runtime.clock.now().toISOString(),
    level: code === 'internal' ? 'error' : 'warning',
    code,
    detail,
    ...(messageId ? { messageId } : {}),
  });
  runtime.logger.warn('partner request rejected', { flowId, code, requestId: request.requestId });
  runtime.metrics.addMetric('MessagesRejected', MetricUnit.Count, 1);
}
