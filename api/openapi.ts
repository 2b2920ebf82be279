import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { CORRELATION_ID_PATTERN, MESSAGE_ID_PATTERN, RESOURCE_ID_PATTERN } from '../core/identifiers';
import type {
  ConnectionAuth,
  ConnectionStatus,
  DeliveryStatus,
  FailureType,
  FlowCounts,
  FlowStatus,
  LogLevel,
  MessageStatus,
  ReportEvent,
} from '../core/model';
import { PROBLEM_STATUS, problemOf, type ProblemCode } from '../core/problems';
import { ReplayBody } from './resources/connections';
import { BulkRestartBody, PresignBody, RestartBody } from './resources/failed-events';
import { MAX_BATCH_MESSAGES } from './resources/partner-batches';
import {
  ConnectionAuthSchema,
  CorrelationId,
  CreatePartnerBody,
  ListQuery,
  MessageId,
  PutConnectionBody,
  PutFlowBody,
  ReauthorizeBody,
  ResourceId,
  RetryPolicySchema,
} from './schemas';

/**
 * The OpenAPI 3.1 description of both APIs, built from the zod schemas the handlers
 * validate with (requests) and the zod schemas below (responses). `npm run openapi`
 * writes it to docs/openapi.json; a test keeps that file equal to this build.
 */

export type OpenApiDocument = Record<string, unknown>;
type JsonSchema = Record<string, unknown>;

// ---------------------------------------------------------------------------
// Enumerations, checked against the domain types

/** A zod enum listing every member of the union `T`; a missing or foreign member does not compile. */
function enumOf<T extends string>() {
  return <const A extends readonly [T, ...T[]]>(
    values: A & ([Exclude<T, A[number]>] extends [never] ? unknown : { missing: Exclude<T, A[number]> }),
  ) => z.enum(values as A);
}

const DeliveryStatusSchema = enumOf<DeliveryStatus>()([
  'queued',
  'retrying',
  'paused',
  'inError',
  'delivered',
  'failed',
  'suspended',
  'discarded',
]);
const MessageStatusSchema = enumOf<MessageStatus>()([
  'accepted',
  'queued',
  'retrying',
  'paused',
  'inError',
  'delivered',
  'failed',
  'suspended',
  'discarded',
]);
const ConnectionStatusSchema = enumOf<ConnectionStatus>()(['online', 'offline', 'unauthorized']);
const FlowStatusSchema = enumOf<FlowStatus>()(['enabled', 'paused', 'disabled', 'stopped']);
const FailureTypeSchema = enumOf<FailureType>()(['business', 'timeout', 'unavailable', 'expired', 'configuration', 'internal']);
const LogLevelSchema = enumOf<LogLevel>()(['error', 'warning', 'info']);
const ReportEventSchema = enumOf<ReportEvent>()([
  'received',
  'queued',
  'attempt',
  'error',
  'warning',
  'paused',
  'resumed',
  'held',
  'retrying',
  'failed',
  'suspended',
  'payload-uploaded',
  'restarted',
  'recovered',
  'discarded',
  'delivered',
  'replayed',
  'download-url-issued',
  'upload-url-issued',
]);
const PROBLEM_CODES = Object.keys(PROBLEM_STATUS) as [ProblemCode, ...ProblemCode[]];
const ProblemCodeSchema = z.enum(PROBLEM_CODES);

// ---------------------------------------------------------------------------
// Response schemas (SPEC "Partner API", "Operator API", "Errors")

const Timestamp = z.string().meta({ format: 'date-time', description: 'RFC 3339 date-time (UTC).' });
const Count = z.number().int().min(0);
const Sha256 = z
  .string()
  .regex(/^([a-f0-9]{64})?$/)
  .meta({ description: 'Lower-case hex SHA-256 of the payload bytes.' });

const Problem = z
  .looseObject({
    type: z.string().meta({ format: 'uri', description: '`urn:sluice:problem:<code>`.' }),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string().meta({ description: 'What went wrong, for a human; never contains a secret.' }),
    code: ProblemCodeSchema,
    requestId: z.string().optional().meta({ description: 'With `internal`: quote it to the operator.' }),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'With `invalid-body`: every field that failed validation.' }),
  })
  .meta({ description: 'RFC 9457 problem details, served as `application/problem+json`.' });

const GatewayMessage = z
  .looseObject({ message: z.string() })
  .meta({ description: 'Answered by API Gateway itself (IAM denial, stage throttling), before Sluice runs.' });

const Health = z.object({ status: z.literal('ok') });

const MessageAccepted = z.looseObject({
  messageId: MessageId,
  flowId: ResourceId,
  status: z.literal('accepted'),
  receivedAt: Timestamp,
});

const MessageDuplicate = z.looseObject({
  messageId: MessageId,
  flowId: ResourceId,
  status: MessageStatusSchema,
  duplicate: z.literal(true),
  receivedAt: Timestamp,
});

/**
 * The batch body as the API reference describes it. Entries are checked one by one by
 * `readEntry` in `resources/partner-batches.ts` (a bad entry is that message's error, not
 * the request's), so this schema documents the shape and is not what validates it. It is
 * kept here, not beside the handler, so the ingest bundle carries no zod.
 */
