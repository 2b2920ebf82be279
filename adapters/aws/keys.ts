import { BUCKET } from './definitions';

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
  /** The sparse index item of a delivery while an operator must find it (failed, held, suspended, re-queued). */
  deliveryIndex: (flowId: string, messageId: string, connectionId: string) => ({
    pk: `MSG#${flowId}#${messageId}`,
    sk: `DLV#${connectionId}`,
  }),
  /** Execution-report entries spilled out of a long record, oldest first. */
  reportSpill: (flowId: string, messageId: string, firstAt: string) => ({
    pk: `MSG#${flowId}#${messageId}`,
    sk: `RPT#${firstAt}#${Math.random().toString(36).slice(2, 8)}`,
  }),
  reportPrefix: 'RPT#',
  /** A lane's parking state (see core/parking.ts). */
  laneState: (connectionId: string, lane: number) => ({ pk: `LANE#${connectionId}#${lane}`, sk: 'STATE' }),
  lanePartition: (connectionId: string, lane: number) => `LANE#${connectionId}#${lane}`,
  /** A delivery parked in its lane, sorted by acceptance position. */
  parkedEntry: (connectionId: string, lane: number, position: string) => ({ pk: `LANE#${connectionId}#${lane}`, sk: `P#${position}` }),
  parkedPrefix: 'P#',
  /** Which spelling of message records the table holds (RECORD_FORMAT in record-codec.ts). */
  recordFormat: { pk: 'TABLE', sk: 'RECORD_FORMAT' },
  /** The delivery queue this table's tickets were last reconciled with. */
  queueGeneration: { pk: 'QUEUE', sk: 'GENERATION' },
} as const;

export const listings = {
  partners: 'PARTNERS',
  connections: 'CONNECTIONS',
  flows: 'FLOWS',
  flowMessages: (flowId: string) => `MSGS#${flowId}`,
  pendingEnqueue: 'PENDING_ENQUEUE',
} as const;

type DeliveryRef = { flowId: string; messageId: string; connectionId: string };

/** Object keys in the payload bucket; services ask for a key, never spell a prefix. */
export const objectKeys = {
  /** Claim check of a payload larger than the inline limit. */
  claimCheck: (flowId: string, messageId: string) => `${BUCKET.prefixes.payloads}${flowId}/${messageId}`,
  /** The failed store's copy of a delivery's payload. */
  failed: (d: DeliveryRef) => `${BUCKET.prefixes.failed}${d.flowId}/${d.messageId}/${d.connectionId}`,
  /** Where an operator uploads a corrected payload for a delivery. */
  correction: (d: DeliveryRef) => `${BUCKET.prefixes.corrections}${d.flowId}/${d.messageId}/${d.connectionId}`,
  /** Every pending correction of a flow. */
  correctionsOf: (flowId: string) => `${BUCKET.prefixes.corrections}${flowId}/`,
  isCorrection: (key: string) => key.startsWith(BUCKET.prefixes.corrections),
};

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
