import type { AwsClient } from './protocol/client';
import { ChangeMessageVisibilityCommand, GetQueueAttributesCommand, SendMessageBatchCommand } from './protocol/sqs';
import type { SQSRecord } from 'aws-lambda';
import { deliveryDeduplicationId, laneGroupId } from '../../core/lanes';
import type { DeliveryQueue, DeliveryTicket, ReceiveInfo } from '../../core/ports';
import { clampVisibilitySeconds, DEFAULT_VISIBILITY_MARGIN_SECONDS } from '../../core/visibility';
import { DELIVERY_QUEUE } from './definitions';

/** Options of {@link SqsDeliveryQueue}. */
export interface SqsDeliveryQueueOptions {
  /**
   * Longest time between a receive and the deliverer's last visibility change for it:
   * the queue's visibility timeout (the consumer cannot sit on a message longer
   * without it becoming visible again) plus the deliverer's run time, which the
   * construct keeps within one sixth of that timeout.
   * @default DELIVERY_QUEUE.visibilityTimeoutSeconds × 7/6 (1,050 s)
   */
  maxSinceReceiveSeconds?: number;
  /** Reserve for clock skew and call latency. @default DEFAULT_VISIBILITY_MARGIN_SECONDS (60 s) */
  marginSeconds?: number;
  /** Wall clock in epoch ms; SQS's timestamps are wall-clock too. @default Date.now */
  now?: () => number;
}

/** What a Lambda SQS record says about its receive. */
export function receiveOf(record: Pick<SQSRecord, 'attributes'>): ReceiveInfo {
  const first = Number(record.attributes?.ApproximateFirstReceiveTimestamp);
  return Number.isFinite(first) && first > 0 ? { firstReceiveMs: first } : {};
}

export class QueueSendError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueueSendError';
  }
}

export class SqsDeliveryQueue implements DeliveryQueue {
  private readonly maxSinceReceiveSeconds: number;
  private readonly marginSeconds: number;
  private readonly now: () => number;

  constructor(
    private readonly sqs: AwsClient,
    private readonly queueUrl: string,
    options: SqsDeliveryQueueOptions = {},
  ) {
    this.maxSinceReceiveSeconds = options.maxSinceReceiveSeconds ?? Math.ceil((DELIVERY_QUEUE.visibilityTimeoutSeconds * 7) / 6);
    this.marginSeconds = options.marginSeconds ?? DEFAULT_VISIBILITY_MARGIN_SECONDS;
    this.now = options.now ?? Date.now;
  }

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
            MessageDeduplicationId: deliveryDeduplicationId(
              ticket.flowId,
              ticket.messageId,
              ticket.connectionId,
              ticket.restarts,
              ticket.epoch,
              ticket.round,
            ),
          })),
        }),
      );
      if (result.Failed && result.Failed.length > 0) {
        const first = result.Failed[0]!;
        throw new QueueSendError(`${result.Failed.length} of ${chunk.length} queue sends failed: ${first.Code} ${first.Message ?? ''}`);
      }
    }
  }

  async delay(receiptHandle: string, seconds: number, receive: ReceiveInfo = {}): Promise<void> {
    const visibility = clampVisibilitySeconds(seconds, {
      nowMs: this.now(),
      maxSinceReceiveSeconds: this.maxSinceReceiveSeconds,
      marginSeconds: this.marginSeconds,
      ...(receive.firstReceiveMs !== undefined ? { firstReceiveMs: receive.firstReceiveMs } : {}),
    });
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: visibility }),
    );
  }

  /** The queue's `CreatedTimestamp`, with its URL: a queue deleted and created again has a new one. */
  async generation(): Promise<string> {
    const { Attributes } = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ['CreatedTimestamp'] }),
    );
    return `${this.queueUrl}@${Attributes?.CreatedTimestamp ?? ''}`;
  }
}
