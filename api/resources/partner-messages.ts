import { createHash, randomUUID } from 'node:crypto';
import {
  CORRELATION_ID_PATTERN,
  MAX_HEADER_VALUE_BYTES,
  MESSAGE_ID_PATTERN,
  parseRfc3339,
} from '../../core/identifiers';
import { laneFor } from '../../core/lanes';
import { accepted } from '../../core/lifecycle';
import type { Flow, Message, MessageDestination } from '../../core/model';
import { ProblemError, type ProblemCode } from '../../core/problems';
import { objectKeys } from '../../adapters/aws/keys';
import type { StoredMessage } from '../../adapters/aws/message-store';
import type { Runtime } from '../../adapters/runtime';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { completeEnqueue, ENQUEUE_LEASE_MS, ticketsFor, untouchedTickets } from '../../services/enqueue';
import { fail, jsonResponse, type HttpRequest, type HttpResponse } from '../http';
import type { Route } from '../router';

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

interface Authenticated {
  partnerId: string;
  flow: Flow;
}

/**
 * Authenticates the caller and resolves the flow it posts to. Every rejection on an
 * existing flow is written to that flow's log before it is raised.
 */
async function authorizeFlow(runtime: Runtime, request: HttpRequest, flowId: string): Promise<Authenticated> {
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

async function logRejection(
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

interface MessageHeaders {
  messageId: string;
  chainId?: string;
  correlationId: string;
  expiresAt?: string;
}

/** Headers that must carry exactly one value: a repeated one is refused the same way in both modes. */
const SINGLE_VALUE_HEADERS = ['x-aux-system-msg-id', 'idempotency-key', 'x-chain-id', 'x-correlation-id', 'x-expires-at', 'content-type'];

function readHeaders(request: HttpRequest, flow: Flow, now: Date): MessageHeaders {
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
  const messageId = primary ?? alias;
  if (messageId === undefined || messageId === '') {
    fail('missing-message-id', 'The x-aux-system-msg-id header (or Idempotency-Key) is required.');
  }
  if (!MESSAGE_ID_PATTERN.test(messageId)) {
    fail('invalid-message-id', 'The message id must be 1-128 characters from A-Z a-z 0-9 . _ : -');
  }
  const chainId = request.headers['x-chain-id'];
  if (chainId !== undefined && !MESSAGE_ID_PATTERN.test(chainId)) {
    fail('invalid-header', 'x-chain-id must be 1-128 characters from A-Z a-z 0-9 . _ : -');
  }
  const correlationId = request.headers['x-correlation-id'];
  if (correlationId !== undefined && !CORRELATION_ID_PATTERN.test(correlationId)) {
    fail('invalid-header', 'x-correlation-id must be 1-256 printable ASCII characters.');
  }
  const expiresHeader = request.headers['x-expires-at'];
  let expiresAt: string | undefined;
  if (expiresHeader !== undefined) {
    const parsed = parseRfc3339(expiresHeader);
    if (!parsed) fail('invalid-header', 'x-expires-at must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z.');
    expiresAt = parsed.toISOString();
  } else if (flow.expiresAfterSeconds) {
    expiresAt = new Date(now.getTime() + flow.expiresAfterSeconds * 1000).toISOString();
  }
  return {
    messageId,
    correlationId: correlationId ?? randomUUID(),
    ...(chainId ? { chainId } : {}),
    ...(expiresAt ? { expiresAt } : {}),
  };
}

function acceptedBody(message: Pick<Message, 'messageId' | 'flowId' | 'receivedAt'>) {
  return { messageId: message.messageId, flowId: message.flowId, status: 'accepted', receivedAt: message.receivedAt };
}

function duplicateResponse(runtime: Runtime, message: StoredMessage): HttpResponse {
  runtime.metrics.addMetric('MessagesDuplicate', MetricUnit.Count, 1);
  return jsonResponse(200, {
    messageId: message.messageId,
    flowId: message.flowId,
    status: message.status,
    duplicate: true,
    receivedAt: message.receivedAt,
  });
}

/** Queues a pending message whose enqueue this request owns; on failure frees the lease for the next try. */
async function enqueueOwned(runtime: Runtime, message: StoredMessage): Promise<HttpResponse> {
  try {
    await completeEnqueue(runtime, message);
  } catch (error) {
    await runtime.messages.releaseEnqueue(message.flowId, message.messageId);
    throw notQueued(runtime, message, error);
  }
  runtime.metrics.addMetric('MessagesAccepted', MetricUnit.Count, 1);
  return jsonResponse(202, acceptedBody(message));
}

function notQueued(runtime: Runtime, message: Pick<StoredMessage, 'flowId' | 'messageId'>, error: unknown): ProblemError {
  runtime.logger.error('message recorded but not queued; a retry with the same id or the sweep will queue it', {
    flowId: message.flowId,
    messageId: message.messageId,
    error: error as Error,
  });
  return new ProblemError('internal', 'The message was recorded but could not be queued; post it again with the same id.');
}

/**
 * A GUID that already exists. A pending one (its first send failed) is queued by
 * whoever takes its lease; any other is acknowledged as a duplicate after its
 * untouched deliveries are sent again, in case the first request died between its
 * record and its send (a no-op for SQS within its deduplication window).
 */
async function settleExisting(runtime: Runtime, flowId: string, messageId: string): Promise<HttpResponse> {
  for (let wait = 25; ; wait = Math.min(wait * 2, 500)) {
    const existing = await runtime.messages.snapshot(flowId, messageId);
    if (!existing) throw new ProblemError('internal', 'message vanished while settling a duplicate');
    const { message, deliveries } = existing;
    if (message.enqueue !== 'pending') {
      const tickets = untouchedTickets(deliveries);
      if (tickets.length > 0) await runtime.queue.send(tickets);
      return duplicateResponse(runtime, message);
    }
    if (await runtime.messages.claimEnqueue(flowId, messageId, runtime.clock.now().getTime(), ENQUEUE_LEASE_MS)) {
      return enqueueOwned(runtime, message);
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

async function postMessage(runtime: Runtime, request: HttpRequest, flowId: string): Promise<HttpResponse> {
  const { partnerId, flow } = await authorizeFlow(runtime, request, flowId);
  const now = runtime.clock.now();
  let headers: MessageHeaders | undefined;
  try {
    if (flow.status === 'disabled') fail('flow-disabled', `Flow ${flowId} is disabled and accepts no messages.`);
    headers = readHeaders(request, flow, now);
    const bytes = request.oversizedBodyBytes ?? request.body.length;
    if (bytes === 0) fail('empty-payload', 'The message body is empty.');
    if (bytes > flow.maxPayloadBytes || request.oversizedBodyBytes !== undefined) {
      fail('payload-too-large', `The payload is ${bytes} bytes; flow ${flowId} accepts at most ${flow.maxPayloadBytes}.`);
    }
  } catch (error) {
    if (error instanceof ProblemError) {
      await logRejection(runtime, flowId, error.code, error.message, request, headers?.messageId);
    }
    throw error;
  }

  const { messageId } = headers;
  const inline = request.body.length <= runtime.inlinePayloadLimitBytes;
  // A large payload goes to S3 before the record: look for a duplicate first so a
  // repeated post does not upload again. Small ones rely on the conditional write alone.
  if (!inline && (await runtime.messages.get(flowId, messageId))) return settleExisting(runtime, flowId, messageId);

  // Lane counts travel with the flow (copied when it or a destination is saved): no connection read.
  const destinations: MessageDestination[] = await Promise.all(
    flow.destinations.map(async (connectionId) => {
      const threads = flow.destinationThreads?.[connectionId] ?? (await runtime.connections.getCached(connectionId))?.threads ?? 1;
      return { connectionId, lane: laneFor({ messageId, chainId: headers.chainId }, threads) };
    }),
  );
  const contentType = request.headers['content-type'] ?? 'application/octet-stream';
  const payloadKey = objectKeys.claimCheck(flowId, messageId);
  if (!inline) await runtime.payloads.put(payloadKey, request.body, contentType);

  const receivedAt = now.toISOString();
  const message: Message = {
    flowId,
    messageId,
    partnerId,
    contentType,
    bytes: request.body.length,
    sha256: createHash('sha256').update(request.body).digest('hex'),
    payload: inline ? { kind: 'inline' } : { kind: 'object', key: payloadKey },
    correlationId: headers.correlationId,
    ...(headers.chainId ? { chainId: headers.chainId } : {}),
    ...(headers.expiresAt ? { expiresAt: headers.expiresAt } : {}),
    receivedAt,
    enqueue: 'done',
    destinations,
  };
  const { deliveries } = accepted(message);
  // The one write of the happy path: the record with its deliveries and payload.
  const recorded = await runtime.messages.accept(message, deliveries, inline ? request.body : undefined);
  if (!recorded) return settleExisting(runtime, flowId, messageId);
  try {
    await runtime.queue.send(ticketsFor(message));
  } catch (error) {
    // Only now does the record become findable by the sweep; a repeated post queues it too.
    await runtime.messages
      .markPendingEnqueue(flowId, messageId, {
        at: runtime.clock.now().toISOString(),
        event: 'error',
        level: 'error',
        detail: 'the queue send failed; a repeated post of this id or the sweep queues it',
      })
      .catch((secondary) => runtime.logger.error('could not mark the message pending', { flowId, messageId, error: secondary as Error }));
    throw notQueued(runtime, message, error);
  }
  runtime.metrics.addMetric('MessagesAccepted', MetricUnit.Count, 1);
  return jsonResponse(202, acceptedBody(message));
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
