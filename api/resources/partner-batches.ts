import { MAX_HEADER_VALUE_BYTES } from '../../core/identifiers';
import type { Flow } from '../../core/model';
import { ProblemError, problemOf, type Problem } from '../../core/problems';
import type { Runtime } from '../../adapters/runtime';
import { ingestMessages, type IncomingMessage } from '../../services/ingest';
import { fail, jsonResponse, type HttpRequest, type HttpResponse } from '../http';
import type { DocumentedRoute } from '../router';
import { checkPayloadSize, messageFields, type FieldNames } from './message-input';
import { authorizeFlow, logRejection } from './partner-auth';

/**
 * Messages one batch may carry (SPEC: 1-100). The body's schema (`BatchRequest`) is in
 * partner-schemas.ts: entries are checked here one by one, and zod stays out of the ingest bundle.
 */
export const MAX_BATCH_MESSAGES = 100;

const ENTRY_FIELDS = new Set(['id', 'payload', 'encoding', 'contentType', 'chainId', 'correlationId', 'expiresAt']);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CONTENT_TYPE = /^[\x20-\x7e]+$/;

/** One result per message, in request order. */
export type BatchResult =
  | { messageId: string; status: 'accepted'; receivedAt: string }
  | { messageId: string; status: string; duplicate: true; receivedAt: string }
  | { messageId?: string; error: Problem };

function namesAt(index: number): FieldNames {
  const at = `messages[${index}]`;
  return { messageId: `${at}.id`, chainId: `${at}.chainId`, correlationId: `${at}.correlationId`, expiresAt: `${at}.expiresAt` };
}

