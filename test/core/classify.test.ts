import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classify, isSuccess, SUGGESTED_ACTIONS, type AttemptOutcome } from '../../core/classify';
import type { FailureType } from '../../core/model';

function response(status: number, extra: Partial<Extract<AttemptOutcome, { kind: 'response' }>> = {}): AttemptOutcome {
  return { kind: 'response', status, durationMs: 12, bodyExcerpt: '', ...extra };
}

describe('classify: success statuses (SPEC delivery semantics 4)', () => {
  it('default "2xx" treats every 200..299 as delivered', () => {
    for (const status of [200, 201, 202, 204, 250, 299]) {
      assert.deepEqual(classify(response(status), '2xx'), { verdict: 'delivered' }, `status ${status}`);
    }
  });

  it('default "2xx" does not treat 199 or 300 as delivered', () => {
    assert.equal(isSuccess(199, '2xx'), false);
    assert.equal(isSuccess(300, '2xx'), false);
    assert.notEqual(classify(response(300), '2xx').verdict, 'delivered');
  });

  it('strict [200, 202] delivers 200 and 202 only', () => {
    assert.deepEqual(classify(response(200), [200, 202]), { verdict: 'delivered' });
    assert.deepEqual(classify(response(202), [200, 202]), { verdict: 'delivered' });
    assert.equal(isSuccess(201, [200, 202]), false);
    assert.equal(isSuccess(204, [200, 202]), false);
  });

  it('strict [200, 202]: a 201 is not success and fails permanently as business (not retried)', () => {
    // The target answered, just not with an agreed success status: the message, not the
    // connection, is at fault, so it goes to the failed store as `business` without retries.
    assert.deepEqual(classify(response(201), [200, 202]), { verdict: 'permanent', failureType: 'business' });
    assert.deepEqual(classify(response(204), [200, 202]), { verdict: 'permanent', failureType: 'business' });
  });

  it('a custom list can make a non-2xx status a success', () => {
    assert.deepEqual(classify(response(409), [200, 409]), { verdict: 'delivered' });
  });
});

describe('classify: failures (SPEC delivery semantics 6, 7)', () => {
  it('401 and 403 are unauthorized (the connection is at fault, not the message)', () => {
    assert.deepEqual(classify(response(401), '2xx'), { verdict: 'unauthorized' });
    assert.deepEqual(classify(response(403), '2xx'), { verdict: 'unauthorized' });
    assert.deepEqual(classify(response(403), [200, 202]), { verdict: 'unauthorized' });
  });

  it('408, 429 and every 5xx are transient "unavailable" and not connection-level', () => {
    for (const status of [408, 429, 500, 502, 503, 504, 599]) {
      assert.deepEqual(
        classify(response(status), '2xx'),
        { verdict: 'transient', failureType: 'unavailable', connectionLevel: false },
        `status ${status}`,
      );
    }
  });

  it('other 4xx are permanent business failures without a warning', () => {
    for (const status of [400, 402, 404, 405, 409, 410, 413, 415, 422, 451]) {
      assert.deepEqual(classify(response(status), '2xx'), { verdict: 'permanent', failureType: 'business' }, `status ${status}`);
    }
  });

  it('a timeout is transient "timeout" and connection-level', () => {
    const outcome: AttemptOutcome = { kind: 'timeout', durationMs: 10000, message: 'no answer within 10000 ms' };
    assert.deepEqual(classify(outcome, '2xx'), { verdict: 'transient', failureType: 'timeout', connectionLevel: true });
  });

  it('a connection error is transient "unavailable" and connection-level', () => {
    const outcome: AttemptOutcome = { kind: 'connection-error', durationMs: 3, message: 'ECONNREFUSED' };
    assert.deepEqual(classify(outcome, '2xx'), { verdict: 'transient', failureType: 'unavailable', connectionLevel: true });
  });

  it('a refused target (disallowed address) is a permanent configuration failure', () => {
    const outcome: AttemptOutcome = { kind: 'refused-target', durationMs: 0, message: 'resolved to 127.0.0.1' };
    assert.deepEqual(classify(outcome, '2xx'), { verdict: 'permanent', failureType: 'configuration' });
  });

  it('a 3xx is a permanent business failure whose warning names the status and the Location', () => {
    const verdict = classify(response(302, { location: 'https://new.example.com/in' }), '2xx');
    assert.equal(verdict.verdict, 'permanent');
    assert.ok(verdict.verdict === 'permanent');
    assert.equal(verdict.failureType, 'business');
    assert.match(verdict.warning ?? '', /302/);
    assert.ok(verdict.warning?.includes('https://new.example.com/in'), verdict.warning);
  });

  it('a 3xx without a Location still carries a redirect warning', () => {
    const verdict = classify(response(301), '2xx');
    assert.ok(verdict.verdict === 'permanent');
    assert.equal(verdict.failureType, 'business');
    assert.match(verdict.warning ?? '', /301 redirect/);
  });
});

describe('SUGGESTED_ACTIONS (SPEC "Failure types")', () => {
  const table: Record<FailureType, string> = {
    business: 'Download the payload, correct it, upload, restart.',
    timeout: 'Raise the connection timeout or investigate the target; restart.',
    unavailable: "Check the target's status page; restart when it is back.",
    expired: 'Extend the expiry or speed up the target; restart.',
    configuration: 'Wire the flow to a valid connection; restart.',
    internal: 'Look up the correlation id in the logs; restart.',
  };

  it('has exactly one entry per failure type', () => {
    assert.deepEqual(Object.keys(SUGGESTED_ACTIONS).sort(), Object.keys(table).sort());
  });

  it('matches the SPEC table text exactly', () => {
    for (const [type, action] of Object.entries(table)) {
      assert.equal(SUGGESTED_ACTIONS[type as FailureType], action, type);
    }
  });
});
