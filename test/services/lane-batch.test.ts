import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSRecord } from 'aws-lambda';
import { processLaneBatch } from '../../services/lane-batch';

const record = (id: string, group: string) =>
  ({ messageId: id, receiptHandle: `r-${id}`, attributes: { MessageGroupId: group } }) as unknown as SQSRecord;

describe('processLaneBatch (FIFO lanes, partial batch responses)', () => {
  it('runs each lane in order and stops a lane at its first kept record, giving its followers back', async () => {
    const seen: string[] = [];
    const givenBack: string[] = [];
    let kept = 0;
    const response = await processLaneBatch(
      { Records: [record('a1', 'A'), record('b1', 'B'), record('a2', 'A'), record('a3', 'A'), record('b2', 'B')] },
      {
        process: async (r) => {
          seen.push(r.messageId);
          return r.messageId === 'a2' ? 'keep' : 'delete';
        },
        giveBack: async (r) => {
          givenBack.push(r.messageId);
        },
        onKept: () => kept++,
      },
    );
    assert.deepEqual(
      seen.filter((id) => id.startsWith('a')),
      ['a1', 'a2'],
      'a3 never started',
    );
    assert.deepEqual(
      seen.filter((id) => id.startsWith('b')),
      ['b1', 'b2'],
      'the other lane went on',
    );
    assert.deepEqual(givenBack, ['a3']);
    assert.deepEqual(
      response.batchItemFailures.map((f) => f.itemIdentifier),
      ['a2', 'a3'],
    );
    assert.equal(kept, 1);
  });

  it('starts nothing once the time budget is spent, and gives those records back', async () => {
    const givenBack: string[] = [];
    let processed = 0;
    const response = await processLaneBatch(
      { Records: [record('a1', 'A'), record('a2', 'A')] },
      {
        process: async () => {
          processed += 1;
          return 'delete';
        },
        giveBack: async (r) => {
          givenBack.push(r.messageId);
        },
        outOfTime: () => true,
      },
    );
    assert.equal(processed, 0);
    assert.deepEqual(givenBack, ['a1', 'a2']);
    assert.deepEqual(
      response.batchItemFailures.map((f) => f.itemIdentifier),
      ['a1', 'a2'],
    );
  });

  it('a failing give-back does not lose the failure report', async () => {
    const response = await processLaneBatch(
      { Records: [record('a1', 'A'), record('a2', 'A')] },
      { process: async () => 'keep', giveBack: async () => Promise.reject(new Error('gone')) },
    );
    assert.deepEqual(
      response.batchItemFailures.map((f) => f.itemIdentifier),
      ['a1', 'a2'],
    );
  });
});
