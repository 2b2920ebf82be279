import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { Runtime } from '../../adapters/runtime';
import { createAggregator } from '../../services/aggregator';

/** A stream record of a message record, as DynamoDB Streams delivers it (NEW_AND_OLD_IMAGES). */
function change(seq: number, flowId: string, messageId: string, before?: string[], after?: string[]): DynamoDBRecord {
  const image = (statuses: string[]) =>
    marshall({
      pk: `MSG#${flowId}#${messageId}`,
      sk: 'MESSAGE',
      flowId,
      messageId,
      receivedAt: `2026-01-01T00:00:0${seq}.000Z`,
      dlv: Object.fromEntries(statuses.map((status, i) => [`c${i}`, { status }])),
    }) as never;
  return {
    eventName: before ? (after ? 'MODIFY' : 'REMOVE') : 'INSERT',
    dynamodb: { SequenceNumber: String(seq), ...(before ? { OldImage: image(before) } : {}), ...(after ? { NewImage: image(after) } : {}) },
  };
}

function fakeRuntime(failOnce: Set<string>) {
  const counts = new Map<string, Record<string, number>>();
  const pages: [string, string[]][] = [];
  const runtime = {
    logger: { error: () => undefined },
    flows: {
      addCounts: async (flowId: string, deltas: Record<string, number>) => {
        if (failOnce.delete(flowId)) throw new Error('throttled');
        const current = counts.get(flowId) ?? {};
        for (const [k, v] of Object.entries(deltas)) current[k] = (current[k] ?? 0) + v;
        counts.set(flowId, current);
      },
    },
    messages: {
      addListingPage: async (flowId: string, entries: { messageId: string }[]) => {
        pages.push([flowId, entries.map((e) => e.messageId)]);
      },
    },
  } as unknown as Runtime;
  return { runtime, counts, pages };
}

describe('stream aggregator', () => {
  it('applies one count update per flow per batch and lists new messages; other items are ignored', async () => {
    const { runtime, counts, pages } = fakeRuntime(new Set());
    const other: DynamoDBRecord = {
      eventName: 'MODIFY',
      dynamodb: { SequenceNumber: '9', NewImage: marshall({ pk: 'FLOW#a', sk: 'COUNTS' }) as never },
    };
    await createAggregator(runtime)({
      Records: [
        change(1, 'a', 'm1', undefined, ['queued']),
        change(2, 'a', 'm1', ['queued'], ['delivered']),
        change(3, 'b', 'm2', undefined, ['queued', 'queued']),
        other,
      ],
    });
    assert.deepEqual(Object.fromEntries(counts), { a: { accepted: 1, delivered: 1 }, b: { accepted: 1, queued: 2 } });
    assert.deepEqual(pages, [
      ['a', ['m1']],
      ['b', ['m2']],
    ]);
  });

  it('a batch retried after one flow failed applies only that flow again', async () => {
    const { runtime, counts } = fakeRuntime(new Set(['b']));
    const aggregate = createAggregator(runtime);
    const event = { Records: [change(1, 'a', 'm1', undefined, ['queued']), change(2, 'b', 'm2', undefined, ['queued'])] };
    await assert.rejects(aggregate(event));
    await aggregate(event);
    assert.deepEqual(Object.fromEntries(counts), { a: { accepted: 1, queued: 1 }, b: { accepted: 1, queued: 1 } });
  });
});
