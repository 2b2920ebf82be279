import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { deliveryQueueAttributes } from '../../local/provision';

export interface TestQueue {
  name: string;
  queueUrl: string;
  queueArn: string;
}

export interface TestSqs {
  server: FauxqsServer;
  sqs: SQSClient;
  /** Creates a delivery FIFO queue (and its dead-letter queue) as local mode provisions it. */
  createDeliveryQueue(prefix: string): Promise<TestQueue>;
  /** Messages still on the queue: ready, delayed or in flight. */
  remaining(name: string): { ready: number; delayed: number; inflight: number; total: number };
  stop(): Promise<void>;
}

/** fauxqs alone (no DynamoDB Local JVM) on a free loopback port, with an SQS client for it. */
export async function startTestSqs(): Promise<TestSqs> {
  const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  const sqs = new SQSClient({
    endpoint: `http://127.0.0.1:${server.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  let counter = 0;
  return {
    server,
    sqs,
    async createDeliveryQueue(prefix) {
      const base = `${prefix}-${++counter}`;
      const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${base}-dlq.fifo`, Attributes: { FifoQueue: 'true' } }));
      const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!
        .QueueArn!;
      const name = `${base}.fifo`;
      const queue = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: deliveryQueueAttributes(dlqArn) }));
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }));
      return { name, queueUrl: queue.QueueUrl!, queueArn: Attributes!.QueueArn! };
    },
    remaining(name) {
      const queue = server.inspectQueue(name);
      if (!queue) throw new Error(`no queue ${name}`);
      const { ready, delayed, inflight } = queue.messages;
      return {
        ready: ready.length,
        delayed: delayed.length,
        inflight: inflight.length,
        total: ready.length + delayed.length + inflight.length,
      };
    },
    async stop() {
      sqs.destroy();
      await server.stop();
    },
  };
}
