import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { LocalEventSourcePoller } from '../../local/poller';
import { EmulatorShapeError, enableAwsFifoBatches, installOn } from '../../local/fifo-batches';
import { processLaneBatch } from '../../services/lane-batch';
import { startTestSqs, type TestQueue, type TestSqs } from '../helpers/emulator-sqs';
import { waitFor } from '../helpers/emulator-wait';

let env: TestSqs;
const pollers: LocalEventSourcePoller[] = [];

before(async () => {
  env = await startTestSqs();
  await enableAwsFifoBatches();
});

after(async () => {
  await Promise.all(pollers.map((p) => p.stop()));
  await env.stop();
});

let sent = 0;
async function send(queue: TestQueue, group: string, body: string): Promise<void> {
  await env.sqs.send(
    new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: `d-${++sent}` }),
  );
}

async function receive(queue: TestQueue, max = 10) {
  const { Messages = [] } = await env.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.queueUrl,
      MaxNumberOfMessages: max,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return Messages;
}

const visibility = (queue: TestQueue, receiptHandle: string, seconds: number) =>
  env.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queue.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));

describe('FIFO batches as AWS hands them out (fauxqs in this process)', () => {
  test('a receive gives up to 10 messages of one group, in order, and the group stays locked while any is in flight', async () => {
    const queue = await env.createDeliveryQueue('batches');
    for (let i = 1; i <= 12; i++) await send(queue, 'G', `G-${i}`);

    const first = await receive(queue);
    assert.deepEqual(
      first.map((m) => m.Body),
      Array.from({ length: 10 }, (_, i) => `G-${i + 1}`),
    );
    // Nine of the ten done; one still in flight keeps G-11 and G-12 back.
    for (const m of first.slice(0, 9))
      await env.sqs.send(new DeleteMessageCommand({ QueueUrl: queue.queueUrl, ReceiptHandle: m.ReceiptHandle }));
    assert.deepEqual(await receive(queue), []);
    await env.sqs.send(new DeleteMessageCommand({ QueueUrl: queue.queueUrl, ReceiptHandle: first[9]!.ReceiptHandle }));
    assert.deepEqual(
      (await receive(queue)).map((m) => m.Body),
      ['G-11', 'G-12'],
    );
  });

  test('messages given back one after the other return in their order, not reversed', async () => {
    const queue = await env.createDeliveryQueue('give-back');
    for (let i = 1; i <= 4; i++) await send(queue, 'G', `G-${i}`);
    const batch = await receive(queue);
    assert.equal(batch.length, 4);
    // fauxqs alone puts each at the front of its group: G-4, G-3, G-2, G-1.
    for (const m of batch) await visibility(queue, m.ReceiptHandle!, 0);
    assert.deepEqual(
      (await receive(queue)).map((m) => m.Body),
      ['G-1', 'G-2', 'G-3', 'G-4'],
    );
  });

  test('an emulator whose queue class no longer has the expected shape is refused loudly', () => {
    assert.throws(() => installOn({ processTimers() {}, isFifo: () => true } as never), EmulatorShapeError);
  });

  test("through the local poller, a lane's head that cannot finish makes the rest of its batch visible again, in order", async () => {
    const queue = await env.createDeliveryQueue('lane');
    for (let i = 1; i <= 5; i++) await send(queue, 'lane-A', `A-${i}`);
    for (let i = 1; i <= 3; i++) await send(queue, 'lane-B', `B-${i}`);

    const batches: string[][] = [];
    const handled: string[] = [];
    const givenBack: string[] = [];
    const p = new LocalEventSourcePoller({
      sqs: env.sqs,
      queueUrl: queue.queueUrl,
      concurrency: 1,
      handler: (event) => {
        batches.push(event.Records.map((r) => `${r.body}@${r.attributes.ApproximateReceiveCount}`));
        return processLaneBatch(event, {
          process: async (record: SQSRecord) => {
            if (record.body === 'A-1' && record.attributes.ApproximateReceiveCount === '1') {
              // The deliverer's retry: the head stays in flight for its interval and keeps its place.
              await visibility(queue, record.receiptHandle, 1);
              return 'keep';
            }
            handled.push(record.body);
            return 'delete';
          },
          // As the deliverer gives back a kept head's followers (runtime.queue.delay(receipt, 0)).
          giveBack: async (record) => {
            givenBack.push(record.body);
            await visibility(queue, record.receiptHandle, 0);
          },
        });
      },
      onError: (error) => assert.fail(error as Error),
    });
    pollers.push(p);
    p.start();
    await waitFor(() => handled.length === 8 && env.remaining(queue.name).total === 0, { what: 'every message handled and deleted' });
    await p.stop();

    const laneA = (batch: string[]) => batch.filter((b) => b.startsWith('A-'));
    const withA = batches.map(laneA).filter((a) => a.length > 0);
    // First receive: the whole lane in one batch, as AWS hands it out.
    assert.deepEqual(withA[0], ['A-1@1', 'A-2@1', 'A-3@1', 'A-4@1', 'A-5@1']);
    assert.deepEqual(givenBack, ['A-2', 'A-3', 'A-4', 'A-5']);
    // Nothing of lane A while its head was in flight; then the head and its followers again, in order.
    assert.deepEqual(withA[1], ['A-1@2', 'A-2@2', 'A-3@2', 'A-4@2', 'A-5@2']);
    assert.equal(withA.length, 2);
    assert.deepEqual(
      handled.filter((b) => b.startsWith('A-')),
      ['A-1', 'A-2', 'A-3', 'A-4', 'A-5'],
    );
    assert.deepEqual(
      handled.filter((b) => b.startsWith('B-')),
      ['B-1', 'B-2', 'B-3'],
    );
  });
});
