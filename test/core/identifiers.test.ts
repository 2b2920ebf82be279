import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MESSAGE_ID_PATTERN, parseRfc3339 } from '../../core/identifiers';

describe('MESSAGE_ID_PATTERN (SPEC Partner API: 1–128 of A-Z a-z 0-9 . _ : -)', () => {
  it('accepts every allowed character', () => {
    for (const id of ['A', 'z', '0', '.', '_', ':', '-', 'ABCxyz019._:-', '550e8400-e29b-41d4-a716-446655440000', 'urn:order:2026.01_31']) {
      assert.ok(MESSAGE_ID_PATTERN.test(id), id);
    }
  });

  it('accepts 1 and 128 characters', () => {
    assert.ok(MESSAGE_ID_PATTERN.test('a'));
    assert.ok(MESSAGE_ID_PATTERN.test('a'.repeat(128)));
  });

  it('rejects 0 and 129 characters', () => {
    assert.equal(MESSAGE_ID_PATTERN.test(''), false);
    assert.equal(MESSAGE_ID_PATTERN.test('a'.repeat(129)), false);
  });

  it('rejects spaces, slashes, hashes, unicode and other punctuation', () => {
    for (const id of ['a b', ' a', 'a ', 'a/b', 'a#b', 'é', 'ａ', 'id\u200b', 'a\nb', 'a\tb', 'a+b', 'a?b', 'a%2F', 'a@b', '..\\x']) {
      assert.equal(MESSAGE_ID_PATTERN.test(id), false, JSON.stringify(id));
    }
  });

  it('rejects a trailing newline (anchors are strict)', () => {
    assert.equal(MESSAGE_ID_PATTERN.test('abc\n'), false);
  });
});

describe('parseRfc3339', () => {
  it('parses a UTC date-time', () => {
    assert.equal(parseRfc3339('2026-01-31T12:00:00Z')?.toISOString(), '2026-01-31T12:00:00.000Z');
  });

  it('parses fractional seconds', () => {
    assert.equal(parseRfc3339('2026-01-31T12:00:00.250Z')?.toISOString(), '2026-01-31T12:00:00.250Z');
    assert.equal(parseRfc3339('2026-01-31T12:00:00.5Z')?.getTime(), Date.UTC(2026, 0, 31, 12, 0, 0, 500));
  });

  it('applies offsets', () => {
    assert.equal(parseRfc3339('2026-01-31T12:00:00+02:00')?.toISOString(), '2026-01-31T10:00:00.000Z');
    assert.equal(parseRfc3339('2026-01-31T12:00:00-05:30')?.toISOString(), '2026-01-31T17:30:00.000Z');
    assert.equal(parseRfc3339('2026-01-31T12:00:00.5+00:00')?.toISOString(), '2026-01-31T12:00:00.500Z');
  });

  it('accepts a leap day in a leap year', () => {
    assert.equal(parseRfc3339('2024-02-29T00:00:00Z')?.toISOString(), '2024-02-29T00:00:00.000Z');
  });

  it('rejects a missing offset', () => {
    assert.equal(parseRfc3339('2026-01-31T12:00:00'), undefined);
    assert.equal(parseRfc3339('2026-01-31T12:00:00.123'), undefined);
  });

  it('rejects impossible days instead of rolling them over', () => {
    for (const v of [
      '2026-02-29T00:00:00Z',
      '2026-02-30T00:00:00Z',
      '2026-02-31T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-01-32T00:00:00Z',
      '2026-01-00T00:00:00Z',
    ]) {
      assert.equal(parseRfc3339(v), undefined, v);
    }
  });

  it('rejects month 13 and month 0', () => {
    assert.equal(parseRfc3339('2026-13-01T00:00:00Z'), undefined);
    assert.equal(parseRfc3339('2026-00-01T00:00:00Z'), undefined);
  });

  it('rejects hour 24, minute 60 and an impossible offset', () => {
    assert.equal(parseRfc3339('2026-01-31T24:00:00Z'), undefined);
    assert.equal(parseRfc3339('2026-01-31T12:60:00Z'), undefined);
    assert.equal(parseRfc3339('2026-01-31T12:00:00+24:00'), undefined);
    assert.equal(parseRfc3339('2026-01-31T12:00:00+02:60'), undefined);
  });

  it('rejects other formats', () => {
    for (const v of [
      '',
      '2026-01-31',
      '31/01/2026 12:00Z',
      'Sat, 31 Jan 2026 12:00:00 GMT',
      '1769860800',
      '2026-1-31T12:00:00Z',
      '2026-01-31T12:00Z',
      ' 2026-01-31T12:00:00Z',
    ]) {
      assert.equal(parseRfc3339(v), undefined, JSON.stringify(v));
    }
  });
});
