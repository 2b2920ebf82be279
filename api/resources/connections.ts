import * as z from 'zod/mini';
import type { StoredConnection } from '../../adapters/aws/connection-store';
import type { ConnectionAuth } from '../../core/model';
import type { Runtime } from '../../adapters/runtime';
import { assertAllowedUrl, UnsafeTargetError } from '../../core/target-url';
import { parseRfc3339, RESOURCE_ID_PATTERN } from '../../core/identifiers';
import { ProblemError } from '../../core/problems';
import { ConnectionAuthSchema, PutConnectionBody, ReauthorizeBody, ResourceId, RetryPolicySchema, Rfc3339 } from '../schemas';
import { markConnectionDown, markConnectionOnline } from '../../services/connection-health';
import { probeConnection } from '../../services/prober';
import { releaseLane } from '../../services/parking';
import { REPLAY_MAX_PER_CALL, replayDeliveries, type ReplayPosition } from '../../services/replay';
import { cursorCodec } from '../cursors';
import { fail, jsonResponse, noContent, type HttpRequest, type HttpResponse } from '../http';
import type { Components, DocumentedRoute, OperationDoc } from '../router';
import { validateBody } from '../validation';
import { ConnectionStatusSchema, Count, Cursor, enumOf, Timestamp } from '../view-schemas';

/** Body of `POST /v1/connections/{id}/replay` (SPEC semantics 17). */
export const ReplayBody = z
  .strictObject({
    since: Rfc3339.check(z.meta({ description: 'Replay messages received at or after this time.' })),
    until: z.optional(Rfc3339).check(z.meta({ description: 'Replay messages received before this time (exclusive). Default: now.' })),
    flowId: z
      .optional(ResourceId)
      .check(z.meta({ description: 'Only this flow (it must use the connection). Default: every flow that uses it.' })),
    limit: z.optional(z.int().check(z.minimum(1), z.maximum(REPLAY_MAX_PER_CALL))).check(
      z.meta({
        description: `Deliveries this call replays at most (default and maximum ${REPLAY_MAX_PER_CALL}); the rest is left for a continuation.`,
      }),
    ),
    cursor: z.optional(z.string().check(z.maxLength(2048))).check(
      z.meta({
        description: 'Continue a replay: the `cursor` of the previous answer, sent with the same `since`, `until` and `flowId`.',
      }),
    ),
  })
  .check(
    z.refine((body) => !body.until || parseRfc3339(body.since)! < parseRfc3339(body.until)!, {
      message: 'since must be before until',
      path: ['since'],
    }),
  );

/**
 * OpenAPI components: the connection view (`connectionView`), the replay answer and the bodies this
 * resource validates. A function the generator calls once: the operator function never checks its own
 * answers, so its cold start does not build these schemas.
 */
export function connectionComponents(): Components {
  const Connection = z
    .catchall(
      z.extend(z.omit(PutConnectionBody, { auth: true, signingSecret: true }), {
        connectionId: ResourceId,
        auth: z
          .looseObject({ type: enumOf<ConnectionAuth['type']>()(['none', 'bearer', 'basic', 'header']) })
          .check(z.meta({ description: 'Only the credential type; credentials are never returned.' })),
        signingSecret: z
          .optional(z.literal('set'))
          .check(z.meta({ description: '`set` when requests are signed; the secret is never returned.' })),
        status: ConnectionStatusSchema,
        statusReason: z.optional(z.string()),
        statusSince: Timestamp,
        lastProbeAt: z.optional(Timestamp),
        nextProbeAt: z.optional(Timestamp),
        consecutiveFailures: Count.check(
          z.meta({ description: 'Consecutive connection errors or timeouts; `offlineAfter` of them set it offline.' }),
        ),
        manualOffline: z
          .optional(z.boolean())
          .check(z.meta({ description: 'Set offline by an operator: not probed until set online by hand.' })),
        heldBy: z.optional(z.string()).check(z.meta({ description: '`hold-all`: the failed-event id whose retry holds every lane.' })),
        holdUntil: z.optional(Timestamp),
        flows: z.array(ResourceId).check(z.meta({ description: 'Flows that deliver to this connection.' })),
        createdAt: Timestamp,
        updatedAt: Timestamp,
      }),
      z.unknown(),
    )
    .check(z.meta({ description: 'A connection without its secrets.' }));

  const ConnectionList = z.looseObject({ items: z.array(Connection) });
  const ReplayResult = z.looseObject({
    replayed: Count.check(z.meta({ description: 'Deliveries this call queued again.' })),
    until: Timestamp.check(
      z.meta({
        description: 'The end of the window (exclusive): `until` as given, or the time of the first call, never later than it.',
      }),
    ),
    cursor: Cursor.check(
      z.meta({
        description:
          'Present (not null) when the call stopped at its `limit` or time budget before the end of the window: send the same body with this cursor to go on.',
      }),
    ),
  });

  return {
    requests: {
      ConnectionAuth: ConnectionAuthSchema,
      RetryPolicyInput: RetryPolicySchema,
      PutConnectionRequest: PutConnectionBody,
      ReauthorizeRequest: ReauthorizeBody,
      ReplayRequest: ReplayBody,
    },
    responses: { RetryPolicy: RetryPolicySchema, Connection, ConnectionList, ReplayResult },
  };
}

