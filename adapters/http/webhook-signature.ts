import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signing over the raw payload bytes. The signed content is
 * `${id}.${timestamp}.` followed by the payload exactly as delivered, so binary and
 * non-UTF-8 payloads verify byte for byte. (The `standardwebhooks` package's `sign`
 * turns a Buffer into a UTF-8 string first, which replaces invalid sequences and
 * changes the bytes; it is right only for UTF-8 payloads.)
 */

/** The key of a `whsec_…` secret: base64 after the prefix. */
export function signingKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

/** The `webhook-signature` header value (`v1,<base64 HMAC-SHA256>`). */
export function signWebhook(secret: string, id: string, timestampSeconds: number, payload: Buffer): string {
  const mac = createHmac('sha256', signingKey(secret)).update(`${id}.${timestampSeconds}.`, 'utf8').update(payload).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers of one delivery attempt. */
export function webhookHeaders(secret: string, id: string, at: Date, payload: Buffer): Record<string, string> {
  const timestampSeconds = Math.floor(at.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signWebhook(secret, id, timestampSeconds, payload),
  };
}
