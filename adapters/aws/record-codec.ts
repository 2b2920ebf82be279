import type { Delivery, Message, ReportEntry } from '../../core/model';

/**
 * How a message record is spelled in the table. DynamoDB bills a write per started
 * kilobyte of the item, attribute names included, and an update at the larger of the
 * item's sizes before and after: the names of a record's fields cost as much as a
 * deflated half-kilobyte payload. So every data field is stored under a short name
 * (AWS's advice: "use shorter attribute names"), values that are their field's default
 * are left out, and an entry's text is left out where it is the standard text of its
 * event. Everything is restored on read: the codec is lossless. Key, index, TTL and
 * bookkeeping attributes (`pk`, `sk`, `gsi*`, `ttl`, `enqueue`, `spills`…) keep their names.
 */

/**
 * The spelling this module writes. A table kept from a version that spelled records out
 * (local mode's data directory) is refused rather than misread; there is no migration.
 */
export const RECORD_FORMAT = 2;

/** Stored names of a message's fields. `flowId` and `messageId` are read from the key. */
const MESSAGE_NAMES = {
  partnerId: 'p',
  contentType: 'ct',
  bytes: 'n',
  sha256: 'h',
  payload: 'pl',
  chainId: 'ch',
  correlationId: 'co',
  expiresAt: 'x',
  receivedAt: 'r',
  destinations: 'ds',
} as const satisfies Record<Exclude<keyof Message, 'flowId' | 'messageId' | 'enqueue'>, string>;

/** Stored names of a delivery's state fields (in the record's `dlv` map, by connection). */
const DELIVERY_NAMES = {
  status: 's',
  lane: 'ln',
  attempts: 'a',
  requests: 'rq',
  requestsBeforeRestart: 'rb',
  attemptInFlight: 'af',
  possibleDuplicate: 'pd',
  nextAttemptAt: 'na',
  failureType: 'ft',
  lastError: 'le',
  payloadOverride: 'po',
  failedPayload: 'fp',
  failedAt: 'fa',
  deliveredAt: 'da',
  restarts: 'rs',
  version: 'v',
  heldReceipt: 'hr',
  heldTicketAt: 'ht',
  debugNextAttempt: 'dn',
  requeuedAt: 'qa',
  updatedAt: 'u',
} as const satisfies Record<Exclude<keyof Delivery, 'flowId' | 'messageId' | 'connectionId' | 'chainId'>, string>;

/** State values that are left out when they are their field's default (read back as it). */
const DELIVERY_DEFAULTS: Partial<Record<keyof typeof DELIVERY_NAMES, unknown>> = { possibleDuplicate: false, restarts: 0 };

/** Stored names of a report entry's fields. */
const ENTRY_NAMES = {
  at: 't',
  event: 'e',
  level: 'l',
  detail: 'd',
  connectionId: 'c',
  attempt: 'at',
  httpStatus: 'hs',
  durationMs: 'ms',
  by: 'b',
} as const satisfies Record<keyof ReportEntry, string>;

/** The level an entry is read with when none is stored. */
const DEFAULT_LEVEL = 'info';

/** The record's map of delivery states, by connection. */
export const DELIVERIES_ATTRIBUTE = 'dlv';
/** The record's execution report (the newest entries; older ones spill into items of their own). */
export const REPORT_ATTRIBUTE = 'report';

/** The text an entry of a routine event gets, so it need not be stored. */
function standardDetail(entry: Pick<ReportEntry, 'event' | 'connectionId' | 'httpStatus'>): string | undefined {
  if (entry.event === 'delivered' && entry.connectionId !== undefined) return `delivered to ${entry.connectionId}`;
  if (entry.event === 'attempt' && entry.httpStatus !== undefined) return `delivered with HTTP ${entry.httpStatus}`;
  return undefined;
}

function invert<T extends Record<string, string>>(names: T): Record<string, string> {
  return Object.assign(Object.create(null), Object.fromEntries(Object.entries(names).map(([field, stored]) => [stored, field])));
}

const MESSAGE_FIELDS = invert(MESSAGE_NAMES);
const DELIVERY_FIELDS = invert(DELIVERY_NAMES);
const ENTRY_FIELDS = invert(ENTRY_NAMES);

function rename(source: Record<string, unknown>, names: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(source))
    if (value !== undefined) out[Object.hasOwn(names, name) ? names[name]! : name] = value;
  return out;
}

