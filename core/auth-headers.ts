import type { ConnectionAuth } from './model';

/**
 * Headers a `header` credential may not use (SPEC delivery semantics 3): the ones
 * Sluice sets on every delivery, the Standard Webhooks signature, the framing headers
 * the HTTP client owns, and `authorization`, which the other auth types use.
 */
export const RESERVED_HEADER_NAMES: ReadonlySet<string> = new Set([
  'x-aux-system-msg-id',
  'x-sluice-attempt',
  'x-correlation-id',
  'x-sluice-possible-duplicate',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'content-type',
  'content-length',
  'host',
  'authorization',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'user-agent',
]);

export function isReservedHeaderName(name: string): boolean {
  return RESERVED_HEADER_NAMES.has(name.toLowerCase());
}

/**
 * The request headers that carry a connection's credentials (deliveries and probes alike).
 * A reserved name (possible only in records saved before the rule) is dropped, so a
 * credential can never replace the GUID, the signature or the framing.
 */
export function authHeaders(auth: ConnectionAuth): Record<string, string> {
  switch (auth.type) {
    case 'none':
      return {};
    case 'bearer':
      return { authorization: `Bearer ${auth.token}` };
    case 'basic':
      return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
    case 'header':
      return isReservedHeaderName(auth.headerName) ? {} : { [auth.headerName.toLowerCase()]: auth.value };
  }
}
