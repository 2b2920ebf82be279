import * as z from 'zod/mini';
import { CORRELATION_ID_PATTERN, MESSAGE_ID_PATTERN } from '../../core/identifiers';
import type { Components } from '../router';
import { MessageId, ResourceId } from '../schemas';
import { Count, DeliveryStatusSchema, MessageStatusSchema, Problem, Timestamp } from '../view-schemas';
import { MAX_BATCH_MESSAGES } from './partner-batches';

/**
 * The partner API's schemas: its views and the batch body. They are not beside the
 * handlers (partner-messages.ts, partner-batches.ts) because those are bundled into the
 * ingest function, which carries no zod: it checks requests by hand. The routes name
 * these components; only the OpenAPI generator imports this file.
 */

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
 * `readEntry` in partner-batches.ts (a bad entry is that message's error, not the
 * request's), so this schema documents the shape and is not what validates it.
 */
const BatchBody = z.strictObject({
  messages: z
    .array(
      z.strictObject({
        id: z
          .string()
          .check(z.regex(MESSAGE_ID_PATTERN), z.meta({ description: 'The message GUID, same rules as `x-aux-system-msg-id`.' })),
        payload: z.string().check(z.minLength(1), z.meta({ description: 'The payload: text, or base64 with `encoding: "base64"`.' })),
        encoding: z.optional(z.enum(['utf8', 'base64'])).check(z.meta({ description: 'Default `utf8`.' })),
        contentType: z
          .optional(z.string())
          .check(z.meta({ description: 'Delivered as Content-Type. Default `application/octet-stream`.' })),
        chainId: z.optional(z.string().check(z.regex(MESSAGE_ID_PATTERN))),
        correlationId: z.optional(z.string().check(z.regex(CORRELATION_ID_PATTERN))),
        expiresAt: z.optional(z.string().check(z.meta({ format: 'date-time' }))),
      }),
    )
    .check(z.minLength(1), z.maxLength(MAX_BATCH_MESSAGES)),
});

const BatchResult = z
  .union([
    z.looseObject({ messageId: MessageId, status: z.literal('accepted'), receivedAt: Timestamp }),
    z.looseObject({ messageId: MessageId, status: MessageStatusSchema, duplicate: z.literal(true), receivedAt: Timestamp }),
    z.looseObject({
      messageId: z.optional(z.string()).check(z.meta({ description: 'The `id` as sent, when it was a non-empty string.' })),
      error: Problem,
    }),
  ])
  .check(
    z.meta({ description: 'What became of one message: accepted, a duplicate (also a GUID repeated in the batch), or its own problem.' }),
  );

const BatchResults = z.looseObject({
  flowId: ResourceId,
  results: z.array(BatchResult).check(z.meta({ description: 'One result per message, in request order.' })),
});

const PartnerMessage = z
  .looseObject({
    messageId: MessageId,
    flowId: ResourceId,
    status: MessageStatusSchema,
    receivedAt: Timestamp,
    deliveries: z.array(z.looseObject({ connectionId: ResourceId, status: DeliveryStatusSchema, attempts: Count })),
  })
  .check(z.meta({ description: 'A message as its partner sees it.' }));

export const partnerApiComponents: Components = {
  requests: { BatchRequest: BatchBody },
  responses: { MessageAccepted, MessageDuplicate, PartnerMessage, BatchResult, BatchResults },
};