const BatchBody = z
  .object({
    messages: z
      .array(
        z
          .object({
            id: z.string().regex(MESSAGE_ID_PATTERN).meta({ description: 'The message GUID, same rules as `x-aux-system-msg-id`.' }),
            payload: z.string().min(1).meta({ description: 'The payload: text, or base64 with `encoding: "base64"`.' }),
            encoding: z.enum(['utf8', 'base64']).optional().meta({ description: 'Default `utf8`.' }),
            contentType: z.string().optional().meta({ description: 'Delivered as Content-Type. Default `application/octet-stream`.' }),
            chainId: z.string().regex(MESSAGE_ID_PATTERN).optional(),
            correlationId: z.string().regex(CORRELATION_ID_PATTERN).optional(),
            expiresAt: z.string().meta({ format: 'date-time' }).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(MAX_BATCH_MESSAGES),
  })
  .strict();

const BatchResult = z
  .union([
    z.looseObject({ messageId: MessageId, status: z.literal('accepted'), receivedAt: Timestamp }),
    z.looseObject({ messageId: MessageId, status: MessageStatusSchema, duplicate: z.literal(true), receivedAt: Timestamp }),
    z.looseObject({
      messageId: z.string().optional().meta({ description: 'The `id` as sent, when it was a non-empty string.' }),
      error: Problem,
    }),
  ])
  .meta({ description: 'What became of one message: accepted, a duplicate (also a GUID repeated in the batch), or its own problem.' });

const BatchResults = z.looseObject({
  flowId: ResourceId,
  results: z.array(BatchResult).meta({ description: 'One result per message, in request order.' }),
});

const PartnerMessage = z
  .looseObject({
    messageId: MessageId,
    flowId: ResourceId,
    status: MessageStatusSchema,
    receivedAt: Timestamp,
    deliveries: z.array(z.looseObject({ connectionId: ResourceId, status: DeliveryStatusSchema, attempts: Count })),
  })
  .meta({ description: 'A message as its partner sees it.' });

const DeliveryError = z.looseObject({
  httpStatus: z.number().int().optional(),
  message: z.string(),
  bodyExcerpt: z.string().optional(),
});

const DeliveryView = z.looseObject({
  connectionId: ResourceId,
  lane: Count,
  status: DeliveryStatusSchema,
  attempts: Count,
  failureType: FailureTypeSchema.optional(),
  lastError: DeliveryError.optional(),
  nextAttemptAt: Timestamp.optional(),
  deliveredAt: Timestamp.optional(),
});

const ReportEntry = z.looseObject({
  at: Timestamp,
  event: ReportEventSchema,
  level: LogLevelSchema,
  detail: z.string(),
  connectionId: ResourceId.optional(),
  attempt: z.number().int().min(1).optional(),
  httpStatus: z.number().int().optional(),
  durationMs: Count.optional(),
  by: z.string().optional().meta({ description: 'The operator who caused it (operator actions).' }),
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
    chainId: MessageId.optional(),
    expiresAt: Timestamp.optional(),
    retainedUntil: Timestamp.optional().meta({
      description:
        "Set once every delivery is `delivered` or `discarded`: the message, its report and payloads are deleted after this (the flow's `retentionDays` after it became final; DynamoDB and S3 delete within days after).",
    }),
    deliveries: z.array(DeliveryView),
    report: z.array(ReportEntry).meta({ description: 'The execution report: every event of the message, oldest first.' }),
  })
  .meta({ description: 'A message as an operator sees it: deliveries and execution report.' });

const MessageSummary = z.looseObject({
  messageId: MessageId,
  flowId: ResourceId,
  status: MessageStatusSchema,
  receivedAt: Timestamp,
  bytes: Count,
  contentType: z.string(),
  chainId: MessageId.optional(),
  correlationId: CorrelationId,
});

const Cursor = z.string().nullable().meta({
  description:
    'Opaque; pass as `cursor` for the next page of the same listing (same filters), else 400 `invalid-query`. `null` on the last page.',
});

const MessagePage = z.looseObject({ items: z.array(MessageSummary), cursor: Cursor });

const Partner = z.looseObject({ partnerId: ResourceId, name: z.string(), createdAt: Timestamp });
const PartnerList = z.looseObject({ items: z.array(Partner) });
const ApiKey = z.string().meta({ description: 'Shown once: Sluice stores only its hash.' });
const PartnerCreated = z.looseObject({ partnerId: ResourceId, name: z.string(), apiKey: ApiKey });
const PartnerKey = z.looseObject({ apiKey: ApiKey });

const Connection = PutConnectionBody.omit({ auth: true, signingSecret: true })
  .extend({
    connectionId: ResourceId,
    auth: z
      .looseObject({ type: enumOf<ConnectionAuth['type']>()(['none', 'bearer', 'basic', 'header']) })
      .meta({ description: 'Only the credential type; credentials are never returned.' }),
    signingSecret: z.literal('set').optional().meta({ description: '`set` when requests are signed; the secret is never returned.' }),
    status: ConnectionStatusSchema,
    statusReason: z.string().optional(),
    statusSince: Timestamp,
    lastProbeAt: Timestamp.optional(),
    nextProbeAt: Timestamp.optional(),
    consecutiveFailures: Count.meta({ description: 'Consecutive connection errors or timeouts; `offlineAfter` of them set it offline.' }),
    manualOffline: z.boolean().optional().meta({ description: 'Set offline by an operator: not probed until set online by hand.' }),
    heldBy: z.string().optional().meta({ description: '`hold-all`: the failed-event id whose retry holds every lane.' }),
    holdUntil: Timestamp.optional(),
    flows: z.array(ResourceId).meta({ description: 'Flows that deliver to this connection.' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .loose()
  .meta({ description: 'A connection without its secrets.' });

const ConnectionList = z.looseObject({ items: z.array(Connection) });

const FlowCountsSchema = z.looseObject({
  accepted: Count,
  queued: Count,
  delivered: Count,
  failed: Count,
  suspended: Count,
  inError: Count,
}) satisfies z.ZodType<FlowCounts>;

const Flow = PutFlowBody.extend({
  flowId: ResourceId,
  status: FlowStatusSchema,
  statusReason: z.string().optional(),
  statusSince: Timestamp,
  operatorPaused: z.boolean().optional().meta({ description: 'Paused by an operator: every branch holds until `resume`.' }),
  autoPausedBy: z.array(ResourceId).optional().meta({ description: 'Connections whose outage paused the flow.' }),
  counts: FlowCountsSchema,
  createdAt: Timestamp,
  updatedAt: Timestamp,
}).loose();

const FlowList = z.looseObject({ items: z.array(Flow) });

const FlowLogEntry = z.looseObject({
  at: Timestamp,
  level: LogLevelSchema,
  code: z.string().meta({ description: 'A problem code for rejections (e.g. `unauthenticated`), `flow-<action>` for state changes.' }),
  detail: z.string(),
  messageId: MessageId.optional(),
});
const FlowLog = z.looseObject({ entries: z.array(FlowLogEntry) });

const FailedEventId = z
  .string()
  .regex(new RegExp(`^${inner(RESOURCE_ID_PATTERN)}~${inner(MESSAGE_ID_PATTERN)}~${inner(RESOURCE_ID_PATTERN)}$`))
  .meta({ description: '`<flowId>~<messageId>~<connectionId>`.' });

const FailedEvent = z.looseObject({
  id: FailedEventId,
  flowId: ResourceId,
  messageId: MessageId,
  partnerId: z.string(),
  connectionId: ResourceId,
  status: DeliveryStatusSchema.meta({ description: '`failed` or `inError` while open; the new status after an action.' }),
  type: FailureTypeSchema,
  suggestedAction: z.string(),
  error: DeliveryError,
  attempts: Count.meta({ description: 'Requests sent to the target, across restarts (the last `x-sluice-attempt`).' }),
  attemptsSinceRestart: Count.meta({ description: 'Requests since the last operator restart; equal to `attempts` if never restarted.' }),
  failedAt: Timestamp,
  suspendedCount: Count.meta({ description: 'Later messages of its chain suspended behind it.' }),
  payload: z.looseObject({
    bytes: Count,
    contentType: z.string(),
    sha256: Sha256,
    corrected: z.boolean().meta({
      description:
        'The payload shown is an operator correction: uploaded (and used by the next restart) or already applied. bytes, contentType and sha256 describe it, as the download URL serves it.',
    }),
  }),
});
const FailedEventPage = z.looseObject({ items: z.array(FailedEvent), cursor: Cursor });
const BulkRestartMatched = z.looseObject({
  matched: Count.meta({ description: '`dryRun`: the failed events a restart with this body would take up now.' }),
});
const BulkRestartResult = z.looseObject({
  restarted: Count,
  skipped: Count.meta({ description: 'Events whose uploaded correction was invalid (the upload was removed).' }),
});
const ReplayResult = z.looseObject({
  replayed: Count.meta({ description: 'Deliveries this call queued again.' }),
  until: Timestamp.meta({
    description: 'The end of the window (exclusive): `until` as given, or the time of the first call, never later than it.',
  }),
  cursor: Cursor.meta({
    description:
      'Present (not null) when the call stopped at its `limit` or time budget before the end of the window: send the same body with this cursor to go on.',
  }),
});
const DownloadUrl = z.looseObject({
  url: z.string().meta({ format: 'uri', description: 'Presigned GET of exactly one object: the corrected payload once uploaded.' }),
  expiresAt: Timestamp.meta({ description: 'At most 15 minutes after issue.' }),
});
const UploadUrl = z.looseObject({
  url: z.string().meta({ format: 'uri' }),
  method: z.enum(['PUT', 'POST']).meta({ description: '`PUT` the bytes; with `POST`, send `fields` as a multipart form.' }),
  fields: z.record(z.string(), z.string()).optional(),
  expiresAt: Timestamp.meta({ description: 'At most 15 minutes after issue.' }),
  maxBytes: z.number().int().min(1).meta({ description: "The flow's payload limit; larger uploads are refused on restart." }),
});

/** Query strings: the list query of api/schemas.ts plus each listing's filters. */
const FlowMessagesQuery = ListQuery.extend({ status: MessageStatusSchema.optional() });
const FailedEventsQuery = ListQuery.extend({
  flowId: ResourceId.optional(),
  connectionId: ResourceId.optional(),
  type: FailureTypeSchema.optional(),
});

/** Every schema that gets a name in `components.schemas`. */
const REQUEST_SCHEMAS: Record<string, z.ZodType> = {
  ConnectionAuth: ConnectionAuthSchema,
  RetryPolicyInput: RetryPolicySchema,
  CreatePartnerRequest: CreatePartnerBody,
  PutConnectionRequest: PutConnectionBody,
  ReauthorizeRequest: ReauthorizeBody,
  PutFlowRequest: PutFlowBody,
  BulkRestartRequest: BulkRestartBody,
  ReplayRequest: ReplayBody,
  BatchRequest: BatchBody,
  PresignRequest: PresignBody,
  RestartRequest: RestartBody,
};

const RESPONSE_SCHEMAS: Record<string, z.ZodType> = {
  Problem,
  ProblemCode: ProblemCodeSchema,
  GatewayMessage,
  Health,
  MessageStatus: MessageStatusSchema,
  DeliveryStatus: DeliveryStatusSchema,
  ConnectionStatus: ConnectionStatusSchema,
  FlowStatus: FlowStatusSchema,
  FailureType: FailureTypeSchema,
  MessageAccepted,
  MessageDuplicate,
  PartnerMessage,
  DeliveryError,
  Delivery: DeliveryView,
  ReportEntry,
  MessageDetail,
  MessageSummary,
  MessagePage,
  Partner,
  PartnerList,
  PartnerCreated,
  PartnerKey,
  RetryPolicy: RetryPolicySchema,
  Connection,
  ConnectionList,
  FlowCounts: FlowCountsSchema,
  Flow,
  FlowList,
  FlowLogEntry,
  FlowLog,
  FailedEvent,
  FailedEventPage,
  BulkRestartResult,
  BulkRestartMatched,
  ReplayResult,
  BatchResult,
  BatchResults,
  DownloadUrl,
  UploadUrl,
};

/** Response zod schemas by component name: tests check the handlers' views against them. */
export const responseSchemas = RESPONSE_SCHEMAS;

function inner(pattern: RegExp): string {
  return pattern.source.replace(/^\^/, '').replace(/\$$/, '');
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Formats JSON Schema and OpenAPI tools know; zod also emits its own (`starts_with`), beside a `pattern`. */
const STANDARD_FORMATS = new Set([
  'date-time',
  'date',
  'time',
  'duration',
  'email',
  'uri',
  'uri-reference',
  'uuid',
  'ipv4',
  'ipv6',
  'hostname',
  'int32',
  'int64',
  'byte',
  'binary',
]);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs']);
const SCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'allOf', 'prefixItems']);
const SUBSCHEMAS = new Set(['items', 'additionalProperties', 'not', 'propertyNames', 'contains']);

/**
 * Drops what zod emits that says nothing in the document: `$schema` and `$id` (the
 * document is the context), non-standard formats, the safe-integer bounds of every
 * `int()`, and `additionalProperties: {}` of loose objects. Values (`default`,
 * `const`, `enum`) are kept as they are.
 */
function tidy(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(schema)) {
    if (key === '$schema' || key === '$id') continue;
    if (key === 'format' && typeof child === 'string' && !STANDARD_FORMATS.has(child)) continue;
    if ((key === 'maximum' || key === 'minimum') && Math.abs(child as number) === Number.MAX_SAFE_INTEGER) continue;
    if (key === 'additionalProperties' && child !== null && typeof child === 'object' && Object.keys(child).length === 0) continue;
    if (SCHEMA_MAPS.has(key))
      out[key] = Object.fromEntries(Object.entries(child as Record<string, unknown>).map(([name, sub]) => [name, tidy(sub)]));
    else if (SCHEMA_LISTS.has(key)) out[key] = (child as unknown[]).map(tidy);
    else if (SUBSCHEMAS.has(key)) out[key] = tidy(child);
    else out[key] = child;
  }
  return out;
}

function tidyAll(schemas: Record<string, unknown>): Record<string, JsonSchema> {
  return Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, tidy(schema) as JsonSchema]));
}

function convertRegistry(schemas: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const converted = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    uri: (id) => `#/components/schemas/${id}`,
  });
  return tidyAll(converted.schemas);
}

