import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { Runtime } from '../../adapters/runtime';
import { createAggregator } from '../../services/aggregator';
import { encodeDeliveryState, messageAttribute } from '../../adapters/aws/record-codec';

/** A message record as the store spells it (only the fields the stream reader needs). */
function recordItem(fields: {
  flowId: string;
  messageId: string;
  receivedAt: string;
  payload?: unknown;
  deliveries: Record<string, Record<string, unknown>>;
  ttl?: number;
}): Record<string, unknown> {
  return {
    pk: `MSG#${fields.flowId}#${fields.messageId}`,
    sk: 'MESSAGE',
    [messageAttribute('receivedAt')]: fields.receivedAt,
    ...(fields.payload ? { [messageAttribute('payload')]: fields.payload } : {}),
    dlv: Object.fromEntries(Object.entries(fields.deliveries).map(([id, state]) => [id, encodeDeliveryState(state)])),
    ...(fields.ttl !== undefined ? { ttl: fields.ttl } : {}),
  };
}

/** A stream record of a message record, as DynamoDB Streams delivers it (NEW_AND_OLD_IMAGES). */
function change(seq: number, flowId: string, messageId: string, before?: string[], after?: string[]): DynamoDBRecord {
  const image = (statuses: string[]) =>
    marshall(
      recordItem({
        flowId,
        messageId,
        receivedAt: `2026-01-01T00:00:0${seq}.000Z`,
        deliveries: Object.fromEntries(statuses.map((status, i) => [`c${i}`, { status }])),
      }),
    ) as never;
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

describe('stream aggregator: payload retention', () => {
  /** A message record image with a claim check, and on `erp` a failed copy and an applied correction. */
  const image = (ttl?: number) =>
    marshall(
      recordItem({
        flowId: 'orders',
        messageId: 'm1',
        receivedAt: '2026-01-01T00:00:00.000Z',
        payload: { kind: 'object', key: 'payloads/orders/m1' },
        deliveries: {
          erp: {
            status: 'delivered',
            failedPayload: { key: 'failed/orders/m1/erp' },
            payloadOverride: { key: 'corrections/orders/m1/erp@abc' },
          },
          crm: { status: 'delivered' },
        },
        ...(ttl !== undefined ? { ttl } : {}),
      }),
      { removeUndefinedValues: true },
    ) as never;
  const record = (seq: number, before: number | null | undefined, after: number | null | undefined): DynamoDBRecord => ({
    eventName: before === undefined ? 'INSERT' : after === undefined ? 'REMOVE' : 'MODIFY',
    dynamodb: {
      SequenceNumber: String(seq),
      ...(before !== undefined ? { OldImage: image(before ?? undefined) } : {}),
      ...(after !== undefined ? { NewImage: image(after ?? undefined) } : {}),
    },
  });
  const TTL = Date.parse('2026-01-31T00:00:00.000Z') / 1000;

  function runtimeWithObjects() {
    const calls: string[] = [];
    const runtime = {
      logger: { error: () => undefined },
      flows: { addCounts: async () => undefined },
      messages: { addListingPage: async () => undefined },
      objects: {
        expireAfter: async (key: string, until: Date, createdAfter: Date) => {
          calls.push(`expire ${key} ${until.toISOString()} ${createdAfter.toISOString()}`);
          return true;
        },
        keep: async (key: string) => {
          calls.push(`keep ${key}`);
        },
      },
    } as unknown as Runtime;
    return { runtime, calls };
  }

  it('tags every object of a message whose record got a TTL, dated from its receipt; untags them when it loses it', async () => {
    const { runtime, calls } = runtimeWithObjects();
    await createAggregator(runtime)({ Records: [record(1, null, TTL)] });
    assert.deepEqual(calls.sort(), [
      'expire corrections/orders/m1/erp 2026-01-31T00:00:00.000Z 2026-01-01T00:00:00.000Z',
      'expire corrections/orders/m1/erp@abc 2026-01-31T00:00:00.000Z 2026-01-01T00:00:00.000Z',
      'expire failed/orders/m1/erp 2026-01-31T00:00:00.000Z 2026-01-01T00:00:00.000Z',
      'expire payloads/orders/m1 2026-01-31T00:00:00.000Z 2026-01-01T00:00:00.000Z',
    ]);
    calls.length = 0;
    await createAggregator(runtime)({ Records: [record(2, TTL, null)] });
    assert.deepEqual(calls.sort(), [
      'keep corrections/orders/m1/erp',
      'keep corrections/orders/m1/erp@abc',
      'keep failed/orders/m1/erp',
      'keep payloads/orders/m1',
    ]);
  });

  it('does nothing for a record that keeps its expiry, loses it and gets it back in one batch, or is removed by TTL', async () => {
    const { runtime, calls } = runtimeWithObjects();
    const aggregate = createAggregator(runtime);
    await aggregate({ Records: [record(1, undefined, null), record(2, null, null)] });
    await aggregate({ Records: [record(3, TTL, TTL)] });
    await aggregate({ Records: [record(4, TTL, null), record(5, null, TTL)] });
    await aggregate({ Records: [record(6, TTL, undefined)] });
    assert.deepEqual(calls, []);
  });

  it('a batch whose tagging failed is retried, and tags again', async () => {
    const { runtime, calls } = runtimeWithObjects();
    let fail = true;
    const objects = runtime.objects as unknown as { expireAfter: (...args: unknown[]) => Promise<boolean> };
    const expire = objects.expireAfter;
    objects.expireAfter = async (...args) => {
      if (fail) throw new Error('throttled');
      return expire(...args);
    };
    const aggregate = createAggregator(runtime);
    await assert.rejects(aggregate({ Records: [record(1, null, TTL)] }));
    fail = false;
    await aggregate({ Records: [record(1, null, TTL)] });
    assert.equal(calls.length, 4);
  });
});
