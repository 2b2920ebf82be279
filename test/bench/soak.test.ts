import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatSoak, runSoak } from '../../bench/soak-run';

describe('soak (small)', () => {
  it('under flapping targets, poller kills, crashes, DynamoDB throttling and a gateway restart nothing is lost, duplicated without the flag or reordered', {
    timeout: 240_000,
  }, async () => {
    const lines: string[] = [];
    const result = await runSoak({
      seconds: 30,
      graceSeconds: 60,
      messages: 100,
      flows: 4,
      seed: 20_261_122,
      log: (line) => lines.push(line),
    });
    const summary = `${lines.join('\n')}\n${formatSoak(result)}`;
    assert.equal(result.posted.accepted, 100, summary);
    assert.equal(result.invariants.lost, 0, summary);
    assert.equal(result.invariants.duplicatesWithoutFlag, 0, summary);
    assert.equal(result.invariants.repeatsWithoutFlag, 0, summary);
    assert.equal(result.invariants.orderViolations, 0, summary);
    assert.equal(result.invariants.pending, 0, summary);
    assert.equal(result.invariants.delivered + result.invariants.failed, result.invariants.accepted, summary);
    assert.ok(result.settled, summary);
    assert.ok(result.ok, summary);
    // The faults really happened.
    assert.ok(result.faults.targetDownBack! >= 1, summary);
    assert.ok(result.faults.pollerKills! >= 1, summary);
    // The gateway was stopped and started again on its data directory, its queue empty.
    assert.equal(result.faults.gatewayRestarts, 1, summary);
    assert.ok(result.faults.http503! + result.faults.hang! + result.faults.reset! > 0, summary);
    // The deliverer saw batches as AWS hands them out: several messages of one lane at once.
    assert.ok(result.batches.severalOfOneLane > 0, summary);
  });
});