function convert(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  return tidy(z.toJSONSchema(schema, { target: 'draft-2020-12', io })) as JsonSchema;
}

// ---------------------------------------------------------------------------
// Operations

type Api = 'partner' | 'operator' | 'both';
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface Operation {
  api: Api;
  method: Method;
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  /** No authentication (the health check). */
  public?: boolean;
  partnerHeaders?: boolean;
  query?: z.ZodObject;
  /** `payload`: the partner's raw message; otherwise a request component name. */
  body?: 'payload' | { schema: string; required: boolean; description?: string };
  responses: Record<number, { description: string; schema?: JsonSchema }>;
  errors: ProblemCode[];
}

/** Errors every operator route can answer: local bearer token, IAM on AWS, stage throttling, internal errors. */
const OPERATOR_ERRORS: ProblemCode[] = ['unauthenticated', 'forbidden', 'throttled', 'internal'];
const PARTNER_ERRORS: ProblemCode[] = ['unauthenticated', 'forbidden', 'throttled', 'internal'];
const op = (errors: ProblemCode[]) => [...errors, ...OPERATOR_ERRORS];

const connectionAction = (name: string, summary: string, description: string, extra: Partial<Operation> = {}): Operation => ({
  api: 'operator',
  method: 'POST',
  path: `/v1/connections/{connectionId}/${name}`,
  operationId: `${name}Connection`,
  summary,
  description,
  responses: { 200: { description: 'The connection after the action.', schema: ref('Connection') } },
  errors: op(['not-found']),
  ...extra,
});