function optionalString(entry: Record<string, unknown>, field: string, at: string): string | undefined {
  const value = entry[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail('invalid-header', `${at}.${field} must be a string.`);
  return value;
}

/** The bytes of a payload in its encoding; base64 must be canonical standard base64. */
function decodePayload(payload: string, encoding: 'utf8' | 'base64', at: string): Buffer {
  if (encoding === 'utf8') return Buffer.from(payload, 'utf8');
  if (!BASE64.test(payload)) fail('invalid-body', `${at}.payload is not valid base64 (standard alphabet, padded).`);
  return Buffer.from(payload, 'base64');
}

/**
 * One entry of a batch, checked exactly as a single post of it would be (GUID, then
 * chain, correlation and expiry, then the payload), plus what only JSON can get wrong.
 */
function readEntry(entry: unknown, index: number, flow: Flow, now: Date, passed: { messageId?: string }): IncomingMessage {
  const at = `messages[${index}]`;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail('invalid-body', `${at} must be a JSON object.`);
  const fields = entry as Record<string, unknown>;
  const id = fields.id;
  if (id !== undefined && typeof id !== 'string') fail('invalid-message-id', `${at}.id must be a string.`);
  const message = messageFields(
    {
      messageId: id,
      chainId: optionalString(fields, 'chainId', at),
      correlationId: optionalString(fields, 'correlationId', at),
      expiresAt: optionalString(fields, 'expiresAt', at),
    },
    flow,
    now,
    namesAt(index),
  );
  passed.messageId = message.messageId;
  const unknown = Object.keys(fields).filter((name) => !ENTRY_FIELDS.has(name));
  if (unknown.length > 0) fail('invalid-body', `${at} has unknown fields: ${unknown.join(', ')}.`);
  const contentType = optionalString(fields, 'contentType', at) ?? 'application/octet-stream';
  if (!CONTENT_TYPE.test(contentType) || Buffer.byteLength(contentType) > MAX_HEADER_VALUE_BYTES) {
    fail('invalid-header', `${at}.contentType must be 1-${MAX_HEADER_VALUE_BYTES} printable ASCII characters.`);
  }
  const encoding = fields.encoding ?? 'utf8';
  if (encoding !== 'utf8' && encoding !== 'base64') fail('invalid-body', `${at}.encoding must be "utf8" or "base64".`);
  if (fields.payload === undefined || fields.payload === '') fail('empty-payload', 'The message body is empty.');
  if (typeof fields.payload !== 'string') fail('invalid-body', `${at}.payload must be a string (use encoding "base64" for bytes).`);
  const body = decodePayload(fields.payload, encoding, at);
  checkPayloadSize(body.length, flow);
  return { ...message, contentType, body };
}

/** Room in a batch body for the JSON around the payloads and the other fields. */
const BATCH_ENVELOPE_BYTES = 64 * 1024;

/**
 * The largest batch body a flow takes: room for one message at the flow's limit in
 * base64, plus the envelope. So any single message that fits the flow fits a batch,
 * while a batch stays a bounded read (4 MiB flows: about 5.4 MiB, under Lambda's
 * 6 MB request limit). Each message is then held to the flow's limit on its own.
 */
export function batchBodyLimit(flow: Pick<Flow, 'maxPayloadBytes'>): number {
  return Math.ceil(flow.maxPayloadBytes / 3) * 4 + BATCH_ENVELOPE_BYTES;
}

/** The batch's messages, or a whole-request problem: a body that is not `{ messages: [1-100] }`. */
function readEnvelope(request: HttpRequest, flow: Flow): unknown[] {
  const bytes = request.oversizedBodyBytes ?? request.body.length;
  const limit = batchBodyLimit(flow);
  if (bytes > limit || request.oversizedBodyBytes !== undefined) {
    fail('payload-too-large', `The batch is ${bytes} bytes; flow ${flow.flowId} takes batches of at most ${limit} bytes.`);
  }
  if (bytes === 0) fail('invalid-body', 'The batch is empty; send { "messages": [...] } as JSON.');
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString('utf8'));
  } catch (error) {
    fail('invalid-body', `The batch is not valid JSON: ${(error as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    fail('invalid-body', 'The batch must be a JSON object { "messages": [...] }.');
  const extra = Object.keys(body).filter((name) => name !== 'messages');
  if (extra.length > 0) fail('invalid-body', `The batch has unknown fields: ${extra.join(', ')}.`);
  const { messages } = body as { messages?: unknown };
  if (!Array.isArray(messages)) fail('invalid-body', 'The batch must carry "messages", an array of 1-100 messages.');
  if (messages.length === 0) fail('invalid-body', 'The batch carries no messages; send 1-100.');
  if (messages.length > MAX_BATCH_MESSAGES) {
    fail('invalid-body', `The batch carries ${messages.length} messages; send at most ${MAX_BATCH_MESSAGES} per request.`);
  }
  return messages;
}

function problemFor(runtime: Runtime, request: HttpRequest, error: unknown): Problem {
  if (error instanceof ProblemError) return error.toProblem();
  runtime.logger.error('batch message failed', { requestId: request.requestId, error: error as Error });
  return problemOf('internal', `Internal error; quote request id ${request.requestId} to the operator.`, { requestId: request.requestId });
}

async function postBatch(runtime: Runtime, request: HttpRequest, flowId: string): Promise<HttpResponse> {
  const { partnerId, flow } = await authorizeFlow(runtime, request, flowId);
  const now = runtime.clock.now();
  let entries: unknown[];
  try {
    if (flow.status === 'disabled') fail('flow-disabled', `Flow ${flowId} is disabled and accepts no messages.`);
    entries = readEnvelope(request, flow);
  } catch (error) {
    if (error instanceof ProblemError) await logRejection(runtime, flowId, error.code, error.message, request);
    throw error;
  }

  const results = new Array<BatchResult>(entries.length);
  const valid: { message: IncomingMessage; index: number }[] = [];
  const rejections: Promise<void>[] = [];
  entries.forEach((entry, index) => {
    const passed: { messageId?: string } = {};
    try {
      valid.push({ message: readEntry(entry, index, flow, now, passed), index });
    } catch (error) {
      if (!(error instanceof ProblemError)) throw error;
      const id = (entry as { id?: unknown } | null)?.id;
      const messageId = typeof id === 'string' && id !== '' ? id : undefined;
      results[index] = { ...(messageId ? { messageId } : {}), error: error.toProblem() };
      // Logged as a single post's rejection would be: with the GUID once its fields passed.
      rejections.push(logRejection(runtime, flowId, error.code, error.message, request, passed.messageId));
    }
  });
  await Promise.all(rejections);

  // Receipt order keeps gaps for rejected entries: acceptance order is still the array's.
  const outcomes = await ingestMessages(
    runtime,
    flow,
    partnerId,
    valid.map(({ message }) => message),
    now,
    valid.map(({ index }) => index),
  );
  valid.forEach(({ index }, i) => {
    const outcome = outcomes[i]!;
    if (outcome.outcome === 'error') results[index] = { messageId: outcome.messageId, error: problemFor(runtime, request, outcome.error) };
    else if (outcome.outcome === 'duplicate') {
      const { message } = outcome;
      results[index] = { messageId: message.messageId, status: message.status, duplicate: true, receivedAt: message.receivedAt };
    } else results[index] = { messageId: outcome.message.messageId, status: 'accepted', receivedAt: outcome.message.receivedAt };
  });
  return jsonResponse(200, { flowId, results });
}

export function partnerBatchRoutes(runtime: Runtime): DocumentedRoute[] {
  return [
    {
      method: 'POST',
      path: '/v1/flows/{flowId}/batches',
      handler: (req, p) => postBatch(runtime, req, p.flowId!),
      doc: {
        operationId: 'postBatch',
        summary: 'Post a batch of messages',
        description:
          'Up to 100 messages in one request. Each is accepted or rejected on its own, exactly as if posted alone (same checks and codes, rejections written to the flow log), ' +
          'and the array order is the acceptance order. A GUID repeated inside the batch, or already accepted, is a duplicate. ' +
          'A result is returned only once its message is recorded and queued. Whole-request problems: authentication, an unknown or disabled flow, ' +
          "a body that is not `{ messages: [...] }` with 1-100 entries, or a body over the flow's batch limit (its `maxPayloadBytes` in base64 plus 64 KiB).",
        body: { schema: 'BatchRequest', required: true },
        responses: { 200: { description: 'One result per message, in request order.', schema: 'BatchResults' } },
        errors: ['invalid-body', 'unknown-flow', 'payload-too-large', 'flow-disabled'],
      },
    },
  ];
}
