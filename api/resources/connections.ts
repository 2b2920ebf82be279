import type { StoredConnection } from '../../adapters/aws/connection-store';
import type { Runtime } from '../../adapters/runtime';
import { assertAllowedUrl, UnsafeTargetError } from '../../core/target-url';
import { RESOURCE_ID_PATTERN } from '../../core/identifiers';
import { PutConnectionBody, ReauthorizeBody } from '../schemas';
import { markConnectionDown, markConnectionOnline } from '../../services/connection-health';
import { probeConnection } from '../../services/prober';
import { fail, jsonResponse, noContent, type HttpRequest, type HttpResponse } from '../http';
import type { Route } from '../router';
import { validateBody } from '../validation';

/** What operators see of a connection: never a credential or signing secret. */
export function connectionView(connection: StoredConnection, flows: string[]) {
  const { sealedSecrets: _sealed, authType, signed, ...rest } = connection;
  return { ...rest, auth: { type: authType }, signingSecret: signed ? 'set' : undefined, flows };
}

async function flowsUsing(runtime: Runtime, connectionId: string): Promise<string[]> {
  return (await runtime.flows.listUsing(connectionId)).map((flow) => flow.flowId);
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
  await runtime.flows.setDestinationThreads(connectionId, stored.threads);
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

async function requireConnection(runtime: Runtime, connectionId: string) {
  const stored = await runtime.connections.get(connectionId, true);
  if (!stored) fail('not-found', `Connection ${connectionId} does not exist.`);
  return stored;
}

/** `offline` by hand: traffic holds and nothing probes it until it is set online by hand. */
async function setOffline(runtime: Runtime, request: HttpRequest, connectionId: string): Promise<HttpResponse> {
  await requireConnection(runtime, connectionId);
  await markConnectionDown(runtime, connectionId, 'offline', `set offline by ${request.principal ?? 'operator'}`, { manual: true });
  runtime.logger.info('connection set offline', { connectionId, by: request.principal });
  return getConnection(runtime, connectionId);
}

/** `online` by hand: flows resume and held traffic is released at once. */
async function setOnline(runtime: Runtime, request: HttpRequest, connectionId: string): Promise<HttpResponse> {
  await requireConnection(runtime, connectionId);
  await markConnectionOnline(runtime, connectionId, `set online by ${request.principal ?? 'operator'}`);
  runtime.logger.info('connection set online', { connectionId, by: request.principal });
  return getConnection(runtime, connectionId);
}

async function probeNow(runtime: Runtime, request: HttpRequest, connectionId: string): Promise<HttpResponse> {
  await requireConnection(runtime, connectionId);
  const result = await probeConnection(runtime, connectionId);
  runtime.logger.info('connection probed on request', { connectionId, alive: result.alive, by: request.principal });
  return getConnection(runtime, connectionId);
}

/** New credentials, then a probe at once: on success the connection's flows resume within seconds. */
async function reauthorize(runtime: Runtime, request: HttpRequest, connectionId: string): Promise<HttpResponse> {
  await requireConnection(runtime, connectionId);
  const body = validateBody(ReauthorizeBody, request);
  await runtime.connections.replaceAuth(connectionId, body.auth, runtime.clock.now());
  runtime.logger.info('connection reauthorized', { connectionId, authType: body.auth.type, by: request.principal });
  await probeConnection(runtime, connectionId);
  return getConnection(runtime, connectionId);
}

/** SPEC: 204, or 409 `conflict` while a flow uses the connection. */
async function deleteConnection(runtime: Runtime, request: HttpRequest, connectionId: string): Promise<HttpResponse> {
  await requireConnection(runtime, connectionId);
  const flows = await flowsUsing(runtime, connectionId);
  if (flows.length > 0) {
    fail('conflict', `Connection ${connectionId} is used by flow ${flows.join(', ')}; remove it from those flows first.`, { flows });
  }
  await runtime.connections.delete(connectionId);
  // No probe may run for a connection that no longer exists.
  await runtime.probes.connectionUp(connectionId);
  runtime.logger.info('connection deleted', { connectionId, by: request.principal });
  return noContent();
}

export function connectionRoutes(runtime: Runtime): Route[] {
  const action = (name: string, handler: (runtime: Runtime, request: HttpRequest, id: string) => Promise<HttpResponse>): Route => ({
    method: 'POST',
    path: `/v1/connections/{connectionId}/${name}`,
    handler: (req, p) => handler(runtime, req, p.connectionId!),
  });
  return [
    action('offline', setOffline),
    action('online', setOnline),
    action('probe', probeNow),
    action('reauthorize', reauthorize),
    { method: 'PUT', path: '/v1/connections/{connectionId}', handler: (req, p) => putConnection(runtime, req, p.connectionId!) },
    { method: 'DELETE', path: '/v1/connections/{connectionId}', handler: (req, p) => deleteConnection(runtime, req, p.connectionId!) },
    { method: 'GET', path: '/v1/connections', handler: () => listConnections(runtime) },
    { method: 'GET', path: '/v1/connections/{connectionId}', handler: (_req, p) => getConnection(runtime, p.connectionId!) },
  ];
}
