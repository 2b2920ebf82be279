/**
 * Key layout of the single table (see docs/data-model.md). Every item has `pk`/`sk`;
 * the generic index attributes (`gsi1pk`…`gsi3sk`) are set only on items listed there.
 */
export const keys = {
  partner: (partnerId: string) => ({ pk: `PARTNER#${partnerId}`, sk: 'PARTNER' }),
  apiKey: (keyHash: string) => ({ pk: `APIKEY#${keyHash}`, sk: 'APIKEY' }),
  connection: (connectionId: string) => ({ pk: `CONN#${connectionId}`, sk: 'CONN' }),
  flow: (flowId: string) => ({ pk: `FLOW#${flowId}`, sk: 'FLOW' }),
  flowLogPartition: (flowId: string) => `FLOWLOG#${flowId}`,
  messagePartition: (flowId: string, messageId: string) => `MSG#${flowId}#${messageId}`,
  message: (flowId: string, messageId: string) => ({ pk: `MSG#${flowId}#${messageId}`, sk: 'MESSAGE' }),
  inlinePayload: (flowId: string, messageId: string) => ({ pk: `MSG#${flowId}#${messageId}`, sk: 'PAYLOAD' }),
  delivery: (flowId: string, messageId: string, connectionId: string) => ({
    pk: `MSG#${flowId}#${messageId}`,
    sk: `DLV#${connectionId}`,
  }),
  reportPrefix: 'RPT#',
} as const;

export const listings = {
  partners: 'PARTNERS',
  connections: 'CONNECTIONS',
  flows: 'FLOWS',
  flowMessages: (flowId: string) => `MSGS#${flowId}`,
  pendingEnqueue: 'PENDING_ENQUEUE',
} as const;

/** Strips key and index attributes from an item before it becomes a domain object. */
export function withoutKeys<T>(item: Record<string, unknown>): T {
  const { pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, ttl, ...rest } = item;
  return rest as T;
}

/** Opaque pagination cursor over DynamoDB's LastEvaluatedKey. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

export function decodeCursor(cursor: string | undefined): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
