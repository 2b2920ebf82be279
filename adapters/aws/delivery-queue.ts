import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { deliveryDeduplicationId, laneGroupId } from '../../core/lanes';
import type { DeliveryQueue, DeliveryTicket } from '../../core/ports';

/** SQS caps a message's visibility timeout at 12 hours. */
export const MAX_VISIBILITY_SECONDS = 12 * 3600;

export class QueueSendError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueueSendError';
  }
}

export class SqsDeliveryQueue implements DeliveryQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(tickets: DeliveryTicket[]): Promise<void> {
    for (let i = 0; i < tickets.length; i += 10) {
      const chunk = tickets.slice(i, i + 10);
      const result = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((ticket, index) => ({
            Id: String(index),
            MessageBody: JSON.stringify(ticket),
            MessageGroupId: laneGroupId(ticket.connectionId, ticket.lane),
            MessageDeduplicationId: deliveryDeduplicationId(ticket.flowId, ticket.messageId, ticket.connectionId, ticket.restarts),
          })),
        }),
      );
      if (result.Failed && result.Failed.length > 0) {
        const first = result.Failed[0]!;
        throw new QueueSendError(`${result.Failed.length} of ${chunk.length} queue sends failed: ${first.Code} ${first.Message ?? ''}`);
      }
    }
  }

  async delay(receiptHandle: string, seconds: number): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: Math.max(0, Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(seconds))),
      }),
    );
  }
}
