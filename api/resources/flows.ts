import type { Runtime } from '../../adapters/runtime';
import { messageStatus } from '../../core/message-status';
import type { Flow, FlowWithCounts, MessageStatus } from '../../core/model';
import * as z from 'zod';
import { ListQuery, PutFlowBody } from '../schemas';
import { fail, jsonResponse, noContent, type HttpRequest, type HttpResponse } from '../http';
import { FlowNotDisabledError } from '../../adapters/aws/flow-store';
import type { Route } from '../router';
import { validateBody, validateQuery } from '../validation';
import { cursorCodec } from '../cursors';
import { checkResourceId } from './connections';
import { releaseHeld } from '../../services/release';

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

async function requireFlow(runtime: Runtime, flowId: string): Promise<Flow> {
  const flow = await runtime.flows.get(flowId);
  if (!flow) fail('unknown-flow', `Flow ${flowId} does not exist.`);
  return flow;
}

const MessageListQuery = ListQuery.extend({
  status: z.enum(['accepted', 'queued', 'retrying', 'paused', 'inError', 'delivered', 'failed', 'suspended', 'discarded']).optional(),
});

async function listMessages(runtime: Runtime, request: HttpRequest, flowId: string): Promise<HttpResponse> {
  await requireFlow(runtime, flowId);
  const query = validateQuery(MessageListQuery, request);
  const listing = { name: 'flow-messages', params: { flowId, status: query.status } };
  const codec = await cursorCodec(runtime);
  const position = codec.open(listing, query.cursor);
  const page = await runtime.messages.list(flowId, {
    limit: query.limit,
    ...(position ? { cursor: position } : {}),
    ...(query.status ? { status: query.status as MessageStatus } : {}),
  });
  return jsonResponse(200, {
    items: page.items.map((m) => ({
      messageId: m.messageId,
      flowId: m.flowId,
      status: m.status,
      receivedAt: m.receivedAt,
      bytes: m.bytes,
      contentType: m.contentType,
      ...(m.chainId ? { chainId: m.chainId } : {}),
      correlationId: m.correlationId,
    })),
    cursor: codec.seal(listing, page.cursor),
  });
}

async function getMessage(runtime: Runtime, flowId: string, messageId: string): Promise<HttpResponse> {
  await requireFlow(runtime, flowId);
  const detail = await runtime.messages.detail(flowId, messageId);
  if (!detail) fail('not-found', `Message ${messageId} does not exist in flow ${flowId}.`);
  const { message, deliveries, report } = detail;
  return jsonResponse(200, {
    messageId,
    flowId,
    partnerId: message.partnerId,
    status: messageStatus(message.enqueue, deliveries),
    receivedAt: message.receivedAt,
    contentType: message.contentType,
    bytes: message.bytes,
    sha256: message.sha256,
    correlationId: message.correlationId,
    ...(message.chainId ? { chainId: message.chainId } : {}),
    ...(message.expiresAt ? { expiresAt: message.expiresAt } : {}),
    ...(message.retainedUntil ? { retainedUntil: message.retainedUntil } : {}),
    deliveries: deliveries.map((d) => ({
      connectionId: d.connectionId,
      lane: d.lane,
      status: d.status,
      attempts: d.attempts,
      ...(d.failureType ? { failureType: d.failureType } : {}),
      ...(d.lastError ? { lastError: d.lastError } : {}),
      ...(d.nextAttemptAt ? { nextAttemptAt: d.nextAttemptAt } : {}),
      ...(d.deliveredAt ? { deliveredAt: d.deliveredAt } : {}),
    })),
    report,
  });
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

export function flowRoutes(runtime: Runtime): Route[] {
  const actions: FlowAction[] = ['disable', 'enable', 'pause', 'resume', 'start'];
  return [
    ...actions.map((action) => ({
      method: 'POST',
      path: `/v1/flows/{flowId}/${action}`,
      handler: (req: HttpRequest, p: Record<string, string>) => flowAction(runtime, req, p.flowId!, action),
    })),
    { method: 'PUT', path: '/v1/flows/{flowId}', handler: (req, p) => putFlow(runtime, req, p.flowId!) },
    { method: 'DELETE', path: '/v1/flows/{flowId}', handler: (req, p) => deleteFlow(runtime, req, p.flowId!) },
    {
      method: 'GET',
      path: '/v1/flows',
      handler: async () => jsonResponse(200, { items: (await runtime.flows.listWithCounts()).map(flowView) }),
    },
    {
      method: 'GET',
      path: '/v1/flows/{flowId}',
      handler: async (_req, p) => jsonResponse(200, flowView(await requireFlowWithCounts(runtime, p.flowId!))),
    },
    {
      method: 'GET',
      path: '/v1/flows/{flowId}/log',
      handler: async (_req, p) => {
        await requireFlow(runtime, p.flowId!);
        return jsonResponse(200, { entries: await runtime.flows.readLog(p.flowId!) });
      },
    },
    { method: 'GET', path: '/v1/flows/{flowId}/messages', handler: (req, p) => listMessages(runtime, req, p.flowId!) },
    {
      method: 'GET',
      path: '/v1/flows/{flowId}/messages/{messageId}',
      handler: (_req, p) => getMessage(runtime, p.flowId!, p.messageId!),
    },
  ];
}
