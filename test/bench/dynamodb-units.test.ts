import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  imageOf,
  itemSize,
  numberSize,
  readUnits,
  totalWriteUnits,
  unchangedWriteCost,
  valueSize,
  writeCost,
  writeUnits,
  type TableSchema,
} from '../../bench/dynamodb-units';

const schema: TableSchema = {
  tableName: 't',
  keyAttributes: ['pk', 'sk'],
  globalSecondaryIndexes: [
    { name: 'byStatus', keyAttributes: ['gpk', 'gsk'], projection: { type: 'ALL' } },
    { name: 'keysOnly', keyAttributes: ['kpk'], projection: { type: 'KEYS_ONLY' } },
  ],
};

/** An item of exactly `bytes` by DynamoDB's rules: pk "p" (3 B), sk "s" (3 B), the rest in `data`. */
const sized = (bytes: number, extra: Record<string, any> = {}) => {
  const base = { pk: { S: 'p' }, sk: { S: 's' }, ...extra };
  const rest = bytes - itemSize(base) - 'data'.length;
  assert.ok(rest >= 0);
  return { ...base, data: { S: 'x'.repeat(rest) } };
};

describe('DynamoDB item sizes (AWS "item sizes and formats")', () => {
  it('strings count UTF-8 bytes of name and value', () => {
    assert.equal(itemSize({ name: { S: 'abc' } }), 4 + 3);
    assert.equal(itemSize({ é: { S: 'ü€' } }), 2 + 2 + 3);
  });

  it('numbers: 1 byte per two significant digits, plus 1; leading and trailing zeros do not count', () => {
    assert.equal(numberSize('1'), 2);
    assert.equal(numberSize('12'), 2);
    assert.equal(numberSize('123'), 3);
    assert.equal(numberSize('-0012300'), 3); // digits "123"
    assert.equal(numberSize('1732000000000'), 3); // "1732"
    assert.equal(numberSize('0.05'), 2); // "5"
    assert.equal(itemSize({ n: { N: '1732954283123' } }), 1 + 8); // 13 digits → 7 + 1
  });

  it('binary counts raw bytes; booleans and nulls 1 byte', () => {
    assert.equal(valueSize({ B: new Uint8Array(10) }), 10);
    assert.equal(valueSize({ B: Buffer.alloc(7).toString('base64') }), 7);
    assert.equal(itemSize({ ok: { BOOL: true }, no: { NULL: true } }), 2 + 1 + 2 + 1);
  });

  it('lists and maps: 3 bytes, plus each element and 1 byte per element (a map element with its key)', () => {
    assert.equal(valueSize({ L: [] }), 3);
    assert.equal(valueSize({ M: {} }), 3);
    // ["ab", 1]: 3 + (2 + 1) + (2 + 1)
    assert.equal(valueSize({ L: [{ S: 'ab' }, { N: '1' }] }), 9);
    // { k: "v", n: { L: [] } }: 3 + (1 + 1 + 1) + (1 + 3 + 1)
    assert.equal(valueSize({ M: { k: { S: 'v' }, n: { L: [] } } }), 11);
  });

  it('sets: the sum of their elements', () => {
    assert.equal(valueSize({ SS: ['a', 'bcd'] }), 4);
    assert.equal(valueSize({ NS: ['1', '12345'] }), 2 + 4);
    assert.equal(valueSize({ BS: [new Uint8Array(3), new Uint8Array(5)] }), 8);
  });
});

describe('request units by AWS rules', () => {
  it('writes round up to 1 KB per item, reads to 4 KB; eventual reads cost half; a miss costs the minimum', () => {
    assert.equal(writeUnits(0), 1);
    assert.equal(writeUnits(1024), 1);
    assert.equal(writeUnits(1025), 2);
    assert.equal(readUnits(0, 'strong'), 1);
    assert.equal(readUnits(4096, 'strong'), 1);
    assert.equal(readUnits(4097, 'strong'), 2);
    assert.equal(readUnits(4097, 'eventual'), 1);
    assert.equal(readUnits(100, 'eventual'), 0.5);
  });

  it('a new item with an index key: the table and the index entry (ALL projection = the item)', () => {
    const item = sized(1500, { gpk: { S: 'F#1' }, gsk: { S: 'failed' } });
    const cost = writeCost(schema, undefined, imageOf(schema, item));
    assert.deepEqual(cost, { table: 2, indexes: { byStatus: 2 } });
  });

  it('an update that grows the item bills the larger size; no index key, no index write', () => {
    const before = imageOf(schema, sized(900));
    const after = imageOf(schema, sized(1100));
    assert.deepEqual(writeCost(schema, before, after), { table: 2, indexes: {} });
    // and a shrinking one bills the size before
    assert.deepEqual(writeCost(schema, after, before), { table: 2, indexes: {} });
  });

  it('an update that changes an index key costs a delete and a put on that index', () => {
    const before = imageOf(schema, sized(1100, { gpk: { S: 'F#1' }, gsk: { S: 'failed' } }));
    const after = imageOf(schema, sized(1100, { gpk: { S: 'F#1' }, gsk: { S: 'held' } }));
    // table 2; index: delete 2 (1100 B) + put 2
    assert.deepEqual(writeCost(schema, before, after), { table: 2, indexes: { byStatus: 4 } });
  });

  it('entering and leaving an index cost one index write; an unchanged projection none', () => {
    const outside = imageOf(schema, sized(500));
    const inside = imageOf(schema, sized(500, { gpk: { S: 'a' }, gsk: { S: 'b' } }));
    assert.deepEqual(writeCost(schema, outside, inside).indexes, { byStatus: 1 });
    assert.deepEqual(writeCost(schema, inside, outside).indexes, { byStatus: 1 });
    // Keys-only index: a change of other attributes does not touch it.
    const k1 = imageOf(schema, sized(500, { kpk: { S: 'x' }, n: { N: '1' } }));
    const k2 = imageOf(schema, sized(500, { kpk: { S: 'x' }, n: { N: '2' } }));
    assert.deepEqual(writeCost(schema, k1, k2), { table: 1, indexes: {} });
    // An ALL index is rewritten when any attribute changes.
    const a1 = imageOf(schema, sized(500, { gpk: { S: 'a' }, gsk: { S: 'b' }, n: { N: '1' } }));
    const a2 = imageOf(schema, sized(500, { gpk: { S: 'a' }, gsk: { S: 'b' }, n: { N: '2' } }));
    assert.deepEqual(writeCost(schema, a1, a2), { table: 1, indexes: { byStatus: 1 } });
  });

  it('transactions double the table writes (not the asynchronous index propagation)', () => {
    const after = imageOf(schema, sized(1500, { gpk: { S: 'a' }, gsk: { S: 'b' } }));
    assert.deepEqual(writeCost(schema, undefined, after, { transactional: true }), { table: 4, indexes: { byStatus: 2 } });
    assert.equal(totalWriteUnits(writeCost(schema, undefined, after, { transactional: true })), 6);
  });

  it('a failed conditional write bills the existing item, at least 1 unit', () => {
    assert.deepEqual(unchangedWriteCost(imageOf(schema, sized(2500))), { table: 3, indexes: {} });
    assert.deepEqual(unchangedWriteCost(undefined), { table: 1, indexes: {} });
    assert.deepEqual(unchangedWriteCost(imageOf(schema, sized(100)), { transactional: true }), { table: 2, indexes: {} });
  });
});
