/**
 * DynamoDB request units as AWS bills them, computed from the items themselves: the bench
 * never trusts an emulator's ConsumedCapacity (DynamoDB Local under-reports transactions
 * and reports nothing for failed conditional writes).
 *
 * Rules (Amazon DynamoDB Developer Guide, "DynamoDB item sizes and formats", "Read/write
 * capacity", "Global secondary indexes: provisioned throughput considerations", "Capacity
 * management for transactions"; as of 2026-11):
 * - item size = Σ over attributes of (UTF-8 bytes of the name + size of the value);
 *   string: UTF-8 bytes; number: 1 byte per two significant digits + 1; binary: raw bytes;
 *   boolean and null: 1; list and map: 3 bytes + Σ elements, each element + 1 byte (a map
 *   element also counts its key's bytes); sets: Σ of their elements' sizes.
 * - writes: 1 unit per 1 KB of the item, rounded up per item (minimum 1); an update or a
 *   replacing put bills the larger of the item before and after; a failed conditional write
 *   still bills the size of the existing item (minimum 1).
 * - reads: 1 unit per 4 KB, rounded up; eventually consistent reads cost half; a read of a
 *   missing item costs the minimum; Query and Scan sum the sizes of the items read, then round
 *   up once; BatchGetItem rounds each item; projections and filters do not reduce the cost.
 * - transactions: every item costs twice (prepare and commit); a ConditionCheck in a write
 *   transaction is billed like a write of the item it checks (assumption, see below).
 * - global secondary indexes: each index the write touches costs write units for the index
 *   entry (its projected attributes): a put when an item enters the index, a delete when it
 *   leaves, both when its index key changes, one update when only projected attributes change,
 *   nothing when the item is in the index neither before nor after. Index propagation is
 *   asynchronous and not part of a transaction's two phases, so it is not doubled.
 */
import { createHash } from 'node:crypto';

/** A DynamoDB attribute value in wire form ({ S: 'x' }, { N: '1' }, { M: {...} }, …). */
export type AttributeValue = Record<string, any>;
export type Item = Record<string, AttributeValue>;

export type Projection = { type: 'ALL' } | { type: 'KEYS_ONLY' } | { type: 'INCLUDE'; nonKeyAttributes: string[] };

export interface IndexSchema {
  name: string;
  /** Partition key, then sort key if any. */
  keyAttributes: string[];
  projection: Projection;
}

export interface TableSchema {
  tableName: string;
  /** Partition key, then sort key if any. */
  keyAttributes: string[];
  globalSecondaryIndexes: IndexSchema[];
}

const WRITE_UNIT_BYTES = 1024;
const READ_UNIT_BYTES = 4096;

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/** Bytes of a binary value: the raw bytes (base64 on the wire is not what is billed). */
function binaryBytes(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value === 'string') return Buffer.from(value, 'base64').byteLength;
  return 0;
}

/** 1 byte per two significant digits, + 1 byte; leading and trailing zeros do not count. */
export function numberSize(text: string): number {
  const mantissa = text.trim().replace(/^[+-]/, '').split(/[eE]/)[0]!;
  const digits = mantissa.replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

export function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return binaryBytes(value.B);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return (value.SS as string[]).reduce((n, s) => n + utf8(s), 0);
  if (value.NS !== undefined) return (value.NS as string[]).reduce((n, s) => n + numberSize(s), 0);
  if (value.BS !== undefined) return (value.BS as unknown[]).reduce((n: number, b) => n + binaryBytes(b), 0);
  if (value.L !== undefined) return 3 + (value.L as AttributeValue[]).reduce((n, v) => n + valueSize(v) + 1, 0);
  if (value.M !== undefined) return 3 + Object.entries(value.M as Item).reduce((n, [k, v]) => n + utf8(k) + valueSize(v) + 1, 0);
  throw new TypeError(`not a DynamoDB attribute value: ${JSON.stringify(value).slice(0, 80)}`);
}

export function itemSize(item: Item | undefined): number {
  if (!item) return 0;
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8(name) + valueSize(value);
  return size;
}

/** Write units of one item write (or index entry write) of `bytes`. */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));
}

