import type { SQSEvent } from 'aws-lambda';
import type { Clock } from '../../core/clock';
import { deliveryDeduplicationId } from '../../core/lanes';
import type { DeliveryQueue, DeliveryTicket } from '../../core/ports';
import type { SqsBatchHandler } from '../../local/poller';

const idOf = (t: DeliveryTicket) => deliveryDeduplicationId(t.flowId, t.messageId, t.connectionId, t.restarts, t.epoch, t.round);

/**
 * The emulator's queue as SQS keeps it: a message is gone once it is older than the
 * retention period, on the test's clock (fauxqs keeps messages forever). Wraps the
 * runtime's queue to learn when each ticket was sent, and the deliverer's handler to drop
 * what the queue would no longer hold before the deliverer sees it (deleted, as SQS
 * deletes an expired message, in flight or not). A receipt of a dropped message is refused.
 */
export class RetentionQueue implements DeliveryQueue {
  private inner!: DeliveryQueue;
  /** First send of each ticket (deduplication id), in ms on the test's clock. */
  private readonly sentAt = new Map<string, number>();
  private readonly droppedReceipts = new Set<string>();
  /** Tickets the queue dropped, as `messageId/connectionId`. */
  readonly dropped: string[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly retentionSeconds: number,
  ) {}

  /** For `overrides.wrapQueue`. */
  readonly wrapQueue = (inner: DeliveryQueue): DeliveryQueue => {
    this.inner = inner;
    return this;
  };

  async send(tickets: DeliveryTicket[]): Promise<void> {
    const now = this.clock.now().getTime();
    for (const ticket of tickets) if (!this.sentAt.has(idOf(ticket))) this.sentAt.set(idOf(ticket), now);
    await this.inner.send(tickets);
  }

  async delay(...args: Parameters<DeliveryQueue['delay']>): Promise<void> {
    if (this.droppedReceipts.has(args[0]))
      throw Object.assign(new Error('The receipt handle has expired'), { name: 'ReceiptHandleIsInvalid' });
    await this.inner.delay(...args);
  }

  generation(): Promise<string> {
    return this.inner.generation();
  }

  /** For `wrapDeliverer`: hands the deliverer only the records the queue still keeps. */
  readonly wrapDeliverer =
    (handler: SqsBatchHandler): SqsBatchHandler =>
    async (event: SQSEvent) => {
      const now = this.clock.now().getTime();
      const kept = event.Records.filter((record) => {
        const ticket = JSON.parse(record.body) as DeliveryTicket;
        const sent = this.sentAt.get(idOf(ticket));
        if (sent === undefined || now - sent < this.retentionSeconds * 1000) return true;
        this.dropped.push(`${ticket.messageId}/${ticket.connectionId}`);
        this.droppedReceipts.add(record.receiptHandle);
        return false;
      });
      if (kept.length === 0) return { batchItemFailures: [] };
      return handler({ Records: kept });
    };
}