const flowAction = (name: string, summary: string, description: string): Operation => ({
  api: 'operator',
  method: 'POST',
  path: `/v1/flows/{flowId}/${name}`,
  operationId: `${name}Flow`,
  summary,
  description,
  responses: { 200: { description: 'The flow after the action.', schema: ref('Flow') } },
  errors: op(['unknown-flow']),
});

const failedEventAction = (
  name: string,
  operationId: string,
  summary: string,
  description: string,
  extra: Partial<Operation>,
): Operation => ({
  api: 'operator',
  method: 'POST',
  path: `/v1/failed-events/{id}/${name}`,
  operationId,
  summary,
  description,
  responses: {},
  errors: op(['not-found', 'conflict']),
  ...extra,
});

const OPERATIONS: Operation[] = [
  // Partner API
  {
    api: 'partner',
    method: 'POST',
    path: '/v1/flows/{flowId}/messages',
    operationId: 'postMessage',
    summary: 'Post a message',
    description:
      'Accepts the body as the message payload, byte for byte with its Content-Type, exactly once per GUID in the flow. ' +
      'Acknowledged (202) only once durably recorded and queued. The same GUID again is positively acknowledged (200, `duplicate: true`) and never delivered twice. ' +
      'Rejections on an existing flow are written to its flow log; nothing rejected is stored or delivered.',
    partnerHeaders: true,
    body: 'payload',
    responses: {
      202: { description: 'Accepted: recorded and queued for every destination.', schema: ref('MessageAccepted') },
      200: { description: 'Duplicate GUID: already accepted; the body carries its current status.', schema: ref('MessageDuplicate') },
    },
    errors: [
      'missing-message-id',
      'invalid-message-id',
      'invalid-header',
      'empty-payload',
      'unknown-flow',
      'payload-too-large',
      'flow-disabled',
      ...PARTNER_ERRORS,
    ],
  },
  {
    api: 'partner',
    method: 'POST',
    path: '/v1/flows/{flowId}/batches',
    operationId: 'postBatch',
    summary: 'Post a batch of messages',
    description:
      'Up to 100 messages in one request. Each is accepted or rejected on its own, exactly as if posted alone (same checks and codes, rejections written to the flow log), ' +
      'and the array order is the acceptance order. A GUID repeated inside the batch, or already accepted, is a duplicate. ' +
      'A result is returned only once its message is recorded and queued. Whole-request problems: authentication, an unknown or disabled flow, ' +
      "a body that is not `{ messages: [...] }` with 1-100 entries, or a body over the flow's batch limit (its `maxPayloadBytes` in base64 plus 64 KiB).",
    body: { schema: 'BatchRequest', required: true },
    responses: { 200: { description: 'One result per message, in request order.', schema: ref('BatchResults') } },
    errors: ['invalid-body', 'unknown-flow', 'payload-too-large', 'flow-disabled', ...PARTNER_ERRORS],
  },
  {
    api: 'both',
    method: 'GET',
    path: '/v1/flows/{flowId}/messages/{messageId}',
    operationId: 'getMessage',
    summary: 'Read a message',
    description:
      "Served by both APIs. The partner API (API key of the flow's partner) answers `PartnerMessage`: status and per-destination delivery status. " +
      'The operator API answers `MessageDetail`: deliveries with lanes and errors, and the execution report.',
    responses: {
      200: {
        description: 'The message.',
        schema: { anyOf: [ref('PartnerMessage'), ref('MessageDetail')] },
      },
    },
    errors: ['unknown-flow', 'not-found', ...PARTNER_ERRORS],
  },

  // Operator API: health
  {
    api: 'operator',
    method: 'GET',
    path: '/health',
    operationId: 'health',
    summary: 'Health check',
    description: 'No authentication and no data.',
    public: true,
    responses: { 200: { description: 'The API answers.', schema: ref('Health') } },
    errors: [],
  },

  // Operator API: partners
  {
    api: 'operator',
    method: 'POST',
    path: '/v1/partners',
    operationId: 'createPartner',
    summary: 'Create a partner',
    description: 'Returns its API key once; Sluice keeps only a hash.',
    body: { schema: 'CreatePartnerRequest', required: true },
    responses: { 201: { description: 'Created; the API key is shown only now.', schema: ref('PartnerCreated') } },
    errors: op(['invalid-body', 'conflict']),
  },
  {
    api: 'operator',
    method: 'GET',
    path: '/v1/partners',
    operationId: 'listPartners',
    summary: 'List partners',
    responses: { 200: { description: 'Every partner (no keys).', schema: ref('PartnerList') } },
    errors: op([]),
  },
  {
    api: 'operator',
    method: 'POST',
    path: '/v1/partners/{partnerId}/keys',
    operationId: 'rotatePartnerKey',
    summary: "Rotate a partner's API key",
    description: 'The previous key stops working; the new one is shown once.',
    responses: { 201: { description: 'The new API key.', schema: ref('PartnerKey') } },
    errors: op(['not-found']),
  },
  {
    api: 'operator',
    method: 'DELETE',
    path: '/v1/partners/{partnerId}',
    operationId: 'deletePartner',
    summary: 'Delete a partner',
    description: 'Deletes the partner and its API key. Refused (409 `conflict`) while a flow uses the partner.',
    responses: { 204: { description: 'Deleted.' } },
    errors: op(['not-found', 'conflict']),
  },

  // Operator API: connections
  {
    api: 'operator',
    method: 'PUT',
    path: '/v1/connections/{connectionId}',
    operationId: 'putConnection',
    summary: 'Create or replace a connection',
    description:
      'Outside local mode the URL must be https; loopback, link-local and unspecified addresses are refused (private ranges only when the deployment allows them).',
    body: { schema: 'PutConnectionRequest', required: true },
    responses: { 200: { description: 'The connection (secrets never returned).', schema: ref('Connection') } },
    errors: op(['invalid-body']),
  },
  {
    api: 'operator',
    method: 'GET',
    path: '/v1/connections',
    operationId: 'listConnections',
    summary: 'List connections',
    responses: { 200: { description: 'Every connection.', schema: ref('ConnectionList') } },
    errors: op([]),
  },
  {
    api: 'operator',
    method: 'GET',
    path: '/v1/connections/{connectionId}',
    operationId: 'getConnection',
    summary: 'Read a connection',
    responses: { 200: { description: 'The connection.', schema: ref('Connection') } },
    errors: op(['not-found']),
  },
  {
    api: 'operator',
    method: 'DELETE',
    path: '/v1/connections/{connectionId}',
    operationId: 'deleteConnection',
    summary: 'Delete a connection',
    description: 'Deletes the connection and cancels its probes. Refused (409 `conflict`) while a flow uses it.',
    responses: { 204: { description: 'Deleted.' } },
    errors: op(['not-found', 'conflict']),
  },
  connectionAction(
    'offline',
    'Set a connection offline',
    'Traffic holds (no attempts spent) and its flows pause; not probed until set online by hand.',
  ),
  connectionAction('online', 'Set a connection online', 'Its flows resume and held traffic is released in order.'),
  connectionAction(
    'probe',
    'Probe a connection now',
    'Runs the probe request at once; on success the connection goes online and its flows resume.',
  ),
  connectionAction(
    'reauthorize',
    'Replace credentials and probe',
    'Stores the new credentials, probes at once; on success the held delivery is attempted again first.',
    { body: { schema: 'ReauthorizeRequest', required: true }, errors: op(['invalid-body', 'not-found']) },
  ),
  connectionAction(
    'replay',
    'Replay delivered messages',
    'SPEC delivery semantics 17, for a target restored from a backup: queues again the deliveries to this connection that are `delivered`, of messages received in [`since`, `until`), ' +
      'of one flow or of every flow that uses the connection. They are delivered again in their original order per lane, after what is already queued, every attempt flagged ' +
      '`x-sluice-possible-duplicate: true`, and their execution reports show `replayed`. One call replays at most `limit` (1,000) deliveries and starts no new chunk of 100 after 10 seconds; ' +
      'when it stops early the answer carries a `cursor`: send the same body with it to go on, in order. The message listing trails the records by a few seconds (the stream), so messages received just before the call may not be replayed yet.',
    {
      operationId: 'replayConnection',
      body: { schema: 'ReplayRequest', required: true },
      responses: { 202: { description: 'Queued again.', schema: ref('ReplayResult') } },
      errors: op(['invalid-body', 'not-found', 'unknown-flow', 'conflict']),
    },
  ),

  // Operator API: flows
  {
    api: 'operator',
    method: 'PUT',
    path: '/v1/flows/{flowId}',
    operationId: 'putFlow',
    summary: 'Create or replace a flow',
    description: 'The partner and every destination connection must exist.',
    body: { schema: 'PutFlowRequest', required: true },
    responses: { 200: { description: 'The flow.', schema: ref('Flow') } },
    errors: op(['invalid-body']),
  },
  {
    api: 'operator',
    method: 'GET',
    path: '/v1/flows',
    operationId: 'listFlows',
    summary: 'List flows',
    responses: { 200: { description: 'Every flow with its counts.', schema: ref('FlowList') } },
    errors: op([]),
  },
  {
    api: 'operator',
    method: 'GET',
    path: '/v1/flows/{flowId}',
    operationId: 'getFlow',
    summary: 'Read a flow',
    responses: { 200: { description: 'The flow with its counts.', schema: ref('Flow') } },
    errors: op(['unknown-flow']),
  },
  {
    api: 'operator',
    method: 'DELETE',
    path: '/v1/flows/{flowId}',
    operationId: 'deleteFlow',
    summary: 'Delete a flow',
    description:
      'Deletes the flow with its counters and log. Refused (409 `conflict`) unless the flow is disabled and every delivery of its messages is final (`delivered` or `discarded`). ' +
      'Its messages and payloads stay until their retention ends.',
    responses: { 204: { description: 'Deleted.' } },
    errors: op(['unknown-flow', 'conflict']),
  },
  flowAction('disable', 'Disable a flow', 'New messages are rejected with 409 `flow-disabled`.'),
  flowAction('enable', 'Enable a flow', 'Accepts messages again and clears the flow log.'),
  flowAction('pause', 'Pause a flow', 'Messages are accepted and queued but not delivered.'),
  flowAction('resume', 'Resume a flow', 'Delivery continues in order; the flow log is kept.'),
  flowAction('start', 'Start a stopped flow', 'After `backoutThreshold` internal failures in a row stopped it.'),
  {
    api: 'operator',
    method: 'GET',
    path: '/v1/flows/{flowId}/log',
    operationId: 'getFlowLog',
    summary: "Read a flow's log",
    description: 'What failed before a message was accepted (bad key, bad GUID, too large, flow disabled) and state changes.',
    responses: { 200: { description: 'The flow log.', schema: ref('FlowLog') } },
    errors: op(['unknown-flow']),
  },
  {
    api: 'operator',
    method: 'GET',
    path: '/v1/flows/{flowId}/messages',
    operationId: 'listMessages',
    summary: "List a flow's messages",
    query: FlowMessagesQuery,
    responses: { 200: { description: 'One page of messages.', schema: ref('MessagePage') } },
    errors: op(['invalid-query', 'unknown-flow']),
  },

  // Operator API: failed events
  {
    api: 'operator',
    method: 'GET',
    path: '/v1/failed-events',
    operationId: 'listFailedEvents',
    summary: 'List failed events',
    description: 'Deliveries that are `failed` or `inError`. Keep the same filters when paging: a cursor is bound to its listing.',
    query: FailedEventsQuery,
    responses: { 200: { description: 'One page of failed events.', schema: ref('FailedEventPage') } },
    errors: op(['invalid-query']),
  },
  {
    api: 'operator',
    method: 'POST',
    path: '/v1/failed-events/restart',
    operationId: 'restartFailedEvents',
    summary: 'Restart failed events in bulk',
    description:
      'Restarts every `failed` event matching the filter that failed before the call began, each with its corrected payload when one was uploaded.',
    body: {
      schema: 'BulkRestartRequest',
      required: true,
      description: '`{}` restarts every failed event; `since`/`until` bound `failedAt` (inclusive); `dryRun: true` only counts.',
    },
    responses: {
      200: { description: '`dryRun`: how many events would be restarted; nothing changed.', schema: ref('BulkRestartMatched') },
      202: { description: 'Restarted.', schema: ref('BulkRestartResult') },
    },
    errors: op(['invalid-body']),
  },
  {
    api: 'operator',
    method: 'GET',
    path: '/v1/failed-events/{id}',
    operationId: 'getFailedEvent',
    summary: 'Read a failed event',
    responses: { 200: { description: 'The failed event.', schema: ref('FailedEvent') } },
    errors: op(['not-found']),
  },
  failedEventAction(
    'download-url',
    'createDownloadUrl',
    'Presigned download URL',
    'A presigned GET of the current payload (the corrected one once uploaded).',
    {
      body: { schema: 'PresignRequest', required: false },
      responses: { 200: { description: 'The URL.', schema: ref('DownloadUrl') } },
      errors: op(['invalid-body', 'not-found', 'conflict']),
    },
  ),
  failedEventAction(
    'upload-url',
    'createUploadUrl',
    'Presigned upload URL',
    "A presigned PUT (or POST with `fields`) for a corrected payload, bounded by the flow's payload limit.",
    {
      body: { schema: 'PresignRequest', required: false },
      responses: { 200: { description: 'The URL.', schema: ref('UploadUrl') } },
      errors: op(['invalid-body', 'not-found', 'conflict']),
    },
  ),
  failedEventAction(
    'restart',
    'restartFailedEvent',
    'Restart a failed event',
    'Re-queues the delivery (with the corrected payload when one was uploaded, checked for size and sha256) and releases a suspended chain in order.',
    {
      body: { schema: 'RestartRequest', required: false },
      responses: { 202: { description: 'Re-queued; the event as it is now.', schema: ref('FailedEvent') } },
      errors: op(['invalid-body', 'not-found', 'conflict']),
    },
  ),
  failedEventAction(
    'recover',
    'recoverFailedEvent',
    'Recover an in-error delivery',
    'For `inError` (a flow with `autoRetry: false`): the held delivery is attempted again.',
    {
      responses: { 202: { description: 'Queued again; the event as it is now.', schema: ref('FailedEvent') } },
    },
  ),
  failedEventAction(
    'discard',
    'discardFailedEvent',
    'Discard a failed event',
    'Kept for audit, never delivered; releases a suspended chain in order.',
    {
      responses: { 200: { description: 'Discarded; the event as it is now.', schema: ref('FailedEvent') } },
    },
  ),
];

