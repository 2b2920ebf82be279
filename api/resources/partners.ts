import * as z from 'zod/mini';
import { PartnerExistsError, UnknownPartnerError } from '../../adapters/aws/partner-store';
import type { Runtime } from '../../adapters/runtime';
import { CreatePartnerBody, ResourceId } from '../schemas';
import { fail, jsonResponse, noContent, type HttpRequest, type HttpResponse } from '../http';
import type { Components, DocumentedRoute } from '../router';
import { validateBody } from '../validation';
import { Timestamp } from '../view-schemas';

/**
 * OpenAPI components: the partner, its key as shown once, and the create body. A function the
 * generator calls once: the operator function never checks its own answers, so its cold start does not
 * build these schemas.
 */
export function partnerComponents(): Components {
  const Partner = z.looseObject({ partnerId: ResourceId, name: z.string(), createdAt: Timestamp });
  const ApiKey = z.string().check(z.meta({ description: 'Shown once: Sluice stores only its hash.' }));

  return {
    requests: { CreatePartnerRequest: CreatePartnerBody },
    responses: {
      Partner,
      PartnerList: z.looseObject({ items: z.array(Partner) }),
      PartnerCreated: z.looseObject({ partnerId: ResourceId, name: z.string(), apiKey: ApiKey }),
      PartnerKey: z.looseObject({ apiKey: ApiKey }),
    },
  };
}

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

export function partnerRoutes(runtime: Runtime): DocumentedRoute[] {
  return [
    {
      method: 'DELETE',
      path: '/v1/partners/{partnerId}',
      handler: (req, p) => deletePartner(runtime, req, p.partnerId!),
      doc: {
        operationId: 'deletePartner',
        summary: 'Delete a partner',
        description: 'Deletes the partner and its API key. Refused (409 `conflict`) while a flow uses the partner.',
        responses: { 204: { description: 'Deleted.' } },
        errors: ['not-found', 'conflict'],
      },
    },
    {
      method: 'POST',
      path: '/v1/partners',
      handler: (req) => createPartner(runtime, req),
      doc: {
        operationId: 'createPartner',
        summary: 'Create a partner',
        description: 'Returns its API key once; Sluice keeps only a hash.',
        body: { schema: 'CreatePartnerRequest', required: true },
        responses: { 201: { description: 'Created; the API key is shown only now.', schema: 'PartnerCreated' } },
        errors: ['invalid-body', 'conflict'],
      },
    },
    {
      method: 'GET',
      path: '/v1/partners',
      handler: async () => jsonResponse(200, { items: await runtime.partners.list() }),
      doc: {
        operationId: 'listPartners',
        summary: 'List partners',
        responses: { 200: { description: 'Every partner (no keys).', schema: 'PartnerList' } },
        errors: [],
      },
    },
    {
      method: 'POST',
      path: '/v1/partners/{partnerId}/keys',
      handler: (req, p) => rotateKey(runtime, req, p.partnerId!),
      doc: {
        operationId: 'rotatePartnerKey',
        summary: "Rotate a partner's API key",
        description: 'The previous key stops working; the new one is shown once.',
        responses: { 201: { description: 'The new API key.', schema: 'PartnerKey' } },
        errors: ['not-found'],
      },
    },
  ];
}