/** Read units of `bytes` read in one unit of rounding (an item, or a whole Query page). */
export function readUnits(bytes: number, consistency: 'strong' | 'eventual'): number {
  const units = Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
  return consistency === 'strong' ? units : units / 2;
}

/** Canonical text of a value (map keys sorted), so that equal values compare equal. */
function canonical(value: unknown): string {
  if (value instanceof Uint8Array) return `b:${Buffer.from(value).toString('base64')}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Identity of an item: its table and primary key values. */
export function itemKey(schema: TableSchema, item: Item): string {
  return `${schema.tableName}\u0000${schema.keyAttributes.map((a) => canonical(item[a])).join('\u0000')}`;
}

/** What billing needs to know of an item in one index. */
export interface IndexEntry {
  /** The index key values (an entry whose key changes moves: delete + put). */
  key: string;
  /** Size of the projected entry (table keys, index keys, projected attributes). */
  size: number;
  /** Digest of the projected attributes: an entry whose projection is unchanged is not rewritten. */
  digest: string;
}

/**
 * What billing needs to know of an item, without keeping the item: its size and its entry
 * in each global secondary index (absent: the item lacks an index key, so it is not in it).
 */
export interface ItemImage {
  size: number;
  indexes: Record<string, IndexEntry | undefined>;
}

export function imageOf(schema: TableSchema, item: Item | undefined): ItemImage | undefined {
  if (!item) return undefined;
  const indexes: Record<string, IndexEntry | undefined> = {};
  for (const index of schema.globalSecondaryIndexes) {
    if (!index.keyAttributes.every((a) => item[a] !== undefined)) {
      indexes[index.name] = undefined;
      continue;
    }
    const keys = new Set([...schema.keyAttributes, ...index.keyAttributes]);
    let projected: Item;
    if (index.projection.type === 'ALL') projected = item;
    else {
      const names = index.projection.type === 'INCLUDE' ? [...keys, ...index.projection.nonKeyAttributes] : [...keys];
      projected = Object.fromEntries(names.filter((n) => item[n] !== undefined).map((n) => [n, item[n]!]));
    }
    indexes[index.name] = {
      key: index.keyAttributes.map((a) => canonical(item[a])).join('\u0000'),
      size: itemSize(projected),
      digest: createHash('sha1').update(canonical(projected)).digest('base64'),
    };
  }
  return { size: itemSize(item), indexes };
}

export interface WriteCost {
  /** Write units on the table (transactions doubled). */
  table: number;
  /** Write units per global secondary index touched. */
  indexes: Record<string, number>;
}

export const totalWriteUnits = (cost: WriteCost) => cost.table + Object.values(cost.indexes).reduce((s, u) => s + u, 0);

/** Write units of one index for an item going from `before` to `after` (either may be absent). */
export function indexWriteUnits(before: IndexEntry | undefined, after: IndexEntry | undefined): number {
  if (!before && !after) return 0;
  if (!before) return writeUnits(after!.size);
  if (!after) return writeUnits(before.size);
  if (before.key !== after.key) return writeUnits(before.size) + writeUnits(after.size);
  if (before.digest === after.digest) return 0;
  return writeUnits(Math.max(before.size, after.size));
}

/**
 * A successful write (put, update or delete) of one item: the table bills the larger of the
 * item before and after; each index bills what the item's entry in it did.
 */
export function writeCost(
  schema: TableSchema,
  before: ItemImage | undefined,
  after: ItemImage | undefined,
  options: { transactional?: boolean } = {},
): WriteCost {
  const factor = options.transactional ? 2 : 1;
  const indexes: Record<string, number> = {};
  for (const index of schema.globalSecondaryIndexes) {
    const units = indexWriteUnits(before?.indexes[index.name], after?.indexes[index.name]);
    if (units > 0) indexes[index.name] = units;
  }
  return { table: factor * writeUnits(Math.max(before?.size ?? 0, after?.size ?? 0)), indexes };
}

/**
 * A write that did not happen: a failed condition (or a cancelled transaction's item, or a
 * transaction's ConditionCheck) bills the existing item's size, at least 1 unit; no index changes.
 */
export function unchangedWriteCost(before: ItemImage | undefined, options: { transactional?: boolean } = {}): WriteCost {
  return { table: (options.transactional ? 2 : 1) * writeUnits(before?.size ?? 0), indexes: {} };
}
