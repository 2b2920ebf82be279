import { randomUUID } from 'node:crypto';
import { CORRELATION_ID_PATTERN, MESSAGE_ID_PATTERN, parseRfc3339 } from '../../core/identifiers';
import type { Flow } from '../../core/model';
import type { IncomingMessage } from '../../services/ingest';
import { fail } from '../http';

/** A message's own fields before validation, from headers (single post) or a batch entry. */
export interface RawMessageFields {
  messageId?: string;
  chainId?: string;
  correlationId?: string;
  expiresAt?: string;
}

/** How the fields are named to the caller: headers for a single post, JSON fields in a batch. */
export interface FieldNames {
  messageId: string;
  chainId: string;
  correlationId: string;
  expiresAt: string;
}

export const HEADER_NAMES: FieldNames = {
  messageId: 'The x-aux-system-msg-id header (or Idempotency-Key)',
  chainId: 'x-chain-id',
  correlationId: 'x-correlation-id',
  expiresAt: 'x-expires-at',
};

/**
 * Validates a message's GUID, chain id, correlation id and expiry the same way for a
 * single post and for each message of a batch (same codes, same order of checks).
 */
export function messageFields(
  raw: RawMessageFields,
  flow: Flow,
  now: Date,
  names: FieldNames,
): Omit<IncomingMessage, 'contentType' | 'body'> {
  const { messageId } = raw;
  if (messageId === undefined || messageId === '') fail('missing-message-id', `${names.messageId} is required.`);
  if (!MESSAGE_ID_PATTERN.test(messageId)) {
    fail('invalid-message-id', 'The message id must be 1-128 characters from A-Z a-z 0-9 . _ : -');
  }
  const { chainId, correlationId } = raw;
  if (chainId !== undefined && !MESSAGE_ID_PATTERN.test(chainId)) {
    fail('invalid-header', `${names.chainId} must be 1-128 characters from A-Z a-z 0-9 . _ : -`);
  }
  if (correlationId !== undefined && !CORRELATION_ID_PATTERN.test(correlationId)) {
    fail('invalid-header', `${names.correlationId} must be 1-256 printable ASCII characters.`);
  }
  let expiresAt: string | undefined;
  if (raw.expiresAt !== undefined) {
    const parsed = parseRfc3339(raw.expiresAt);
    if (!parsed) fail('invalid-header', `${names.expiresAt} must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z.`);
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

/** An empty payload or one over the flow's limit is refused, wherever it comes from. */
export function checkPayloadSize(bytes: number, flow: Flow, oversized = false): void {
  if (bytes === 0) fail('empty-payload', 'The message body is empty.');
  if (bytes > flow.maxPayloadBytes || oversized) {
    fail('payload-too-large', `The payload is ${bytes} bytes; flow ${flow.flowId} accepts at most ${flow.maxPayloadBytes}.`);
  }
}