// ---------------------------------------------------------------------------
// Document assembly

const PATH_PARAMETERS: Record<string, { schema: z.ZodType; description: string }> = {
  flowId: { schema: ResourceId, description: 'Flow id.' },
  connectionId: { schema: ResourceId, description: 'Connection id.' },
  partnerId: { schema: ResourceId, description: 'Partner id.' },
  messageId: { schema: MessageId, description: 'The message GUID (`x-aux-system-msg-id`).' },
  id: { schema: FailedEventId, description: 'Failed-event id.' },
};

function partnerHeaderParameters(): JsonSchema[] {
  const messageId = convert(MessageId);
  return [
    {
      name: 'x-aux-system-msg-id',
      in: 'header',
      required: false,
      description:
        'The message GUID, unique within the flow: 1-128 characters from `A-Z a-z 0-9 . _ : -`. Required unless `Idempotency-Key` is sent (400 `missing-message-id`).',
      schema: messageId,
      example: 'order-2026-000123',
    },
    {
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'Alias of `x-aux-system-msg-id`; when both are sent they must be equal (else 400 `invalid-header`).',
      schema: messageId,
    },
    {
      name: 'x-chain-id',
      in: 'header',
      required: false,
      description:
        'Chain id (same charset): a chain stays in one lane, in order; with `onFailure: suspend-chain` a failure suspends the rest of the chain.',
      schema: messageId,
    },
    {
      name: 'x-correlation-id',
      in: 'header',
      required: false,
      description: 'Echoed to targets and in logs: 1-256 printable ASCII characters. Generated (UUID) when absent.',
      schema: convert(CorrelationId),
    },
    {
      name: 'x-expires-at',
      in: 'header',
      required: false,
      description:
        "RFC 3339 date-time with offset: a message not delivered by then fails with type `expired`. Defaults to the flow's `expiresAfterSeconds`.",
      schema: convert(z.string().meta({ format: 'date-time' })),
      example: '2026-01-31T12:00:00Z',
    },
  ];
}

