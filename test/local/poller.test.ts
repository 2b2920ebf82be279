import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ChangeMessageVisibilityCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { LocalEventSourcePoller, type LocalEventSourcePollerOptions } from '../../local/poller';
import { startTestSqs, type TestQueue, type TestSqs } from '../helpers/emulator-sqs';
import { deferred, waitFor } from '../helpers/emulator-wait';

let env: TestSqs;
const pollers: LocalEventSourcePoller[] = [];

before(async () => {
  env = await startTestSqs();
});

after(async () => {
  await Promise.all(pollers.map((p) => p.stop()));
  await env.stop();
});

function poller(queue: TestQueue, options: Partial<LocalEventSourcePollerOptions> & Pick<LocalEventSourcePollerOptions, 'handler'>) {
  const p = new LocalEventSourcePoller({ sqs: env.sqs, queueUrl: queue.queueUrl, ...options });
  pollers.push(p);
  return p;
}

let sent = 0;
async function send(
  queue: TestQueue,
  group: string,
  body: string,
  extra: Partial<ConstructorParameters<typeof SendMessageCommand>[0]> = {},
) {
  return env.sqs.send(
    new SendMessageCommand({
      QueueUrl: queue.queueUrl,
      MessageBody: body,
      MessageGroupId: group,
      MessageDeduplicationId: `dedupe-${++sent}`,
      ...extra,
    }),
  );
}

interface Seen {
  body: string;
  group: string;
  receiveCount: string;
}

const bodiesOf = (seen: Seen[], group: string) => seen.filter((s) => s.group === group).map((s) => s.body);
const seenOf = (record: SQSRecord): Seen => ({
  body: record.body,
  group: record.attributes.MessageGroupId!,
  receiveCount: record.attributes.ApproximateReceiveCount,
});

