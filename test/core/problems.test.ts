import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PROBLEM_STATUS, ProblemError, problemOf, type ProblemCode } from '../../core/problems';
import { specErrorCodes } from '../helpers/spec';

/** The SPEC's table ("Errors"), read from the SPEC: never copied from the code under test. */
const SPEC_CODES = specErrorCodes();

/**
 * Codes beyond the SPEC's list, each for an answer HTTP itself defines: named here so
 * that a code added to the code without the SPEC fails this test.
 */
const BEYOND_SPEC: Record<string, number> = {
  'method-not-allowed': 405,
  'header-too-large': 431,
};

const SPEC = Object.fromEntries([...SPEC_CODES, ...Object.entries(BEYOND_SPEC)]) as Record<ProblemCode, number>;

describe('problem codes (SPEC "Errors")', () => {
  it('reads a plausible table from the SPEC', () => {
    assert.ok(SPEC_CODES.size >= 16, `only ${SPEC_CODES.size} codes parsed from SPEC.md`);
    for (const code of ['invalid-query', 'invalid-path', 'unauthenticated', 'internal']) assert.ok(SPEC_CODES.has(code), code);
  });

  it('has exactly the SPEC codes, plus the named HTTP-level ones', () => {
    assert.deepEqual(Object.keys(PROBLEM_STATUS).sort(), Object.keys(SPEC).sort());
  });

  it('maps every code to its SPEC status (table, error and rendered problem agree)', () => {
    for (const [code, status] of Object.entries(SPEC) as [ProblemCode, number][]) {
      assert.equal(PROBLEM_STATUS[code], status, code);
      assert.equal(new ProblemError(code, 'x').status, status, code);
      assert.equal(problemOf(code, 'x').status, status, code);
    }
  });
});

describe('ProblemError', () => {
  it('is an Error carrying its code, status and detail', () => {
    const error = new ProblemError('flow-disabled', 'flow orders is disabled');
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'ProblemError');
    assert.equal(error.code, 'flow-disabled');
    assert.equal(error.status, 409);
    assert.equal(error.message, 'flow orders is disabled');
  });

  it('toProblem() renders RFC 9457 fields: type, title, status, detail, code', () => {
    const problem = new ProblemError('payload-too-large', 'payload is 5000000 bytes; the limit is 4194304').toProblem();
    assert.equal(problem.status, 413);
    assert.equal(problem.code, 'payload-too-large');
    assert.equal(problem.detail, 'payload is 5000000 bytes; the limit is 4194304');
    assert.equal(typeof problem.type, 'string');
    assert.ok(problem.type.length > 0);
    assert.ok(problem.type.includes('payload-too-large'), problem.type);
    assert.equal(typeof problem.title, 'string');
    assert.ok(problem.title.length > 0);
    assert.notEqual(problem.title, problem.detail);
  });

  it('every code has a distinct type and a title', () => {
    const types = new Set<string>();
    for (const code of Object.keys(SPEC) as ProblemCode[]) {
      const p = problemOf(code, 'detail');
      assert.ok(p.title.length > 0, code);
      types.add(p.type);
    }
    assert.equal(types.size, Object.keys(SPEC).length);
  });

  it('extensions are included but cannot override the standard fields', () => {
    const problem = new ProblemError('throttled', 'slow down', { retryAfterSeconds: 5, status: 200, code: 'internal' }).toProblem();
    assert.equal(problem.retryAfterSeconds, 5);
    assert.equal(problem.status, 429);
    assert.equal(problem.code, 'throttled');
  });

  it('serialises to JSON with the five members', () => {
    const json = JSON.parse(JSON.stringify(new ProblemError('not-found', 'no such message').toProblem()));
    assert.deepEqual(Object.keys(json).sort(), ['code', 'detail', 'status', 'title', 'type']);
  });
});