/** What operators see of a connection: never a credential or signing secret. */
export function connectionView(connection: StoredConnection, flows: string[]) {
  // Parked lanes are the gateway's own bookkeeping (SPEC semantics 15), not a setting.
  const { sealedSecrets: _sealed, authType, signed, parkedLanes: _parked, ...rest } = connection;
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
    if (error instanceof UnsafeTargetError)
      fail('invalid-body', `Invalid body: url: ${error.message}`, { errors: [{ field: 'url', message: error.message }] });
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
  const connection = await requireConnection(runtime, connectionId);
  const flows = await flowsUsing(runtime, connectionId);
  if (flows.length > 0) {
    fail('conflict', `Connection ${connectionId} is used by flow ${flows.join(', ')}; remove it from those flows first.`, { flows });
  }
  await runtime.connections.delete(connectionId);
  // No probe may run for a connection that no longer exists.
  await runtime.probes.connectionUp(connectionId);
  // Work parked in its lanes is queued again: with the connection gone it fails as `configuration`.
  for (const lane of connection.parkedLanes ?? []) await releaseLane(runtime, connectionId, lane);
  runtime.logger.info('connection deleted', { connectionId, by: request.principal });
  return noContent();
}

/** The continuation a replay cursor carries: the window's resolved end and where the last call stopped. */
interface ReplayContinuation {
  until: string;
  after: ReplayPosition;
}

