import { sqsService } from '../protocol/sqs';
import type { RuntimeWiring } from '../../runtime';
import { SqsDeliveryQueue } from '../delivery-queue';

/** The delivery queue (SQS FIFO). */
export const sqsWiring: RuntimeWiring = {
  protocols: { sqs: sqsService },
  queue: (clients, config) => new SqsDeliveryQueue(clients.sqs, config.queueUrl),
};
