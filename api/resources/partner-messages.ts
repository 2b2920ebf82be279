import { MAX_HEADER_VALUE_BYTES } from '../../core/identifiers';
import type { Flow } from '../../core/model';
import { ProblemError } from '../../core/problems';
import type { Runtime } from '../../adapters/runtime';
import { ingestMessages, type IncomingMessage } from '../../services/ingest';
import { fail, jsonResponse, type HttpRequest, type HttpResponse } from '../http';
import type { Route } from '../router';
import { checkPayloadSize, HEADER_NAMES, messageFields } from './message-input';
import { authorizeFlow, logRejection } from './partner-auth';

export { presentedApiKey, type PresentedKey } from './partner-auth';

/** Headers that must carry exactly one value: a repeated one is refused the same way in both modes. */
const SINGLE_VALUE_HEADERS = ['x-aux-system-msg-id', 'idempotency-key', 'x-chain-id', 'x-correlation-id', 'x-expires-at', 'content-type'];

/** The message fields a single post carries in its headers. */
function readHeaders(request: HttpRequest, flow: Flow, now: Date): Omit<IncomingMessage, 'contentType' | 'body'> {
  const repeated = SINGLE_VALUE_HEADERS.filter((name) => request.repeatedHeaders?.includes(name));
  if (repeated.length > 0) fail('invalid-header', `${repeated.join(', ')} was sent more than once; send it once.`);
  for (const [name, value] of Object.entries(request.headers)) {
    if (value && Buffer.byteLength(value) > MAX_HEADER_VALUE_BYTES) {
      fail('invalid-header', `Header ${name} is longer than ${MAX_HEADER_VALUE_BYTES} bytes.`);
    }
  }
  const primary = request.headers['x-aux-system-msg-id'];
  const alias = request.headers['idempotency-key'];
  if (primary !== undefined && alias !== undefined && primary !== alias) {
    fail('invalid-header', 'x-aux-system-msg-id and Idempotency-Key differ; send one of them.');
  }
  return messageFields(
    {
      messageId: primary ?? alias,
      chainId: request.headers['x-chain-id'],
      correlationId: request.headers['x-correlation-id'],
      expiresAt: request.headers['x-expires-at'],
    },
    flow,
    now,
    HEADER_NAMES,
  );
}

async function postMessage(runtime: Runtime, request: HttpRequest, flowId: string): Promise<HttpResponse> {
  const { partnerId, flow } = await authorizeFlow(runtime, request, flowId);
  const now = runtime.clock.now();
  let fields: ReturnType<typeof readHeaders> | undefined;
  try {
    if (flow.status === 'disabled') fail('flow-disabled', `Flow ${flowId} is disabled and accepts no messages.`);
    fields = readHeaders(request, flow, now);
    checkPayloadSize(request.oversizedBodyBytes ?? request.body.length, flow, request.oversizedBodyBytes !== undefined);
  } catch (error) {
    if (error instanceof ProblemError) await logRejection(runtime, flowId, error.code, error.message, request, fields?.messageId);
    throw error;
  }
  const incoming: IncomingMessage = {
    ...fields,
    contentType: request.headers['content-type'] ?? 'application/octet-stream',
    body: request.body,
  };
  const [result] = await ingestMessages(runtime, flow, partnerId, [incoming], now);
  if (result!.outcome === 'error') throw result!.error;
  const { message } = result!;
  if (result!.outcome === 'duplicate') {
    return jsonResponse(200, {
      messageId: message.messageId,
      flowId,
      status: result!.message.status,
      duplicate: true,
      receivedAt: message.receivedAt,
    });
  }
  return jsonResponse(202, { messageId: message.messageId, flowId, status: 'accepted', receivedAt: message.receivedAt });
}

async function getMessage(runtime: Runtime, request: HttpRequest, flowId: string, messageId: string): Promise<HttpResponse> {
  await authorizeFlow(runtime, request, flowId);
  const detail = await runtime.messages.detail(flowId, messageId);
  if (!detail) fail('not-found', `Message ${messageId} does not exist in flow ${flowId}.`);
  const { message, deliveries } = detail;
  return jsonResponse(200, {
    messageId,
    flowId,
    status: message.status,
    receivedAt: message.receivedAt,
    deliveries: deliveries.map((d) => ({ connectionId: d.connectionId, status: d.status, attempts: d.attempts })),
  });
}

export function partnerMessageRoutes(runtime: Runtime): Route[] {
  return [
    { method: 'POST', path: '/v1/flows/{flowId}/messages', handler: (req, p) => postMessage(runtime, req, p.flowId!) },
    {
      method: 'GET',
      path: '/v1/flows/{flowId}/messages/{messageId}',
      handler: (req, p) => getMessage(runtime, req, p.flowId!, p.messageId!),
    },
  ];
}
