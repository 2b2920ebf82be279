import * as z from 'zod/mini';
import type { Runtime } from '../../adapters/runtime';
import { messageStatus } from '../../core/message-status';
import { cursorCodec } from '../cursors';
import { fail, jsonResponse, type HttpRequest, type HttpResponse } from '../http';
import type { Components, DocumentedRoute } from '../router';
import { CorrelationId, FailureTypeSchema, ListQuery, MessageId, ResourceId } from '../schemas';
import { validateQuery } from '../validation';
import {
  Count,
  Cursor,
  DeliveryError,
  DeliveryStatusSchema,
  LogLevelSchema,
  MessageStatusSchema,
  ReportEventSchema,
  Sha256,
  Timestamp,
} from '../view-schemas';
import { requireFlow } from './flows';

// A flow's messages as operators see them (the partner API has its own view, in partner-messages.ts):
// the listing, and one message with its deliveries and execution report.

/**
 * OpenAPI components: the message listing and the message detail (`getMessage`). A function the
 * generator calls once: the operator function never checks its own answers, so its cold start does not
 * build these schemas.
 */
export function flowMessageComponents(): Components {
  const DeliveryView = z.looseObject({
    connectionId: ResourceId,
    lane: Count,
    status: DeliveryStatusSchema,
    attempts: Count,
    failureType: z.optional(FailureTypeSchema),
    lastError: z.optional(DeliveryError),
    nextAttemptAt: z.optional(Timestamp),
    deliveredAt: z.optional(Timestamp),
  });

  const ReportEntry = z.looseObject({
    at: Timestamp,
    event: ReportEventSchema,
    level: LogLevelSchema,
    detail: z.string(),
    connectionId: z.optional(ResourceId),
    attempt: z.optional(z.int().check(z.minimum(1))),
    httpStatus: z.optional(z.int()),
    durationMs: z.optional(Count),
    by: z.optional(z.string()).check(z.meta({ description: 'The operator who caused it (operator actions).' })),
  });

  const MessageDetail = z
    .looseObject({
      messageId: MessageId,
      flowId: ResourceId,
      partnerId: ResourceId,
      status: MessageStatusSchema,
      receivedAt: Timestamp,
      contentType: z.string(),
      bytes: Count,
      sha256: Sha256,
      correlationId: CorrelationId,
      chainId: z.optional(MessageId),
      expiresAt: z.optional(Timestamp),
      retainedUntil: z.optional(Timestamp).check(
        z.meta({
          description:
            "Set once every delivery is `delivered` or `discarded`: the message, its report and payloads are deleted after this (the flow's `retentionDays` after it became final; DynamoDB and S3 delete within days after).",
        }),
      ),
      deliveries: z.array(DeliveryView),
      report: z.array(ReportEntry).check(z.meta({ description: 'The execution report: every event of the message, oldest first.' })),
    })
    .check(z.meta({ description: 'A message as an operator sees it: deliveries and execution report.' }));

  const MessageSummary = z.looseObject({
    messageId: MessageId,
    flowId: ResourceId,
    status: MessageStatusSchema,
    receivedAt: Timestamp,
    bytes: Count,
    contentType: z.string(),
    chainId: z.optional(MessageId),
    correlationId: CorrelationId,
  });

  const MessagePage = z.looseObject({ items: z.array(MessageSummary), cursor: Cursor });

  return {
    responses: { Delivery: DeliveryView, ReportEntry, MessageDetail, MessageSummary, MessagePage },
  };
}

const MessageListQuery = z.extend(ListQuery, { status: z.optional(MessageStatusSchema) });

async function listMessages(runtime: Runtime, request: HttpRequest, flowId: string): Promise<HttpResponse> {
  await requireFlow(runtime, flowId);
  const query = validateQuery(MessageListQuery, request);
  const listing = { name: 'flow-messages', params: { flowId, status: query.status } };
  const codec = await cursorCodec(runtime);
  const position = codec.open(listing, query.cursor);
  const page = await runtime.messages.list(flowId, {
    limit: query.limit,
    ...(position ? { cursor: position } : {}),
    ...(query.status ? { status: query.status } : {}),
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

export function flowMessageRoutes(runtime: Runtime): DocumentedRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/flows/{flowId}/messages',
      handler: (req, p) => listMessages(runtime, req, p.flowId!),
      doc: {
        operationId: 'listMessages',
        summary: "List a flow's messages",
        query: MessageListQuery,
        responses: { 200: { description: 'One page of messages.', schema: 'MessagePage' } },
        errors: ['invalid-query', 'unknown-flow'],
      },
    },
    {
      method: 'GET',
      path: '/v1/flows/{flowId}/messages/{messageId}',
      handler: (_req, p) => getMessage(runtime, p.flowId!, p.messageId!),
      // The partner API routes the same path to its own view (partner-messages.ts): one operation in the document.
      doc: {
        operationId: 'getMessage',
        summary: 'Read a message',
        description: 'The operator API answers `MessageDetail`: deliveries with lanes and errors, and the execution report.',
        responses: { 200: { description: 'The message.', schema: 'MessageDetail' } },
        errors: ['unknown-flow', 'not-found'],
      },
    },
  ];
}