function queryParameters(query: z.ZodObject): JsonSchema[] {
  const schema = convert(query) as { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(schema.properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: schema.required?.includes(name) ?? false,
    schema: property,
  }));
}

const EXAMPLE: Record<ProblemCode, { detail: string; extensions?: Record<string, unknown> }> = {
  unauthenticated: { detail: 'An API key is required: Authorization: Bearer <apiKey> or x-api-key.' },
  forbidden: { detail: 'Partner acme may not post to flow orders.' },
  'unknown-flow': { detail: 'Flow orders does not exist.' },
  'not-found': { detail: 'Message order-1 does not exist in flow orders.' },
  'missing-message-id': { detail: 'The x-aux-system-msg-id header (or Idempotency-Key) is required.' },
  'invalid-message-id': { detail: 'The message id must be 1-128 characters from A-Z a-z 0-9 . _ : -' },
  'invalid-header': { detail: 'x-expires-at must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z.' },
  'empty-payload': { detail: 'The message body is empty.' },
  'invalid-body': {
    detail: 'Invalid body: timeoutMs: Too big: expected number to be <=60000',
    extensions: { errors: [{ field: 'timeoutMs', message: 'Too big: expected number to be <=60000' }] },
  },
  'invalid-query': { detail: 'Invalid query: cursor: not a cursor of this listing (keep the same filters when paging).' },
  'invalid-path': { detail: 'The path segment "%E0%A4%A" is not valid percent-encoded UTF-8.' },
  'method-not-allowed': { detail: 'PATCH is not supported on /v1/flows/orders; use DELETE, GET, PUT.' },
  'payload-too-large': { detail: 'The payload is 5000000 bytes; flow orders accepts at most 4194304.' },
  'header-too-large': { detail: 'The request line and headers exceed 65536 bytes.' },
  'flow-disabled': { detail: 'Flow orders is disabled and accepts no messages.' },
  conflict: { detail: 'Failed event orders~order-1~erp is delivered; only a failed or in-error delivery can be discarded.' },
  throttled: { detail: 'Too many requests; retry later.' },
  internal: {
    detail: 'Internal error; quote request id 3f2b9c0e-6d1a-4c55-9d0e-1b7a2f4c8e11 to the operator.',
    extensions: { requestId: '3f2b9c0e-6d1a-4c55-9d0e-1b7a2f4c8e11' },
  },
};

