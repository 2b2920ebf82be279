import * as z from 'zod/mini';
import { MESSAGE_ID_PATTERN, RESOURCE_ID_PATTERN } from '../core/identifiers';
import type { ConnectionStatus, DeliveryStatus, FlowStatus, LogLevel, MessageStatus, ReportEvent } from '../core/model';
import { PROBLEM_STATUS, type ProblemCode } from '../core/problems';
import type { Components } from './router';
import { FailureTypeSchema, MessageId, ResourceId } from './schemas';

/**
 * Response schemas that several resources' views share (statuses, timestamps, errors),
 * and the path parameters of both APIs. Each resource keeps its own views' schemas
 * beside its routes; these are the pieces they are built from.
 */

// ---------------------------------------------------------------------------
// Enumerations, checked against the domain types

/** A zod enum listing every member of the union `T`; a missing or foreign member does not compile. */
export function enumOf<T extends string>() {
  return <const A extends readonly [T, ...T[]]>(
    values: A & ([Exclude<T, A[number]>] extends [never] ? unknown : { missing: Exclude<T, A[number]> }),
  ) => z.enum(values as A);
}

export const DeliveryStatusSchema = enumOf<DeliveryStatus>()([
  'queued',
  'retrying',
  'paused',
  'inError',
  'delivered',
  'failed',
  'suspended',
  'discarded',
]);
export const MessageStatusSchema = enumOf<MessageStatus>()([
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
export const ConnectionStatusSchema = enumOf<ConnectionStatus>()(['online', 'offline', 'unauthorized']);
export const FlowStatusSchema = enumOf<FlowStatus>()(['enabled', 'paused', 'disabled', 'stopped']);
export const LogLevelSchema = enumOf<LogLevel>()(['error', 'warning', 'info']);
export const ReportEventSchema = enumOf<ReportEvent>()([
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
export const ProblemCodeSchema = z.enum(PROBLEM_CODES);

export const Timestamp = z.string().check(z.meta({ format: 'date-time', description: 'RFC 3339 date-time (UTC).' }));
export const Count = z.int().check(z.minimum(0));
export const Sha256 = z
  .string()
  .check(z.regex(/^([a-f0-9]{64})?$/), z.meta({ description: 'Lower-case hex SHA-256 of the payload bytes.' }));

export const Problem = z
  .looseObject({
    type: z.string().check(z.meta({ format: 'uri', description: '`urn:sluice:problem:<code>`.' })),
    title: z.string(),
    status: z.int().check(z.minimum(400), z.maximum(599)),
    detail: z.string().check(z.meta({ description: 'What went wrong, for a human; never contains a secret.' })),
    code: ProblemCodeSchema,
    requestId: z.optional(z.string()).check(z.meta({ description: 'With `internal`: quote it to the operator.' })),
    errors: z
      .optional(z.array(z.object({ field: z.string(), message: z.string() })))
      .check(z.meta({ description: 'With `invalid-body`: every field that failed validation.' })),
  })
  .check(z.meta({ description: 'RFC 9457 problem details, served as `application/problem+json`.' }));

export const GatewayMessage = z
  .looseObject({ message: z.string() })
  .check(z.meta({ description: 'Answered by API Gateway itself (IAM denial, stage throttling), before Sluice runs.' }));

export const Health = z.object({ status: z.literal('ok') });

export const DeliveryError = z.looseObject({
  httpStatus: z.optional(z.int()),
  message: z.string(),
  bodyExcerpt: z.optional(z.string()),
});

export const Cursor = z.nullable(z.string()).check(
  z.meta({
    description:
      'Opaque; pass as `cursor` for the next page of the same listing (same filters), else 400 `invalid-query`. `null` on the last page.',
  }),
);

function inner(pattern: RegExp): string {
  return pattern.source.replace(/^\^/, '').replace(/\$$/, '');
}

export const FailedEventId = z
  .string()
  .check(
    z.regex(new RegExp(`^${inner(RESOURCE_ID_PATTERN)}~${inner(MESSAGE_ID_PATTERN)}~${inner(RESOURCE_ID_PATTERN)}$`)),
    z.meta({ description: '`<flowId>~<messageId>~<connectionId>`.' }),
  );

/** Every path parameter of both APIs, by the name the route templates give it. */
export const PATH_PARAMETERS: Record<string, { schema: z.ZodMiniType; description: string }> = {
  flowId: { schema: ResourceId, description: 'Flow id.' },
  connectionId: { schema: ResourceId, description: 'Connection id.' },
  partnerId: { schema: ResourceId, description: 'Partner id.' },
  messageId: { schema: MessageId, description: 'The message GUID (`x-aux-system-msg-id`).' },
  id: { schema: FailedEventId, description: 'Failed-event id.' },
};

export const sharedComponents: Components = {
  responses: {
    Problem,
    ProblemCode: ProblemCodeSchema,
    GatewayMessage,
    Health,
    MessageStatus: MessageStatusSchema,
    DeliveryStatus: DeliveryStatusSchema,
    ConnectionStatus: ConnectionStatusSchema,
    FlowStatus: FlowStatusSchema,
    FailureType: FailureTypeSchema,
    DeliveryError,
  },
};