describe('LocalEventSourcePoller against fauxqs', () => {
  test('keeps FIFO order within each message group and deletes what was handled', async () => {
    const queue = await env.createDeliveryQueue('order');
    const expected: Record<string, string[]> = { A: [], B: [] };
    for (let i = 1; i <= 10; i++) {
      for (const group of ['A', 'B']) {
        expected[group].push(`${group}-${i}`);
        await send(queue, group, `${group}-${i}`);
      }
    }
    const seen: Seen[] = [];
    const p = poller(queue, {
      handler: async (event) => {
        seen.push(...event.Records.map(seenOf));
      },
    });
    p.start();
    await waitFor(() => seen.length >= 20 && env.remaining(queue.name).total === 0, { what: '20 messages handled and deleted' });
    await p.stop();

    assert.deepEqual(bodiesOf(seen, 'A'), expected.A);
    assert.deepEqual(bodiesOf(seen, 'B'), expected.B);
    assert.ok(
      seen.every((s) => s.receiveCount === '1'),
      'nothing was delivered twice',
    );
    assert.equal(env.remaining(queue.name).total, 0);
  });

  test('a reported failure stays on the queue and blocks its group until redelivered; other groups flow', async () => {
    const queue = await env.createDeliveryQueue('failure');
    for (let i = 1; i <= 5; i++) await send(queue, 'A', `A-${i}`);
    for (let i = 1; i <= 20; i++) await send(queue, 'B', `B-${i}`);

    const seen: Seen[] = [];
    const p = poller(queue, {
      handler: async (event): Promise<SQSBatchResponse> => {
        const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
        let failed = false;
        for (const record of event.Records) {
          if (failed && record.attributes.MessageGroupId === 'A') {
            // As Lambda requires of a FIFO batch: what follows a failure in its group fails too
            // (and, as services/lane-batch.ts does, is given back at once).
            await env.sqs.send(
              new ChangeMessageVisibilityCommand({ QueueUrl: queue.queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: 0 }),
            );
            batchItemFailures.push({ itemIdentifier: record.messageId });
            continue;
          }
          seen.push(seenOf(record));
          if (record.body === 'A-3' && record.attributes.ApproximateReceiveCount === '1') {
            failed = true;
            // Like the deliverer's retry interval: hide the message for 1 s and report it failed.
            await env.sqs.send(
              new ChangeMessageVisibilityCommand({ QueueUrl: queue.queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: 1 }),
            );
            batchItemFailures.push({ itemIdentifier: record.messageId });
          }
        }
        return { batchItemFailures };
      },
    });
    p.start();
    await waitFor(() => seen.length >= 26 && env.remaining(queue.name).total === 0, { what: 'all messages handled and deleted' });
    await p.stop();

    assert.deepEqual(bodiesOf(seen, 'A'), ['A-1', 'A-2', 'A-3', 'A-3', 'A-4', 'A-5']);
    assert.deepEqual(
      bodiesOf(seen, 'B'),
      Array.from({ length: 20 }, (_, i) => `B-${i + 1}`),
    );
    const failedAt = seen.findIndex((s) => s.body === 'A-3');
    const redeliveredAt = seen.findIndex((s, i) => i > failedAt && s.body === 'A-3');
    assert.equal(seen[failedAt].receiveCount, '1');
    assert.equal(seen[redeliveredAt].receiveCount, '2');
    assert.ok(seen.findIndex((s) => s.body === 'A-4') > redeliveredAt, 'A-4 must not be handed out before A-3 is redelivered');
    assert.ok(
      seen.slice(failedAt + 1, redeliveredAt).some((s) => s.group === 'B'),
      'group B kept flowing while A-3 was held',
    );
  });

  test('a thrown handler deletes nothing and is reported', async () => {
    const queue = await env.createDeliveryQueue('thrown');
    await send(queue, 'A', 'A-1');
    await send(queue, 'B', 'B-1');
    const errors: unknown[] = [];
    const p = poller(queue, {
      handler: async () => {
        throw new Error('boom');
      },
      onError: (error) => errors.push(error),
    });

    const result = await p.pollOnce();
    assert.equal(result.received, 2);
    assert.deepEqual(result.deleted, []);
    assert.equal(result.retained.length, 2);
    assert.equal((result.error as Error).message, 'boom');
    assert.deepEqual(errors, [result.error]);
    assert.deepEqual(env.remaining(queue.name), { ready: 0, delayed: 0, inflight: 2, total: 2 });
    // Both stay in flight (queue visibility timeout), so both groups are blocked.
    assert.equal((await p.pollOnce(0)).received, 0);
  });

  test('an unknown itemIdentifier fails the whole batch, as Lambda does', async () => {
    const queue = await env.createDeliveryQueue('unknown-id');
    await send(queue, 'A', 'A-1');
    await send(queue, 'B', 'B-1');
    const errors: unknown[] = [];
    const p = poller(queue, {
      handler: async () => ({ batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] }),
      onError: (error) => errors.push(error),
    });
    const result = await p.pollOnce();
    assert.equal(result.received, 2);
    assert.deepEqual(result.deleted, []);
    assert.equal(errors.length, 1);
    assert.equal(env.remaining(queue.name).inflight, 2);
  });

  test('records have the Lambda SQS event shape and a usable receipt handle', async () => {
    const queue = await env.createDeliveryQueue('shape');
    const blob = Uint8Array.from([0, 1, 2, 250]);
    const sentMessage = await send(queue, 'lane-7', '{"hello":"world"}', {
      MessageDeduplicationId: 'guid-123',
      MessageAttributes: {
        kind: { DataType: 'String', StringValue: 'delivery' },
        attempt: { DataType: 'Number', StringValue: '3' },
        blob: { DataType: 'Binary', BinaryValue: blob },
      },
    });
    const events: SQSEvent[] = [];
    const p = poller(queue, {
      queueArn: undefined,
      handler: async (event) => {
        events.push(event);
        const [record] = event.Records;
        if (events.length === 1) {
          // Release it at once: the handle must be valid for ChangeMessageVisibility.
          await env.sqs.send(
            new ChangeMessageVisibilityCommand({ QueueUrl: queue.queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: 0 }),
          );
          return { batchItemFailures: [{ itemIdentifier: record.messageId }] };
        }
        return { batchItemFailures: [] };
      },
    });

    const first = await p.pollOnce();
    assert.deepEqual(first, { received: 1, deleted: [], retained: [sentMessage.MessageId] });
    const second = await p.pollOnce(0);
    assert.deepEqual(second, { received: 1, deleted: [sentMessage.MessageId], retained: [] });
    assert.equal(env.remaining(queue.name).total, 0);

    const [record] = events[0].Records;
    assert.equal(events[0].Records.length, 1);
    assert.equal(record.messageId, sentMessage.MessageId);
    assert.equal(typeof record.receiptHandle, 'string');
    assert.equal(record.body, '{"hello":"world"}');
    assert.equal(record.md5OfBody, createHash('md5').update('{"hello":"world"}').digest('hex'));
    assert.equal(record.md5OfBody, sentMessage.MD5OfMessageBody);
    assert.equal(record.eventSource, 'aws:sqs');
    assert.equal(record.eventSourceARN, queue.queueArn);
    assert.equal(record.awsRegion, 'us-east-1');
    assert.equal(record.attributes.MessageGroupId, 'lane-7');
    assert.equal(record.attributes.MessageDeduplicationId, 'guid-123');
    assert.equal(record.attributes.SequenceNumber, sentMessage.SequenceNumber);
    assert.equal(record.attributes.ApproximateReceiveCount, '1');
    assert.equal(record.attributes.SenderId.length > 0, true);
    assert.ok(Number(record.attributes.SentTimestamp) > 0);
    assert.ok(Number(record.attributes.ApproximateFirstReceiveTimestamp) >= Number(record.attributes.SentTimestamp));
    assert.deepEqual(record.messageAttributes, {
      kind: { stringValue: 'delivery', stringListValues: [], binaryListValues: [], dataType: 'String' },
      attempt: { stringValue: '3', stringListValues: [], binaryListValues: [], dataType: 'Number' },
      blob: { binaryValue: Buffer.from(blob).toString('base64'), stringListValues: [], binaryListValues: [], dataType: 'Binary' },
    });
    assert.equal(events[1].Records[0].attributes.ApproximateReceiveCount, '2');
    assert.equal(events[1].Records[0].attributes.SequenceNumber, sentMessage.SequenceNumber);
  });

  test('stop() waits for the batch in progress and settles it', async () => {
    const queue = await env.createDeliveryQueue('stop');
    await send(queue, 'A', 'A-1');
    const entered = deferred();
    const release = deferred();
    const p = poller(queue, {
      handler: async () => {
        entered.resolve();
        await release.promise;
      },
    });
    p.start();
    await entered.promise;
    let stopped = false;
    const stopping = p.stop().then(() => {
      stopped = true;
    });
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopped, false, 'stop() resolved while the handler was still running');
    release.resolve();
    await stopping;
    assert.equal(p.isRunning, false);
    assert.equal(env.remaining(queue.name).total, 0, 'the handled batch was deleted before stop() resolved');
  });
});
