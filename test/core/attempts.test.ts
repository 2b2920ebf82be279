import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { attemptCounts } from '../../core/attempts';

describe('attemptCounts: what operators see of attempts', () => {
  it('never restarted: both count every request, held 401/403 requests included', () => {
    assert.deepEqual(attemptCounts({ attempts: 2, requests: 3 }), { attempts: 3, attemptsSinceRestart: 3 });
  });

  it('restarted: the total keeps counting, the budget reset does not hide earlier requests', () => {
    assert.deepEqual(attemptCounts({ attempts: 1, requests: 4, requestsBeforeRestart: 3 }), { attempts: 4, attemptsSinceRestart: 1 });
    assert.deepEqual(attemptCounts({ attempts: 0, requests: 3, requestsBeforeRestart: 3 }), { attempts: 3, attemptsSinceRestart: 0 });
  });

  it('records from before request counting fall back to the budgeted attempts', () => {
    assert.deepEqual(attemptCounts({ attempts: 2 }), { attempts: 2, attemptsSinceRestart: 2 });
  });
});
