import { BatchGetCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DocumentClient } from './protocol/dynamodb-documents';
import { messageStatus } from '../../core/message-status';
import type { Delivery, DeliveryStatus, Message, MessageStatus, ReportEntry } from '../../core/model';
import { acceptanceReport, type DeliveryFields } from '../../core/lifecycle';
import { isConditionFailure } from './dynamo-errors';
import { inlinePayloadAttribute, inlinePayloadOf } from './inline-payload';
import { queryAll } from './dynamo-query';
import { decodeCursor, encodeCursor, keys, listings } from './keys';
import { TABLE } from './definitions';
import {
  DELIVERIES_ATTRIBUTE,
  decodeDeliveryState,
  decodeDeliveryStates,
  decodeEntries,
  decodeMessageFields,
  encodeDeliveryState,
  encodeEntries,
  encodeMessageFields,
  messageAttribute,
  messageRef,
  REPORT_ATTRIBUTE,
} from './record-codec';

/**
 * One record per message (see docs/data-model.md): the message, its inline payload,
 * the state of each of its deliveries (`dlv`, by connection) and its execution report
 * (`report`, appended; the oldest entries spill into items of their own once it is long).
 */

/** A message as services see it; `status` is derived from its deliveries on every read. */
export interface StoredMessage extends Message {
  status: MessageStatus;
  /** Epoch ms until which one request owns the re-enqueue of a pending message. */
  enqueueLeaseUntil?: number;
  /** The inline payload, when the record was read with it. */
  inlineBody?: Buffer;
  /** When the message expires (its record's TTL): set once every delivery is final. */
  retainedUntil?: string;
}

export interface MessageDetail {
  message: StoredMessage;
  deliveries: Delivery[];
  report: ReportEntry[];
}

/** What one read of a record gives the deliverer: the message and all its deliveries. */
export interface MessageSnapshot {
  message: StoredMessage;
  deliveries: Delivery[];
}

/**
 * How much earlier than its last entry a listing page may start: a page is one stream
 * batch of new messages, keyed by its first, and a batch spans its batching window
 * (`COUNTS_STREAM`, a few seconds) unless the stream fell far behind.
 */
export const LISTING_PAGE_SPAN_MS = 60_000;

/** One entry of a flow's message listing. */
export interface ListingEntry {
  receivedAt: string;
  messageId: string;
}

/** Acceptance order: by `receivedAt`, then GUID (code-unit order, the same on every reader). */
export function compareListingEntries(a: ListingEntry, b: ListingEntry): number {
  if (a.receivedAt !== b.receivedAt) return a.receivedAt < b.receivedAt ? -1 : 1;
  return a.messageId === b.messageId ? 0 : a.messageId < b.messageId ? -1 : 1;
}

function parseListingEntry(raw: string): ListingEntry {
  const at = raw.indexOf('#');
  return { receivedAt: raw.slice(0, at), messageId: raw.slice(at + 1) };
}

/** Report entries kept in the record; older ones spill into `RPT#` items. */
export const REPORT_CAP = 40;

/** Hidden on a delivery read from its record: the record's report as read, for spill-over. */
export const RECORD_REPORT = Symbol('recordReport');

/** Hidden on a delivery read from its record: the rest of the record a step's retention depends on. */
export const RECORD_STATE = Symbol('recordState');

export interface RecordState {
  /** The other deliveries of the message, by connection, as read. */
  others: Record<string, DeliveryStatus>;
  /** The record's TTL as read (epoch seconds): set while every delivery is final. */
  expiresAt?: number;
  /** Sort keys of the report items spilled out of the record (they share its TTL). */
  spills: string[];
}

export type LoadedDelivery = Delivery & { [RECORD_REPORT]?: ReportEntry[]; [RECORD_STATE]?: RecordState };

type DeliveryState = DeliveryFields & { lane: number };

/** The record's attribute listing its spilled report items. */
export const SPILLS_ATTRIBUTE = 'spills';

interface RecordItem extends Record<string, unknown> {
  dlv?: Record<string, Record<string, unknown>>;
  report?: unknown[];
  enqueue?: 'pending';
  enqueueLeaseUntil?: number;
  spills?: string[];
}

/** The record's own report entries (spilled ones are items of their own). */
export function reportOf(item: Record<string, unknown>): ReportEntry[] {
  return decodeEntries(item[REPORT_ATTRIBUTE]);
}