const STATUS_NOTE: Partial<Record<number, (api: Api) => string>> = {
  401: (api) =>
    api === 'partner'
      ? 'Missing or unknown API key.'
      : api === 'operator'
        ? 'Local mode: missing or wrong operator bearer token.'
        : 'Missing or unknown API key (partner API); missing or wrong operator token (local operator API).',
  403: (api) =>
    api === 'partner'
      ? "The key's partner does not own this flow."
      : api === 'operator'
        ? 'On AWS: the SigV4 caller is not allowed (answered by API Gateway as `{ message }`).'
        : "Partner API: the key's partner does not own this flow. Operator API on AWS: IAM denial (answered by API Gateway as `{ message }`).",
  429: () => 'Throttled; on AWS the stage limit is answered by API Gateway as `{ message }`. Retry later.',
};

/**
 * Error responses are shared components, one per API, status and set of codes, e.g.
 * `operator-404-not-found`; operations reference them.
 */
function errorResponses(operation: Operation, shared: Record<string, JsonSchema>): Record<string, JsonSchema> {
  const byStatus = new Map<number, ProblemCode[]>();
  // Every operator JSON body is size-limited (MAX_OPERATOR_BODY_BYTES).
  const bodyLimit: ProblemCode[] = operation.api === 'operator' && operation.body ? ['payload-too-large'] : [];
  // A path parameter that is not valid percent-encoded UTF-8 is refused before any handler.
  const pathDecoding: ProblemCode[] = operation.path.includes('{') ? ['invalid-path'] : [];
  for (const code of [...new Set([...operation.errors, ...bodyLimit, ...pathDecoding])]) {
    const status = PROBLEM_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, JsonSchema> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const note = STATUS_NOTE[status]?.(operation.api);
    const content: Record<string, JsonSchema> = {
      'application/problem+json': {
        schema: { allOf: [ref('Problem'), { properties: { code: { enum: codes } } }] },
        examples: Object.fromEntries(codes.map((code) => [code, { $ref: `#/components/examples/${code}` }])),
      },
    };
    const fromGateway = status === 429 || (status === 403 && operation.api !== 'partner');
    if (fromGateway) content['application/json'] = { schema: ref('GatewayMessage') };
    const name = `${operation.api}-${status}-${codes.join('_')}`;
    shared[name] ??= {
      description: `${codes.map((code) => `\`${code}\``).join(', ')}${note ? `. ${note}` : ''}`,
      content,
    };
    responses[String(status)] = { $ref: `#/components/responses/${name}` };
  }
  return responses;
}

function security(operation: Operation): Record<string, string[]>[] {
  if (operation.public) return [];
  const partner: Record<string, string[]>[] = [{ partnerBearer: [] }, { partnerApiKey: [] }];
  const operator: Record<string, string[]>[] = [{ operatorSigV4: [] }, { operatorToken: [] }];
  if (operation.api === 'partner') return partner;
  if (operation.api === 'operator') return operator;
  return [...partner, ...operator];
}

const SERVERS = {
  partner: {
    url: 'https://{partnerApiId}.execute-api.{region}.amazonaws.com/prod',
    description: 'Partner API on AWS (stack output PartnerApiUrl). Auth: partner API key.',
    variables: { partnerApiId: { default: 'partner-api-id' }, region: { default: 'us-east-1' } },
  },
  operator: {
    url: 'https://{operatorApiId}.execute-api.{region}.amazonaws.com/prod',
    description: 'Operator API on AWS (stack output OperatorApiUrl). Auth: IAM SigV4 (service execute-api).',
    variables: { operatorApiId: { default: 'operator-api-id' }, region: { default: 'us-east-1' } },
  },
  local: {
    url: 'http://127.0.0.1:{port}',
    description: 'Local mode (`npm start`): both APIs on one port. Operator auth: `Authorization: Bearer $SLUICE_OPERATOR_TOKEN`.',
    variables: { port: { default: '3000' } },
  },
};

