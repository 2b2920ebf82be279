import type { Runtime } from '../../adapters/runtime';
import type { Flow, FlowCounts, FlowWithCounts } from '../../core/model';
import * as z from 'zod/mini';
import { MessageId, PutFlowBody, ResourceId } from '../schemas';
import { fail, jsonResponse, noContent, type HttpRequest, type HttpResponse } from '../http';
import { FlowNotDisabledError } from '../../adapters/aws/flow-store';
import type { Components, DocumentedRoute } from '../router';
import { validateBody } from '../validation';
import { checkResourceId } from './connections';
import { releaseHeld } from '../../services/release';
import { Count, FlowStatusSchema, LogLevelSchema, Timestamp } from '../view-schemas';

/**
 * OpenAPI components: the flow view (`flowView`) with its counts, the flow log and the flow body. A
 * function the generator calls once: the operator function never checks its own answers, so its cold
 * start does not build these schemas.
 */
export function flowComponents(): Components {
  const FlowCountsSchema = z.looseObject({
    accepted: Count,
    queued: Count,
    delivered: Count,
    failed: Count,
    suspended: Count,
    inError: Count,
  }) satisfies z.ZodMiniType<FlowCounts>;

  const FlowSchema = z.catchall(
    z.extend(PutFlowBody, {
      flowId: ResourceId,
      status: FlowStatusSchema,
      statusReason: z.optional(z.string()),
      statusSince: Timestamp,
      operatorPaused: z.optional(z.boolean()).check(z.meta({ description: 'Paused by an operator: every branch holds until `resume`.' })),
      autoPausedBy: z.optional(z.array(ResourceId)).check(z.meta({ description: 'Connections whose outage paused the flow.' })),
      counts: FlowCountsSchema,
      createdAt: Timestamp,
      updatedAt: Timestamp,
    }),
    z.unknown(),
  );

  const FlowList = z.looseObject({ items: z.array(FlowSchema) });

  const FlowLogEntry = z.looseObject({
    at: Timestamp,
    level: LogLevelSchema,
    code: z
      .string()
      .check(z.meta({ description: 'A problem code for rejections (e.g. `unauthenticated`), `flow-<action>` for state changes.' })),
    detail: z.string(),
    messageId: z.optional(MessageId),
  });
  const FlowLog = z.looseObject({ entries: z.array(FlowLogEntry) });

  return {
    requests: { PutFlowRequest: PutFlowBody },
    responses: { FlowCounts: FlowCountsSchema, Flow: FlowSchema, FlowList, FlowLogEntry, FlowLog },
  };
}

export function flowView(flow: FlowWithCounts) {
  const { internalFailureStreak: _streak, destinationThreads: _threads, ...rest } = flow;
  return rest;
}

