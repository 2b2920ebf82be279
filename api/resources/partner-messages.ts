import { CORRELATION_ID_PATTERN, MAX_HEADER_VALUE_BYTES, MESSAGE_ID_PATTERN } from '../../core/identifiers';
import type { Flow } from '../../core/model';
import { ProblemError } from '../../core/problems';
import type { Runtime } from '../../adapters/runtime';
import { ingestMessages, type IncomingMessage } from '../../services/ingest';
import { fail, jsonResponse, type HttpRequest, type HttpResponse } from '../http';
import type { DocumentedRoute, HeaderDoc } from '../router';
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

const MESSAGE_ID_SCHEMA = { type: 'string', pattern: MESSAGE_ID_PATTERN.source };

/** The message's fields a single post carries in its headers, as its route documents them. */
const MESSAGE_HEADERS: HeaderDoc[] = [
  {
    name: 'x-aux-system-msg-id',
    description:
      'The message GUID, unique within the flow: 1-128 characters from `A-Z a-z 0-9 . _ : -`. Required unless `Idempotency-Key` is sent (400 `missing-message-id`).',
    schema: MESSAGE_ID_SCHEMA,
    example: 'order-2026-000123',
  },
  {
    name: 'Idempotency-Key',
    description: 'Alias of `x-aux-system-msg-id`; when both are sent they must be equal (else 400 `invalid-header`).',
    schema: MESSAGE_ID_SCHEMA,
  },
  {
    name: 'x-chain-id',
    description:
      'Chain id (same charset): a chain stays in one lane, in order; with `onFailure: suspend-chain` a failure suspends the rest of the chain.',
    schema: MESSAGE_ID_SCHEMA,
  },
  {
    name: 'x-correlation-id',
    description: 'Echoed to targets and in logs: 1-256 printable ASCII characters. Generated (UUID) when absent.',
    schema: { type: 'string', pattern: CORRELATION_ID_PATTERN.source },
  },
  {
    name: 'x-expires-at',
    description:
      "RFC 3339 date-time with offset: a message not delivered by then fails with type `expired`. Defaults to the flow's `expiresAfterSeconds`.",
    schema: { type: 'string', format: 'date-time' },
    example: '2026-01-31T12:00:00Z',
  },
];

export function partnerMessageRoutes(runtime: Runtime): DocumentedRoute[] {
  return [
    {
      method: 'POST',
      path: '/v1/flows/{flowId}/messages',
      handler: (req, p) => postMessage(runtime, req, p.flowId!),
      doc: {
        operationId: 'postMessage',
        summary: 'Post a message',
        description:
          'Accepts the body as the message payload, byte for byte with its Content-Type, exactly once per GUID in the flow. ' +
          'Acknowledged (202) only once durably recorded and queued. The same GUID again is positively acknowledged (200, `duplicate: true`) and never delivered twice. ' +
          'Rejections on an existing flow are written to its flow log; nothing rejected is stored or delivered.',
        headers: MESSAGE_HEADERS,
        body: {
          required: true,
          description:
            "The payload, any content type, not empty, at most the flow's `maxPayloadBytes` (default 4 MiB). Delivered byte for byte with the same Content-Type.",
        },
        responses: {
          202: { description: 'Accepted: recorded and queued for every destination.', schema: 'MessageAccepted' },
          200: { description: 'Duplicate GUID: already accepted; the body carries its current status.', schema: 'MessageDuplicate' },
        },
        errors: [
          'missing-message-id',
          'invalid-message-id',
          'invalid-header',
          'empty-payload',
          'unknown-flow',
          'payload-too-large',
          'flow-disabled',
        ],
      },
    },
    {
      method: 'GET',
      path: '/v1/flows/{flowId}/messages/{messageId}',
      handler: (req, p) => getMessage(runtime, req, p.flowId!, p.messageId!),
      // The operator API routes the same path to its own view (flow-messages.ts): one operation in the document.
      doc: {
        operationId: 'getMessage',
        summary: 'Read a message',
        description:
          "The partner API (API key of the flow's partner) answers `PartnerMessage`: status and per-destination delivery status.",
        responses: { 200: { description: 'The message.', schema: 'PartnerMessage' } },
        errors: ['unknown-flow', 'not-found'],
      },
    },
  ];
}
