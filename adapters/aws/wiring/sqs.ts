import { SQSClient } from '@aws-sdk/client-sqs';
import type { RuntimeWiring } from '../../runtime';
import { SqsDeliveryQueue } from '../delivery-queue';

/** The delivery queue (SQS FIFO). */
export const sqsWiring: RuntimeWiring = {
  clients: { sqs: SQSClient },
  queue: (clients, config) => new SqsDeliveryQueue(clients.sqs, config.queueUrl),
};