/** The stored name of a delivery state field, for update and condition expressions. */
export function deliveryAttribute(field: string): string {
  return Object.hasOwn(DELIVERY_NAMES, field) ? (DELIVERY_NAMES as Record<string, string>)[field]! : field;
}

/** Whether a state value is left out of the record (it is its field's default). */
export function isDefaultDeliveryValue(field: string, value: unknown): boolean {
  return Object.hasOwn(DELIVERY_DEFAULTS, field) && DELIVERY_DEFAULTS[field as keyof typeof DELIVERY_DEFAULTS] === value;
}

export function encodeDeliveryState(state: Record<string, unknown>): Record<string, unknown> {
  const kept = Object.fromEntries(Object.entries(state).filter(([field, value]) => !isDefaultDeliveryValue(field, value)));
  return rename(kept, DELIVERY_NAMES);
}

export function decodeDeliveryState(stored: Record<string, unknown>): Record<string, unknown> {
  return { ...DELIVERY_DEFAULTS, ...rename(stored, DELIVERY_FIELDS) };
}

/** A record's delivery states by connection, as the domain names their fields. */
export function decodeDeliveryStates(item: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const stored = (item[DELIVERIES_ATTRIBUTE] ?? {}) as Record<string, Record<string, unknown>>;
  return Object.fromEntries(Object.entries(stored).map(([connectionId, state]) => [connectionId, decodeDeliveryState(state)]));
}

export function encodeEntries(entries: ReportEntry[]): Record<string, unknown>[] {
  return entries.map((entry) => {
    const { level, detail, ...rest } = entry;
    return rename(
      { ...rest, ...(level !== DEFAULT_LEVEL ? { level } : {}), ...(detail !== standardDetail(entry) ? { detail } : {}) },
      ENTRY_NAMES,
    );
  });
}

export function decodeEntries(stored: unknown): ReportEntry[] {
  if (!Array.isArray(stored)) return [];
  return stored.map((raw: Record<string, unknown>) => {
    const entry = rename(raw, ENTRY_FIELDS) as Partial<ReportEntry>;
    return {
      ...entry,
      level: entry.level ?? DEFAULT_LEVEL,
      detail: entry.detail ?? standardDetail(entry as ReportEntry) ?? '',
    } as ReportEntry;
  });
}

/** A digest kept as its 32 bytes rather than 64 hex characters. */
function encodeDigest(hex: string): Uint8Array | string {
  return /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : hex;
}

function decodeDigest(stored: unknown): string {
  return stored instanceof Uint8Array ? Buffer.from(stored).toString('hex') : String(stored ?? '');
}

/** A message's fields as stored; a payload kept in the record is the default and left out. */
export function encodeMessageFields(message: Omit<Message, 'flowId' | 'messageId' | 'enqueue'>): Record<string, unknown> {
  const { payload, sha256, destinations, ...rest } = message;
  return rename(
    {
      ...rest,
      sha256: encodeDigest(sha256),
      destinations: destinations.map((d) => ({ c: d.connectionId, l: d.lane })),
      ...(payload.kind === 'inline' ? {} : { payload }),
    },
    MESSAGE_NAMES,
  );
}

/** A message's fields from its record (bookkeeping attributes are left to the caller). */
export function decodeMessageFields(item: Record<string, unknown>): Omit<Message, 'enqueue'> {
  const fields: Record<string, unknown> = {};
  for (const [stored, value] of Object.entries(item)) {
    const field = MESSAGE_FIELDS[stored];
    if (field) fields[field] = value;
  }
  const destinations = (fields.destinations as { c: string; l: number }[] | undefined) ?? [];
  return {
    ...(fields as unknown as Omit<Message, 'enqueue'>),
    ...messageRef(item),
    sha256: decodeDigest(fields.sha256),
    payload: (fields.payload as Message['payload'] | undefined) ?? { kind: 'inline' },
    destinations: destinations.map((d) => ({ connectionId: d.c, lane: Number(d.l) })),
  };
}

/** The stored name of a message field, for projections. */
export function messageAttribute(field: keyof typeof MESSAGE_NAMES): string {
  return MESSAGE_NAMES[field];
}

/** A message record's flow and GUID, from its key `MSG#<flow>#<guid>` (neither may contain `#`). */
export function messageRef(item: Record<string, unknown>): { flowId: string; messageId: string } {
  const [, flowId = '', messageId = ''] = String(item.pk).split('#');
  return { flowId, messageId };
}