function continuationOf(position: string): ReplayContinuation | undefined {
  try {
    const value = JSON.parse(position) as ReplayContinuation;
    const { until, after } = value;
    const strings = [until, after?.receivedAt, after?.messageId, after?.flowId];
    return strings.every((v) => typeof v === 'string' && v.length > 0) && parseRfc3339(until) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * SPEC semantics 17: queues again the deliveries to this connection that are `delivered`,
 * of messages received in [since, until), in acceptance order behind what is queued.
 * A flow that exists but does not route to the connection is a 409 `conflict`: the
 * body is well formed, it is the gateway's current wiring that refuses it (as deleting
 * a connection a flow uses is). One call replays at most `limit` deliveries within a
 * time budget; `cursor` in the answer continues where it stopped.
 */
async function replay(runtime: Runtime, request: HttpRequest, connectionId: string): Promise<HttpResponse> {
  await requireConnection(runtime, connectionId);
  const body = validateBody(ReplayBody, request);
  const since = parseRfc3339(body.since)!;
  const listing = {
    name: 'connection-replay',
    params: {
      connectionId,
      flowId: body.flowId,
      since: since.toISOString(),
      until: body.until ? parseRfc3339(body.until)!.toISOString() : undefined,
    },
  };
  const codec = await cursorCodec(runtime);
  let continuation: ReplayContinuation | undefined;
  try {
    const position = codec.open(listing, body.cursor);
    continuation = position === undefined ? undefined : continuationOf(position);
    if (position !== undefined && !continuation) throw new ProblemError('invalid-query', 'not a replay position');
  } catch (error) {
    if (!(error instanceof ProblemError) || error.code !== 'invalid-query') throw error;
    const message = 'not a cursor of this replay (send the cursor of the previous answer with the same since, until and flowId)';
    fail('invalid-body', `Invalid body: cursor: ${message}.`, { errors: [{ field: 'cursor', message }] });
  }
  const now = runtime.clock.now();
  // The window never reaches past the first call: a continuation replays no message that came in since.
  const until = continuation
    ? new Date(continuation.until)
    : new Date(Math.min(body.until ? parseRfc3339(body.until)!.getTime() : Infinity, now.getTime()));
  if (!body.until && since.getTime() >= until.getTime()) {
    const message = 'must be before until (now, when until is left out)';
    fail('invalid-body', `Invalid body: since: ${message}.`, { errors: [{ field: 'since', message }] });
  }
  let flowIds: string[];
  if (body.flowId) {
    const flow = await runtime.flows.get(body.flowId, true);
    if (!flow) fail('unknown-flow', `Flow ${body.flowId} does not exist.`);
    if (!flow.destinations.includes(connectionId)) {
      fail('conflict', `Flow ${body.flowId} does not deliver to connection ${connectionId}; replay names a flow that uses it, or none.`, {
        destinations: flow.destinations,
      });
    }
    flowIds = [flow.flowId];
  } else {
    flowIds = await flowsUsing(runtime, connectionId);
  }
  const outcome = await replayDeliveries(
    runtime,
    {
      connectionId,
      flowIds,
      since,
      until,
      ...(continuation ? { after: continuation.after } : {}),
      ...(request.principal ? { principal: request.principal } : {}),
    },
    body.limit ? { maxDeliveries: body.limit } : {},
  );
  const next = outcome.next ? JSON.stringify({ until: until.toISOString(), after: outcome.next } satisfies ReplayContinuation) : undefined;
  return jsonResponse(202, { replayed: outcome.replayed, until: until.toISOString(), cursor: codec.seal(listing, next) });
}

type ConnectionHandler = (runtime: Runtime, request: HttpRequest, id: string) => Promise<HttpResponse>;

export function connectionRoutes(runtime: Runtime): DocumentedRoute[] {
  const action = (
    name: string,
    handler: ConnectionHandler,
    doc: Pick<OperationDoc, 'operationId' | 'summary'> & Partial<OperationDoc>,
  ) => ({
    method: 'POST',
    path: `/v1/connections/{connectionId}/${name}`,
    handler: (req: HttpRequest, p: Record<string, string>) => handler(runtime, req, p.connectionId!),
    doc: {
      responses: { 200: { description: 'The connection after the action.', schema: 'Connection' } },
      errors: ['not-found'],
      ...doc,
    } satisfies OperationDoc,
  });
  return [
    action('offline', setOffline, {
      operationId: 'offlineConnection',
      summary: 'Set a connection offline',
      description: 'Traffic holds (no attempts spent) and its flows pause; not probed until set online by hand.',
    }),
    action('online', setOnline, {
      operationId: 'onlineConnection',
      summary: 'Set a connection online',
      description: 'Its flows resume and held traffic is released in order.',
    }),
    action('probe', probeNow, {
      operationId: 'probeConnection',
      summary: 'Probe a connection now',
      description: 'Runs the probe request at once; on success the connection goes online and its flows resume.',
    }),
    action('reauthorize', reauthorize, {
      operationId: 'reauthorizeConnection',
      summary: 'Replace credentials and probe',
      description: 'Stores the new credentials, probes at once; on success the held delivery is attempted again first.',
      body: { schema: 'ReauthorizeRequest', required: true },
      errors: ['invalid-body', 'not-found'],
    }),
    action('replay', replay, {
      operationId: 'replayConnection',
      summary: 'Replay delivered messages',
      description:
        'SPEC delivery semantics 17, for a target restored from a backup: queues again the deliveries to this connection that are `delivered`, of messages received in [`since`, `until`), ' +
        'of one flow or of every flow that uses the connection. They are delivered again in their original order per lane, after what is already queued, every attempt flagged ' +
        '`x-sluice-possible-duplicate: true`, and their execution reports show `replayed`. One call replays at most `limit` (1,000) deliveries and starts no new chunk of 100 after 10 seconds; ' +
        'when it stops early the answer carries a `cursor`: send the same body with it to go on, in order. The message listing trails the records by a few seconds (the stream), so messages received just before the call may not be replayed yet.',
      body: { schema: 'ReplayRequest', required: true },
      responses: { 202: { description: 'Queued again.', schema: 'ReplayResult' } },
      errors: ['invalid-body', 'not-found', 'unknown-flow', 'conflict'],
    }),
    {
      method: 'PUT',
      path: '/v1/connections/{connectionId}',
      handler: (req, p) => putConnection(runtime, req, p.connectionId!),
      doc: {
        operationId: 'putConnection',
        summary: 'Create or replace a connection',
        description:
          'Outside local mode the URL must be https; loopback, link-local and unspecified addresses are refused (private ranges only when the deployment allows them).',
        body: { schema: 'PutConnectionRequest', required: true },
        responses: { 200: { description: 'The connection (secrets never returned).', schema: 'Connection' } },
        errors: ['invalid-body'],
      },
    },
    {
      method: 'DELETE',
      path: '/v1/connections/{connectionId}',
      handler: (req, p) => deleteConnection(runtime, req, p.connectionId!),
      doc: {
        operationId: 'deleteConnection',
        summary: 'Delete a connection',
        description: 'Deletes the connection and cancels its probes. Refused (409 `conflict`) while a flow uses it.',
        responses: { 204: { description: 'Deleted.' } },
        errors: ['not-found', 'conflict'],
      },
    },
    {
      method: 'GET',
      path: '/v1/connections',
      handler: () => listConnections(runtime),
      doc: {
        operationId: 'listConnections',
        summary: 'List connections',
        responses: { 200: { description: 'Every connection.', schema: 'ConnectionList' } },
        errors: [],
      },
    },
    {
      method: 'GET',
      path: '/v1/connections/{connectionId}',
      handler: (_req, p) => getConnection(runtime, p.connectionId!),
      doc: {
        operationId: 'getConnection',
        summary: 'Read a connection',
        responses: { 200: { description: 'The connection.', schema: 'Connection' } },
        errors: ['not-found'],
      },
    },
  ];
}
