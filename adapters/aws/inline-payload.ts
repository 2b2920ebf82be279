import { deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * How a record keeps its inline payload. DynamoDB bills a write per started kilobyte of
 * the item (an update at the larger of its sizes before and after), so a 1 KiB payload
 * kept as it is makes every write of its record cost two units. Text payloads (JSON, XML,
 * CSV, EDI: what partners mostly send) deflate to a half or less, which is why AWS's
 * guidance for large attribute values is to compress them. A payload that does not shrink
 * (already compressed, encrypted) is kept as it is.
 */

/** The attribute of a payload kept as posted. */
export const RAW_BODY_ATTRIBUTE = 'b';
/** The attribute of a payload kept deflated (raw DEFLATE, RFC 1951). */
export const DEFLATED_BODY_ATTRIBUTE = 'bz';

/** Smaller payloads are kept as they are: their record fits in one unit either way. */
const MIN_DEFLATE_BYTES = 256;

/** No record holds more than DynamoDB's 400 KB item limit; a corrupt stream must not inflate past it. */
const MAX_INFLATED_BYTES = 400 * 1024;

/** The record attribute that keeps `payload`, deflated when that makes the item smaller. */
export function inlinePayloadAttribute(payload: Buffer): Record<string, Uint8Array> {
  if (payload.length >= MIN_DEFLATE_BYTES) {
    const deflated = deflateRawSync(payload);
    const saved = payload.length + RAW_BODY_ATTRIBUTE.length - (deflated.length + DEFLATED_BODY_ATTRIBUTE.length);
    if (saved > 0) return { [DEFLATED_BODY_ATTRIBUTE]: deflated };
  }
  return { [RAW_BODY_ATTRIBUTE]: payload };
}

/** The payload a record keeps inline, as posted, or undefined when it has none. */
export function inlinePayloadOf(item: Record<string, unknown>): Buffer | undefined {
  const deflated = item[DEFLATED_BODY_ATTRIBUTE];
  if (deflated instanceof Uint8Array) return inflateRawSync(deflated, { maxOutputLength: MAX_INFLATED_BYTES });
  const raw = item[RAW_BODY_ATTRIBUTE];
  return raw instanceof Uint8Array ? Buffer.from(raw) : undefined;
}