function recordState(item: Record<string, unknown>, connectionId: string): RecordState {
  const others: Record<string, DeliveryStatus> = {};
  for (const [id, state] of Object.entries(decodeDeliveryStates(item)))
    if (id !== connectionId) others[id] = state.status as DeliveryStatus;
  const ttl = item[TABLE.timeToLiveAttribute];
  return { others, ...(typeof ttl === 'number' ? { expiresAt: ttl } : {}), spills: (item as RecordItem).spills ?? [] };
}

/** The delivery of `connectionId` in a record, as the domain sees it. */
export function deliveryOf(item: Record<string, unknown>, connectionId: string): LoadedDelivery | undefined {
  const stored = (item as RecordItem).dlv?.[connectionId];
  if (!stored) return undefined;
  const chainId = item[messageAttribute('chainId')];
  const delivery: LoadedDelivery = {
    ...(decodeDeliveryState(stored as Record<string, unknown>) as unknown as DeliveryState),
    ...messageRef(item),
    connectionId,
    ...(chainId ? { chainId: String(chainId) } : {}),
  };
  Object.defineProperty(delivery, RECORD_REPORT, { value: reportOf(item), enumerable: true });
  Object.defineProperty(delivery, RECORD_STATE, { value: recordState(item, connectionId), enumerable: true });
  return delivery;
}

export function deliveriesOf(item: Record<string, unknown>): LoadedDelivery[] {
  const { destinations } = decodeMessageFields(item);
  return destinations.map((d) => deliveryOf(item, d.connectionId)).filter((d): d is LoadedDelivery => d !== undefined);
}

export function messageOf(item: Record<string, unknown>, withBody = false): StoredMessage {
  const { enqueue, enqueueLeaseUntil } = item as RecordItem;
  const ttl = item[TABLE.timeToLiveAttribute];
  const message = {
    ...decodeMessageFields(item),
    ...(typeof enqueueLeaseUntil === 'number' ? { enqueueLeaseUntil } : {}),
    enqueue: enqueue ?? 'done',
    ...(typeof ttl === 'number' ? { retainedUntil: new Date(ttl * 1000).toISOString() } : {}),
  } as unknown as StoredMessage;
  message.status = messageStatus(message.enqueue, deliveriesOf(item));
  const body = withBody ? inlinePayloadOf(item) : undefined;
  if (body) message.inlineBody = body;
  return message;
}