function servers(api: Api) {
  if (api === 'partner') return [SERVERS.partner, SERVERS.local];
  if (api === 'operator') return [SERVERS.operator, SERVERS.local];
  return [SERVERS.partner, SERVERS.operator, SERVERS.local];
}

function pathParameters(path: string): JsonSchema[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => {
    if (!PATH_PARAMETERS[name!]) throw new Error(`openapi: no schema for path parameter {${name}} in ${path}`);
    return { $ref: `#/components/parameters/${name}` };
  });
}

function parameterComponents(): Record<string, JsonSchema> {
  const path = Object.entries(PATH_PARAMETERS).map(([name, { schema, description }]) => [
    name,
    { name, in: 'path', required: true, description, schema: convert(schema) },
  ]);
  const headers = partnerHeaderParameters().map((parameter) => [parameter.name as string, parameter]);
  return Object.fromEntries([...path, ...headers]);
}

function exampleComponents(): Record<string, JsonSchema> {
  return Object.fromEntries(
    PROBLEM_CODES.map((code) => [
      code,
      { summary: `${PROBLEM_STATUS[code]} ${code}`, value: problemOf(code, EXAMPLE[code].detail, EXAMPLE[code].extensions) },
    ]),
  );
}

function operationObject(operation: Operation, sharedResponses: Record<string, JsonSchema>): JsonSchema {
  const parameters = [
    ...pathParameters(operation.path),
    ...(operation.query ? queryParameters(operation.query) : []),
    ...(operation.partnerHeaders
      ? partnerHeaderParameters().map((header) => ({ $ref: `#/components/parameters/${header.name as string}` }))
      : []),
  ];
  const responses: Record<string, JsonSchema> = {};
  for (const [status, response] of Object.entries(operation.responses).sort(([a], [b]) => Number(a) - Number(b))) {
    responses[status] = {
      description: response.description,
      ...(response.schema ? { content: { 'application/json': { schema: response.schema } } } : {}),
    };
  }
  Object.assign(responses, errorResponses(operation, sharedResponses));
  const sortedResponses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));
  let requestBody: JsonSchema | undefined;
  if (operation.body === 'payload') {
    requestBody = {
      required: true,
      description:
        "The payload, any content type, not empty, at most the flow's `maxPayloadBytes` (default 4 MiB). Delivered byte for byte with the same Content-Type.",
      content: { '*/*': { schema: {} } },
    };
  } else if (operation.body) {
    requestBody = {
      required: operation.body.required,
      ...(operation.body.description ? { description: operation.body.description } : {}),
      content: { 'application/json': { schema: ref(operation.body.schema) } },
    };
  }
  return {
    tags: operation.api === 'both' ? ['partner', 'operator'] : [operation.api],
    operationId: operation.operationId,
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    servers: servers(operation.api),
    security: security(operation),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses: sortedResponses,
  };
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const METHOD_ORDER: Method[] = ['GET', 'PUT', 'POST', 'DELETE'];

export function buildOpenApiDocument(): OpenApiDocument {
  const requestSchemas = convertRegistry(REQUEST_SCHEMAS, 'input');
  const responseSchemas = convertRegistry(RESPONSE_SCHEMAS, 'output');
  for (const name of Object.keys(requestSchemas)) {
    if (name in responseSchemas) throw new Error(`openapi: schema name ${name} is both a request and a response schema`);
  }
  const schemas = Object.fromEntries(Object.entries({ ...requestSchemas, ...responseSchemas }).sort(([a], [b]) => a.localeCompare(b)));

  const paths: Record<string, Record<string, JsonSchema>> = {};
  const sharedResponses: Record<string, JsonSchema> = {};
  const sorted = [...OPERATIONS].sort(
    (a, b) => a.path.localeCompare(b.path) || METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method),
  );
  for (const operation of sorted) {
    const item = (paths[operation.path] ??= {});
    const method = operation.method.toLowerCase();
    if (item[method]) throw new Error(`openapi: ${operation.method} ${operation.path} is described twice`);
    item[method] = operationObject(operation, sharedResponses);
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Sluice',
      version: packageVersion(),
      summary: 'Serverless guaranteed-delivery gateway: partner and operator APIs.',
      description:
        "Partners post messages to the partner API with an API key; Sluice accepts each exactly once (by its GUID) and delivers it in order, with retries, to the flow's connections. " +
        'Operators manage partners, connections, flows and failed events through the operator API (IAM SigV4 on AWS, a bearer token locally). ' +
        'Every error is RFC 9457 `application/problem+json` with a `code`. A method a path does not take is 405 `method-not-allowed` with `Allow`. ' +
        'A human reference is in docs/api.md.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [SERVERS.partner, SERVERS.operator, SERVERS.local],
    tags: [
      {
        name: 'partner',
        description: 'Partner API: post messages and read their status. Auth: API key (`Authorization: Bearer <apiKey>` or `x-api-key`).',
      },
      {
        name: 'operator',
        description:
          'Operator API: partners, connections, flows, messages, failed events. Auth: IAM SigV4 on AWS; `Authorization: Bearer <operatorToken>` locally.',
      },
    ],
    paths,
    components: {
      schemas,
      responses: Object.fromEntries(Object.entries(sharedResponses).sort(([a], [b]) => a.localeCompare(b))),
      parameters: parameterComponents(),
      examples: exampleComponents(),
      securitySchemes: {
        partnerBearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Partner API key as `Authorization: Bearer <apiKey>`.',
        },
        partnerApiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-api-key',
          description: 'Partner API key as `x-api-key: <apiKey>`.',
        },
        operatorSigV4: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description:
            'AWS: requests signed with Signature Version 4 (service `execute-api`) by an IAM principal allowed to invoke the operator API.',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
        operatorToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'Local mode: `Authorization: Bearer <operatorToken>` (`SLUICE_OPERATOR_TOKEN`, or the random token printed at start).',
        },
      },
    },
  };
}

/** The committed form of the document: two-space indentation and a trailing newline. */
export function renderOpenApiJson(document: OpenApiDocument = buildOpenApiDocument()): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
