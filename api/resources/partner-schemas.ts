import * as z from 'zod';
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

export const partnerApiComponents: Components = {
  requests: { BatchRequest: BatchBody },
  responses: { MessageAccepted, MessageDuplicate, PartnerMessage, BatchResult, BatchResults },
};