async function putFlow(runtime: Runtime, request: HttpRequest, flowId: string): Promise<HttpResponse> {
  checkResourceId('Flow', flowId);
  const body = validateBody(PutFlowBody, request);
  const [partner, connections] = await Promise.all([
    runtime.partners.get(body.partnerId),
    Promise.all(body.destinations.map((id) => runtime.connections.get(id))),
  ]);
  const errors = [
    ...(partner ? [] : [{ field: 'partnerId', message: `partner ${body.partnerId} does not exist` }]),
    ...body.destinations.flatMap((id, index) =>
      connections[index] ? [] : [{ field: `destinations.${index}`, message: `connection ${id} does not exist` }],
    ),
  ];
  if (errors.length > 0) {
    fail('invalid-body', `Invalid body: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, { errors });
  }
  const destinationThreads = Object.fromEntries(body.destinations.map((id, index) => [id, connections[index]!.threads]));
  const flow = await runtime.flows.put(flowId, { ...body, destinationThreads }, runtime.clock.now());
  runtime.logger.info('flow saved', { flowId, by: request.principal });
  return jsonResponse(200, flowView(flow));
}

async function requireFlowWithCounts(runtime: Runtime, flowId: string): Promise<FlowWithCounts> {
  const flow = await runtime.flows.getWithCounts(flowId);
  if (!flow) fail('unknown-flow', `Flow ${flowId} does not exist.`);
  return flow;
}

export async function requireFlow(runtime: Runtime, flowId: string): Promise<Flow> {
  const flow = await runtime.flows.get(flowId);
  if (!flow) fail('unknown-flow', `Flow ${flowId} does not exist.`);
  return flow;
}

type FlowAction = 'disable' | 'enable' | 'pause' | 'resume' | 'start';

const ACTION_STATUS: Record<FlowAction, Flow['status']> = {
  disable: 'disabled',
  enable: 'enabled',
  pause: 'paused',
  resume: 'enabled',
  start: 'enabled',
};

/**
 * Operator flow actions. `enable` clears the flow log; `resume` keeps it; `start`
 * also resets the internal-failure streak that stopped the flow.
 */
async function flowAction(runtime: Runtime, request: HttpRequest, flowId: string, action: FlowAction): Promise<HttpResponse> {
  const before = await requireFlow(runtime, flowId);
  const now = runtime.clock.now();
  const reason =
    action === 'pause'
      ? `paused by ${request.principal ?? 'operator'}`
      : action === 'disable'
        ? `disabled by ${request.principal ?? 'operator'}`
        : undefined;
  const flow = await runtime.flows.setStatus(flowId, ACTION_STATUS[action], reason, now, {
    resetStreak: action === 'start',
    ...(action === 'pause' ? { operatorPaused: true } : action === 'resume' || action === 'start' ? { operatorPaused: false } : {}),
  });
  if (!flow) fail('unknown-flow', `Flow ${flowId} does not exist.`);
  if (action === 'resume' || action === 'start' || action === 'enable') {
    for (const connectionId of flow.destinations) await releaseHeld(runtime, { connectionId, flowId, statuses: ['paused'] });
  }
  if (action === 'enable') await runtime.flows.clearLog(flowId);
  else {
    await runtime.flows.log(flowId, {
      at: now.toISOString(),
      level: 'info',
      code: `flow-${action}`,
      detail: `${action} by ${request.principal ?? 'operator'} (was ${before.status})`,
    });
  }
  if (before.status !== flow.status && (flow.status === 'paused' || before.status === 'paused')) {
    await runtime.events.publish({
      type: flow.status === 'paused' ? 'flow.paused' : 'flow.resumed',
      at: now.toISOString(),
      detail: { flowId, reason: reason ?? `${action} by operator` },
    });
  }
  runtime.logger.info('flow action', { flowId, action, by: request.principal });
  return jsonResponse(200, flowView({ ...flow, counts: await runtime.flows.counts(flowId) }));
}

/** SPEC: 204, or 409 `conflict` unless the flow is disabled and has no delivery that is not final. */
async function deleteFlow(runtime: Runtime, request: HttpRequest, flowId: string): Promise<HttpResponse> {
  const flow = await requireFlow(runtime, flowId);
  if (flow.status !== 'disabled') fail('conflict', `Flow ${flowId} is ${flow.status}; disable it before deleting it.`);
  // Failed and in-error deliveries are indexed as they fail; the listing trails the records by the stream's lag.
  const unfinished =
    (await runtime.deliveries.queryFailed({ flowId, limit: 1 })).items[0]?.messageId ?? (await runtime.messages.firstUnfinished(flowId));
  if (unfinished) {
    fail('conflict', `Flow ${flowId} still has message ${unfinished} not delivered or discarded; deliver, restart or discard it first.`, {
      messageId: unfinished,
    });
  }
  try {
    await runtime.flows.delete(flowId);
  } catch (error) {
    if (error instanceof FlowNotDisabledError)
      fail('conflict', `Flow ${flowId} was enabled again meanwhile; disable it before deleting it.`);
    throw error;
  }
  runtime.logger.info('flow deleted', { flowId, by: request.principal });
  return noContent();
}

const ACTION_DOCS: Record<FlowAction, { summary: string; description: string }> = {
  disable: { summary: 'Disable a flow', description: 'New messages are rejected with 409 `flow-disabled`.' },
  enable: { summary: 'Enable a flow', description: 'Accepts messages again and clears the flow log.' },
  pause: { summary: 'Pause a flow', description: 'Messages are accepted and queued but not delivered.' },
  resume: { summary: 'Resume a flow', description: 'Delivery continues in order; the flow log is kept.' },
  start: { summary: 'Start a stopped flow', description: 'After `backoutThreshold` internal failures in a row stopped it.' },
};

export function flowRoutes(runtime: Runtime): DocumentedRoute[] {
  const actions: FlowAction[] = ['disable', 'enable', 'pause', 'resume', 'start'];
  return [
    ...actions.map((action) => ({
      method: 'POST',
      path: `/v1/flows/{flowId}/${action}`,
      handler: (req: HttpRequest, p: Record<string, string>) => flowAction(runtime, req, p.flowId!, action),
      doc: {
        operationId: `${action}Flow`,
        ...ACTION_DOCS[action],
        responses: { 200: { description: 'The flow after the action.', schema: 'Flow' } },
        errors: ['unknown-flow' as const],
      },
    })),
    {
      method: 'PUT',
      path: '/v1/flows/{flowId}',
      handler: (req, p) => putFlow(runtime, req, p.flowId!),
      doc: {
        operationId: 'putFlow',
        summary: 'Create or replace a flow',
        description: 'The partner and every destination connection must exist.',
        body: { schema: 'PutFlowRequest', required: true },
        responses: { 200: { description: 'The flow.', schema: 'Flow' } },
        errors: ['invalid-body'],
      },
    },
    {
      method: 'DELETE',
      path: '/v1/flows/{flowId}',
      handler: (req, p) => deleteFlow(runtime, req, p.flowId!),
      doc: {
        operationId: 'deleteFlow',
        summary: 'Delete a flow',
        description:
          'Deletes the flow with its counters and log. Refused (409 `conflict`) unless the flow is disabled and every delivery of its messages is final (`delivered` or `discarded`). ' +
          'Its messages and payloads stay until their retention ends.',
        responses: { 204: { description: 'Deleted.' } },
        errors: ['unknown-flow', 'conflict'],
      },
    },
    {
      method: 'GET',
      path: '/v1/flows',
      handler: async () => jsonResponse(200, { items: (await runtime.flows.listWithCounts()).map(flowView) }),
      doc: {
        operationId: 'listFlows',
        summary: 'List flows',
        responses: { 200: { description: 'Every flow with its counts.', schema: 'FlowList' } },
        errors: [],
      },
    },
    {
      method: 'GET',
      path: '/v1/flows/{flowId}',
      handler: async (_req, p) => jsonResponse(200, flowView(await requireFlowWithCounts(runtime, p.flowId!))),
      doc: {
        operationId: 'getFlow',
        summary: 'Read a flow',
        responses: { 200: { description: 'The flow with its counts.', schema: 'Flow' } },
        errors: ['unknown-flow'],
      },
    },
    {
      method: 'GET',
      path: '/v1/flows/{flowId}/log',
      handler: async (_req, p) => {
        await requireFlow(runtime, p.flowId!);
        return jsonResponse(200, { entries: await runtime.flows.readLog(p.flowId!) });
      },
      doc: {
        operationId: 'getFlowLog',
        summary: "Read a flow's log",
        description: 'What failed before a message was accepted (bad key, bad GUID, too large, flow disabled) and state changes.',
        responses: { 200: { description: 'The flow log.', schema: 'FlowLog' } },
        errors: ['unknown-flow'],
      },
    },
  ];
}
