import type { StoredConnection } from '../../adapters/aws/connection-store';
import type { Runtime } from '../../adapters/runtime';
import { assertAllowedUrl, UnsafeTargetError } from '../../core/target-url';
import { RESOURCE_ID_PATTERN } from '../../core/identifiers';
import { PutConnectionBody } from '../schemas';
import { fail, jsonResponse, type HttpRequest, type HttpResponse } from '../http';
import type { Route } from '../router';
import { validateBody } from '../validation';

/** What operators see of a connection: never a credential or signing secret. */
export function connectionView(connection: StoredConnection, flows: string[]) {
  const { sealedSecrets: _sealed, authType, signed, ...rest } = connection;
  return { ...rest, auth: { type: authType }, signingSecret: signed ? 'set' : undefined, flows };
}

async function flowsUsing(runtime: Runtime, connectionId: string): Promise<string[]> {
  const flows = await runtime.flows.list();
  return flows.filter((flow) => flow.destinations.includes(connectionId)).map((flow) => flow.flowId);
}

export function checkResourceId(kind: string, id: string): void {
  if (!RESOURCE_ID_PATTERN.test(id)) fail('invalid-body', `${kind} id must be 1-64 characters from A-Z a-z 0-9 . _ -`);
}

async function putConnection(runtime: Runtime, request: HttpRequest, connectionId: string): Promise<HttpResponse> {
  checkResourceId('Connection', connectionId);
  const body = validateBody(PutConnectionBody, request);
  try {
    assertAllowedUrl(body.url, { localMode: runtime.config.localMode, allowPrivateTargets: runtime.config.allowPrivateTargets });
  } catch (error) {
    if (error instanceof UnsafeTargetError) fail('invalid-body', `Invalid body: url: ${error.message}`, { errors: [{ field: 'url', message: error.message }] });
    throw error;
  }
  const stored = await runtime.connections.put(connectionId, body, runtime.clock.now());
  runtime.logger.info('connection saved', { connectionId, by: request.principal });
  return jsonResponse(200, connectionView(stored, await flowsUsing(runtime, connectionId)));
}

async function getConnection(runtime: Runtime, connectionId: string): Promise<HttpResponse> {
  const stored = await runtime.connections.get(connectionId);
  if (!stored) fail('not-found', `Connection ${connectionId} does not exist.`);
  return jsonResponse(200, connectionView(stored, await flowsUsing(runtime, connectionId)));
}

async function listConnections(runtime: Runtime): Promise<HttpResponse> {
  const [connections, flows] = await Promise.all([runtime.connections.list(), runtime.flows.list()]);
  return jsonResponse(200, {
    items: connections.map((connection) =>
      connectionView(
        connection,
        flows.filter((flow) => flow.destinations.includes(connection.connectionId)).map((flow) => flow.flowId),
      ),
    ),
  });
}

export function connectionRoutes(runtime: Runtime): Route[] {
  return [
    { method: 'PUT', path: '/v1/connections/{connectionId}', handler: (req, p) => putConnection(runtime, req, p.connectionId!) },
    { method: 'GET', path: '/v1/connections', handler: () => listConnections(runtime) },
    { method: 'GET', path: '/v1/connections/{connectionId}', handler: (_req, p) => getConnection(runtime, p.connectionId!) },
  ];
}
