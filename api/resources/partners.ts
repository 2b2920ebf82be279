import { PartnerExistsError, UnknownPartnerError } from '../../adapters/aws/partner-store';
import type { Runtime } from '../../adapters/runtime';
import { CreatePartnerBody } from '../schemas';
import { fail, jsonResponse, noContent, type HttpRequest, type HttpResponse } from '../http';
import type { Route } from '../router';
import { validateBody } from '../validation';

async function createPartner(runtime: Runtime, request: HttpRequest): Promise<HttpResponse> {
  const body = validateBody(CreatePartnerBody, request);
  try {
    const apiKey = await runtime.partners.create({ ...body, createdAt: runtime.clock.now().toISOString() });
    runtime.logger.info('partner created', { partnerId: body.partnerId, by: request.principal });
    return jsonResponse(201, { partnerId: body.partnerId, name: body.name, apiKey });
  } catch (error) {
    if (error instanceof PartnerExistsError) fail('conflict', `Partner ${body.partnerId} already exists; rotate its key instead.`);
    throw error;
  }
}

async function rotateKey(runtime: Runtime, request: HttpRequest, partnerId: string): Promise<HttpResponse> {
  try {
    const apiKey = await runtime.partners.rotateKey(partnerId);
    runtime.logger.info('partner key rotated', { partnerId, by: request.principal });
    return jsonResponse(201, { apiKey });
  } catch (error) {
    if (error instanceof UnknownPartnerError) fail('not-found', `Partner ${partnerId} does not exist.`);
    throw error;
  }
}

/** SPEC: 204, or 409 `conflict` while a flow uses the partner. */
async function deletePartner(runtime: Runtime, request: HttpRequest, partnerId: string): Promise<HttpResponse> {
  if (!(await runtime.partners.get(partnerId))) fail('not-found', `Partner ${partnerId} does not exist.`);
  const flows = (await runtime.flows.list()).filter((flow) => flow.partnerId === partnerId).map((flow) => flow.flowId);
  if (flows.length > 0)
    fail('conflict', `Partner ${partnerId} is used by flow ${flows.join(', ')}; delete or rewire those flows first.`, { flows });
  await runtime.partners.delete(partnerId);
  runtime.logger.info('partner deleted', { partnerId, by: request.principal });
  return noContent();
}

export function partnerRoutes(runtime: Runtime): Route[] {
  return [
    { method: 'DELETE', path: '/v1/partners/{partnerId}', handler: (req, p) => deletePartner(runtime, req, p.partnerId!) },
    { method: 'POST', path: '/v1/partners', handler: (req) => createPartner(runtime, req) },
    { method: 'GET', path: '/v1/partners', handler: async () => jsonResponse(200, { items: await runtime.partners.list() }) },
    { method: 'POST', path: '/v1/partners/{partnerId}/keys', handler: (req, p) => rotateKey(runtime, req, p.partnerId!) },
  ];
}