export class MessageStore {
  constructor(
    private readonly documents: DocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Records a new message with its deliveries, first report entries and inline
   * payload: one conditional put on the (flow, GUID) key, nothing else. Returns false
   * when the GUID was already recorded.
   */
  async accept(message: Message, deliveries: Delivery[], inlinePayload?: Buffer): Promise<boolean> {
    const { enqueue: _enqueue, flowId: _flowId, messageId: _messageId, ...fields } = message;
    const dlv: Record<string, Record<string, unknown>> = {};
    for (const d of deliveries) {
      const { flowId: _f, messageId: _m, connectionId, chainId: _c, ...state } = d;
      dlv[connectionId] = encodeDeliveryState(state);
    }
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.message(message.flowId, message.messageId),
            ...encodeMessageFields(fields),
            [DELIVERIES_ATTRIBUTE]: dlv,
            ...(inlinePayload ? inlinePayloadAttribute(inlinePayload) : {}),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async get(flowId: string, messageId: string, consistent = false): Promise<StoredMessage | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.message(flowId, messageId), ConsistentRead: consistent }),
    );
    return Item ? messageOf(Item, true) : undefined;
  }

  /** The message with its payload and every delivery, from one strongly consistent read. */
  async snapshot(flowId: string, messageId: string): Promise<MessageSnapshot | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.message(flowId, messageId), ConsistentRead: true }),
    );
    return Item ? { message: messageOf(Item, true), deliveries: deliveriesOf(Item) } : undefined;
  }

  /** Records by key, in one BatchGet per hundred (records that are gone are absent). */
  private async records(
    refs: { flowId: string; messageId: string }[],
    projection?: string[],
  ): Promise<Map<string, Record<string, unknown>>> {
    const projected = projection
      ? {
          ProjectionExpression: projection.map((_, i) => `#a${i}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(projection.map((name, i) => [`#a${i}`, name])),
        }
      : {};
    const found = new Map<string, Record<string, unknown>>();
    const unique = [...new Map(refs.map((r) => [`${r.flowId}#${r.messageId}`, r])).values()];
    for (let i = 0; i < unique.length; i += 100) {
      let pending: Record<string, unknown>[] | undefined = unique.slice(i, i + 100).map((r) => keys.message(r.flowId, r.messageId));
      while (pending && pending.length > 0) {
        const result: {
          Responses?: Record<string, Record<string, unknown>[]>;
          UnprocessedKeys?: Record<string, { Keys?: Record<string, unknown>[] }>;
        } = await this.documents.send(
          new BatchGetCommand({
            RequestItems: {
              [this.tableName]: { Keys: pending, ConsistentRead: true, ...projected },
            },
          }),
        );
        for (const item of result.Responses?.[this.tableName] ?? []) {
          const ref = messageRef(item);
          found.set(`${ref.flowId}#${ref.messageId}`, item);
        }
        pending = result.UnprocessedKeys?.[this.tableName]?.Keys;
      }
    }
    return found;
  }

  /** When each message was received, by `flow#GUID` (gone ones absent). */
  async receivedTimes(refs: { flowId: string; messageId: string }[]): Promise<Map<string, string>> {
    const records = await this.records(refs, ['pk', messageAttribute('receivedAt')]);
    const times = new Map<string, string>();
    for (const [id, item] of records) {
      const at = item[messageAttribute('receivedAt')];
      if (typeof at === 'string') times.set(id, at);
    }
    return times;
  }

  /** Deliveries by key, in the order asked (gone ones skipped). */
  async deliveries(refs: { flowId: string; messageId: string; connectionId: string }[]): Promise<LoadedDelivery[]> {
    const records = await this.records(refs);
    return refs
      .map((r) => {
        const record = records.get(`${r.flowId}#${r.messageId}`);
        return record ? deliveryOf(record, r.connectionId) : undefined;
      })
      .filter((d): d is LoadedDelivery => d !== undefined);
  }

  /** The delivery to one connection of each message, by `flow#GUID` (gone ones absent). */
  async deliveriesTo(refs: { flowId: string; messageId: string }[], connectionId: string): Promise<Map<string, LoadedDelivery>> {
    const found = await this.deliveries(refs.map((r) => ({ ...r, connectionId })));
    return new Map(found.map((d) => [`${d.flowId}#${d.messageId}`, d]));
  }

  /** Messages with their deliveries, by key (gone ones skipped). */
  async snapshots(refs: { flowId: string; messageId: string }[]): Promise<MessageSnapshot[]> {
    const records = await this.records(refs);
    return [...records.values()].map((item) => ({ message: messageOf(item), deliveries: deliveriesOf(item) }));
  }

  /** The messages of a flow's listing received in [from, until), in acceptance order. */
  async listedBetween(flowId: string, from: string, until: string): Promise<{ flowId: string; messageId: string }[]> {
    // A page is keyed by its first message; one that started a little earlier may hold later ones.
    const lower = new Date(Date.parse(from) - LISTING_PAGE_SPAN_MS).toISOString();
    const pages = await queryAll(this.documents, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :p AND sk BETWEEN :from AND :until',
      ExpressionAttributeValues: { ':p': listings.flowMessages(flowId), ':from': lower, ':until': until },
    });
    const refs: { flowId: string; messageId: string }[] = [];
    for (const page of pages) {
      for (const entry of (page.entries as string[] | undefined) ?? []) {
        const at = entry.slice(0, entry.indexOf('#'));
        if (at >= from && at < until) refs.push({ flowId, messageId: entry.slice(entry.indexOf('#') + 1) });
      }
    }
    return refs;
  }

  /**
   * A flow's listing entries received in [from, until), in acceptance order (by
   * `receivedAt`, then GUID). Reads the listing a few pages at a time, so a caller that
   * stops early (a replay at its cap) reads little more than it used. Pages are keyed by
   * their first entry and may overlap, so an entry is handed out only once no page still
   * to be read can hold an earlier one.
   */
  async *listing(flowId: string, window: { from: string; until: string }, pageItems = 25): AsyncGenerator<ListingEntry> {
    const lower = new Date(Date.parse(window.from) - LISTING_PAGE_SPAN_MS).toISOString();
    const wanted = (e: ListingEntry) => e.receivedAt >= window.from && e.receivedAt < window.until;
    if (window.from >= window.until) return;
    let buffer: ListingEntry[] = [];
    let previous: ListingEntry | undefined;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page: { Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> } = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :p AND sk BETWEEN :from AND :until',
          ExpressionAttributeValues: { ':p': listings.flowMessages(flowId), ':from': lower, ':until': window.until },
          Limit: pageItems,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        for (const raw of (item.entries as string[] | undefined) ?? []) {
          const entry = parseListingEntry(raw);
          if (wanted(entry)) buffer.push(entry);
        }
      }
      startKey = page.LastEvaluatedKey;
      buffer.sort(compareListingEntries);
      // Pages still to come start at or after the last one read: entries before that are final.
      const last = page.Items?.at(-1);
      const settled = startKey && last ? String(last.sk).slice(0, String(last.sk).indexOf('#')) : undefined;
      const ready = settled === undefined ? buffer.length : buffer.findIndex((e) => e.receivedAt >= settled);
      const cut = ready === -1 ? buffer.length : ready;
      const out = buffer.slice(0, cut);
      buffer = buffer.slice(cut);
      for (const entry of out) {
        // A stream batch handled twice may have listed a message on two pages.
        if (previous && compareListingEntries(entry, previous) <= 0) continue;
        previous = entry;
        yield entry;
      }
    } while (startKey);
  }

  /**
   * Every message of a flow's listing, in acceptance order, with its deliveries (records
   * read without payload or report), a hundred at a time. The listing trails the records
   * by the stream's lag.
   */
  async *walk(
    flowId: string,
  ): AsyncGenerator<{ message: Pick<Message, 'flowId' | 'messageId' | 'receivedAt'>; deliveries: LoadedDelivery[] }[]> {
    let chunk: ListingEntry[] = [];
    const read = async (entries: ListingEntry[]) => {
      const records = await this.records(
        entries.map((e) => ({ flowId, messageId: e.messageId })),
        ['pk', ...(['receivedAt', 'chainId', 'destinations'] as const).map(messageAttribute), DELIVERIES_ATTRIBUTE],
      );
      return entries
        .map((e) => records.get(`${flowId}#${e.messageId}`))
        .filter((item): item is Record<string, unknown> => item !== undefined)
        .map((item) => ({
          message: { flowId, messageId: messageRef(item).messageId, receivedAt: String(item[messageAttribute('receivedAt')]) },
          deliveries: deliveriesOf(item),
        }));
    };
    for await (const entry of this.listing(flowId, { from: new Date(0).toISOString(), until: '9999-12-31T23:59:59.999Z' })) {
      chunk.push(entry);
      if (chunk.length === 100) {
        yield await read(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) yield await read(chunk);
  }

  /** The message, its deliveries and its whole execution report (spilled entries first). */
  async detail(flowId: string, messageId: string): Promise<MessageDetail | undefined> {
    const items = await queryAll(this.documents, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': keys.messagePartition(flowId, messageId) },
      ConsistentRead: true,
    });
    const record = items.find((item) => item.sk === keys.message(flowId, messageId).sk);
    if (!record) return undefined;
    const spilled = items.filter((item) => String(item.sk).startsWith(keys.reportPrefix)).flatMap((item) => decodeEntries(item.entries));
    const message = messageOf(record);
    const stored = [...spilled, ...reportOf(record)];
    return { message, deliveries: deliveriesOf(record), report: [...acceptanceReport(message, stored), ...stored] };
  }

  /** Appends report entries that change no delivery (operator URL issuance…). */
  async appendReport(flowId: string, messageId: string, entries: ReportEntry[]): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.message(flowId, messageId),
        UpdateExpression: 'SET #report = list_append(if_not_exists(#report, :empty), :entries)',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#report': REPORT_ATTRIBUTE },
        ExpressionAttributeValues: { ':entries': encodeEntries(entries), ':empty': [] },
      }),
    );
  }

  /**
   * The queue send after a recorded message failed: the record becomes findable by
   * the sweep (only now; the happy path never writes this) and gets an error entry.
   */
  async markPendingEnqueue(flowId: string, messageId: string, entry: ReportEntry): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.message(flowId, messageId),
        UpdateExpression:
          'SET enqueue = :pending, gsi2pk = :p, gsi2sk = :s, #report = list_append(if_not_exists(#report, :empty), :entry) REMOVE enqueueLeaseUntil',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#report': REPORT_ATTRIBUTE },
        ExpressionAttributeValues: {
          ':pending': 'pending',
          ':p': listings.pendingEnqueue,
          ':s': `${entry.at}#${flowId}#${messageId}`,
          ':entry': encodeEntries([entry]),
          ':empty': [],
        },
      }),
    );
  }

  /**
   * Takes the enqueue lease of a pending message when it is free or expired.
   * Returns false when another request holds it or the message is not pending.
   */
  async claimEnqueue(flowId: string, messageId: string, nowMs: number, leaseMs: number): Promise<boolean> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.message(flowId, messageId),
          UpdateExpression: 'SET enqueueLeaseUntil = :until',
          ConditionExpression: 'enqueue = :pending AND (attribute_not_exists(enqueueLeaseUntil) OR enqueueLeaseUntil < :now)',
          ExpressionAttributeValues: { ':until': nowMs + leaseMs, ':pending': 'pending', ':now': nowMs },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async releaseEnqueue(flowId: string, messageId: string): Promise<void> {
    await this.documents
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.message(flowId, messageId),
          UpdateExpression: 'REMOVE enqueueLeaseUntil',
          ConditionExpression: 'enqueue = :pending',
          ExpressionAttributeValues: { ':pending': 'pending' },
        }),
      )
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  /** A pending message is queued now: it leaves the sweep's index. */
  async markEnqueued(flowId: string, messageId: string, queued: ReportEntry): Promise<void> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.message(flowId, messageId),
          UpdateExpression:
            'SET #report = list_append(if_not_exists(#report, :empty), :entry) REMOVE enqueue, enqueueLeaseUntil, gsi2pk, gsi2sk',
          ConditionExpression: 'enqueue = :pending',
          ExpressionAttributeNames: { '#report': REPORT_ATTRIBUTE },
          ExpressionAttributeValues: { ':pending': 'pending', ':entry': encodeEntries([queued]), ':empty': [] },
        }),
      );
    } catch (error) {
      // Another request finished the same enqueue first: the outcome is the same.
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** Messages still pending enqueue that were received before `before`, oldest first. */
  async pendingEnqueue(before: Date, limit = 100): Promise<{ flowId: string; messageId: string }[]> {
    const { Items = [] } = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :p AND gsi2sk < :before',
        ExpressionAttributeValues: { ':p': listings.pendingEnqueue, ':before': before.toISOString() },
        Limit: limit,
      }),
    );
    return Items.map(messageRef);
  }

  /**
   * Adds one page to a flow's message listing: the messages of one stream batch, in
   * acceptance order. One small put per flow per batch instead of an index entry per message.
   */
  async addListingPage(flowId: string, entries: { receivedAt: string; messageId: string }[]): Promise<void> {
    if (entries.length === 0) return;
    await this.documents.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: listings.flowMessages(flowId),
          sk: `${entries[0]!.receivedAt}#${entries[0]!.messageId}#${entries.length}`,
          entries: entries.map((e) => `${e.receivedAt}#${e.messageId}`),
        },
      }),
    );
  }

  /**
   * A flow's messages in acceptance order, from its listing pages (they trail the records
   * by the stream's lag); statuses come from the records. `status` filters each page.
   */
  async list(
    flowId: string,
    options: { status?: MessageStatus; limit: number; cursor?: string },
  ): Promise<{ items: StoredMessage[]; cursor?: string }> {
    const position = decodeCursor(options.cursor) as { page?: string; offset?: number } | undefined;
    const refs: { flowId: string; messageId: string }[] = [];
    let next: { page: string; offset: number } | undefined;
    let start: Record<string, unknown> | undefined = position?.page ? { pk: listings.flowMessages(flowId), sk: position.page } : undefined;
    let skip = position?.offset ?? 0;
    let first = true;
    outer: do {
      const page: { Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> } = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: first && start ? 'pk = :p AND sk >= :s' : 'pk = :p',
          ExpressionAttributeValues: { ':p': listings.flowMessages(flowId), ...(first && start ? { ':s': start.sk } : {}) },
          ...(!first && start ? { ExclusiveStartKey: start } : {}),
          Limit: 25,
        }),
      );
      first = false;
      for (const item of page.Items ?? []) {
        const entries = (item.entries as string[] | undefined) ?? [];
        for (let i = skip; i < entries.length; i++) {
          if (refs.length === options.limit) {
            next = { page: String(item.sk), offset: i };
            break outer;
          }
          const entry = entries[i]!;
          refs.push({ flowId, messageId: entry.slice(entry.indexOf('#') + 1) });
        }
        skip = 0;
      }
      start = page.LastEvaluatedKey;
    } while (start);
    const records = await this.records(refs);
    const items = refs
      .map((r) => records.get(`${r.flowId}#${r.messageId}`))
      .filter((item): item is Record<string, unknown> => item !== undefined)
      .map((item) => messageOf(item))
      .filter((m) => !options.status || m.status === options.status);
    return { items, ...(next ? { cursor: encodeCursor(next) } : {}) };
  }

  /**
   * The first message of a flow (in its listing) that is not delivered or discarded,
   * with its status read from its record; undefined when every one is final.
   */
  async firstUnfinished(flowId: string): Promise<string | undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.list(flowId, { limit: 100, ...(cursor ? { cursor } : {}) });
      const open = page.items.find((m) => m.status !== 'delivered' && m.status !== 'discarded');
      if (open) return open.messageId;
      cursor = page.cursor;
    } while (cursor);
    return undefined;
  }
}
