import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import { enableAwsFifoBatches } from './fifo-batches';

/** The Lambda function the poller invokes, as the deliverer's handler is invoked on AWS. */
// biome-ignore lint/suspicious/noConfusingVoidType: a Lambda SQS handler may resolve with nothing, as aws-lambda types it
export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

export interface LocalEventSourcePollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** `eventSourceARN` of every record. @default the queue's `QueueArn`, read once with GetQueueAttributes */
  queueArn?: string;
  /** `awsRegion` of every record. @default the SQS client's region */
  region?: string;
  handler: SqsBatchHandler;
  /** Messages per receive, as the mapping's BatchSize. @default 10 (SQS allows at most 10) */
  batchSize?: number;
  /** Long-polling wait of each receive; also bounds how long `stop()` waits for an idle loop. @default 1 */
  waitTimeSeconds?: number;
  /** Receive loops running side by side, like Lambda's concurrent batches for different message groups. @default 4 */
  concurrency?: number;
  /** Receive/delete errors, a thrown handler, an invalid batch response. @default console.error */
  onError?: (error: unknown) => void;
}

/** What one receive-and-dispatch cycle did. */
export interface PollResult {
  /** Messages received (and handed to the handler when > 0). */
  received: number;
  /** Message ids deleted from the queue. */
  deleted: string[];
  /** Message ids left on the queue: reported failures, or the whole batch when the handler threw. */
  retained: string[];
  /** Set when the handler threw or returned an unusable batch response. */
  error?: unknown;
}

const MAX_BATCH = 10;
/** Pause after a failed ReceiveMessage before the loop tries again. */
const RECEIVE_RETRY_MS = 1000;

/**
 * Stands in for the Lambda SQS event source mapping (FIFO queue, `ReportBatchItemFailures`).
 *
 * Each loop receives a batch, invokes the handler with a Lambda-shaped `SQSEvent` and then:
 * - handler resolved with `batchItemFailures`: deletes every record not listed; listed ones stay
 *   in flight until their visibility timeout (as the handler left it) expires, so their group
 *   stays blocked;
 * - handler resolved with nothing or no failures: deletes the whole batch;
 * - handler threw, or listed an identifier that is not in the batch: deletes nothing.
 *
 * Before its first receive it has the in-process SQS emulator hand out FIFO batches as AWS does
 * (local/fifo-batches.ts), so a batch may hold up to 10 messages of one group, in order.
 */
export class LocalEventSourcePoller {
  private readonly sqs: SQSClient;
  private readonly queueUrl: string;
  private readonly handler: SqsBatchHandler;
  private readonly batchSize: number;
  private readonly waitTimeSeconds: number;
  private readonly concurrency: number;
  private readonly onError: (error: unknown) => void;
  private queueArn: string | undefined;
  private region: string | undefined;
  private running = false;
  /** Bumped by every start(), so loops of an earlier start end even if start() follows stop() at once. */
  private generation = 0;
  private loops: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();

  constructor(options: LocalEventSourcePollerOptions) {
    this.sqs = options.sqs;
    this.queueUrl = options.queueUrl;
    this.queueArn = options.queueArn;
    this.region = options.region;
    this.handler = options.handler;
    this.batchSize = Math.min(Math.max(options.batchSize ?? MAX_BATCH, 1), MAX_BATCH);
    this.waitTimeSeconds = options.waitTimeSeconds ?? 1;
    this.concurrency = Math.max(options.concurrency ?? 4, 1);
    const onError = options.onError ?? ((error: unknown) => console.error('event source poller:', error));
    this.onError = (error) => {
      try {
        onError(error);
      } catch {
        // A throwing error handler must not stop the loops.
      }
    };
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Starts the receive loops. Calling it again while running does nothing. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const generation = ++this.generation;
    this.loops = Array.from({ length: this.concurrency }, () => this.loop(generation));
  }

  /**
   * Stops receiving. Resolves once every loop has finished its current cycle: a receive that is
   * already waiting completes (at most `waitTimeSeconds`), and whatever it got is handled and
   * settled, so no batch is left half-processed.
   */
  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.wakers) wake();
    const loops = this.loops;
    this.loops = [];
    await Promise.all(loops);
  }

  /** One receive + dispatch + delete cycle. */
  async pollOnce(waitTimeSeconds = this.waitTimeSeconds): Promise<PollResult> {
    // Resolved before receiving, so a failure here cannot strand received messages in flight.
    const source = await this.eventSource();
    // Batches as Lambda gets them from SQS: up to 10 of a message group, in order.
    await enableAwsFifoBatches();
    const { Messages: messages = [] } = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: this.batchSize,
        WaitTimeSeconds: waitTimeSeconds,
        // Both names: older emulators only know the legacy one.
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    if (messages.length === 0) return { received: 0, deleted: [], retained: [] };

    const event: SQSEvent = { Records: messages.map((message) => toRecord(message, source)) };
    let keep: Set<string>;
    let error: unknown;
    try {
      keep = failedIds(await this.handler(event), event);
    } catch (thrown) {
      error = thrown;
      keep = new Set(event.Records.map((r) => r.messageId));
      this.onError(thrown);
    }
    const toDelete = event.Records.filter((r) => !keep.has(r.messageId));
    await this.deleteAll(toDelete);
    return {
      received: messages.length,
      deleted: toDelete.map((r) => r.messageId),
      retained: event.Records.filter((r) => keep.has(r.messageId)).map((r) => r.messageId),
      ...(error === undefined ? {} : { error }),
    };
  }

  private async loop(generation: number): Promise<void> {
    while (this.running && generation === this.generation) {
      try {
        await this.pollOnce();
      } catch (error) {
        // Receive or delete failed (emulator down, throttled...): report and back off.
        this.onError(error);
        if (this.running) await this.pause(RECEIVE_RETRY_MS);
      }
    }
  }

  /** Waits `ms`, or less when `stop()` is called. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  private async deleteAll(records: SQSRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += MAX_BATCH) {
      const chunk = records.slice(i, i + MAX_BATCH);
      const { Failed = [] } = await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((r, index) => ({ Id: String(index), ReceiptHandle: r.receiptHandle })),
        }),
      );
      for (const failure of Failed) {
        const record = chunk[Number(failure.Id)];
        this.onError(new Error(`could not delete message ${record?.messageId}: ${failure.Code} ${failure.Message ?? ''}`));
      }
    }
  }

  /** `eventSourceARN` and `awsRegion` of the records, looked up once. */
  private async eventSource(): Promise<{ arn: string; region: string }> {
    this.region ??= await this.sqs.config.region();
    if (this.queueArn === undefined) {
      const { Attributes } = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ['QueueArn'] }));
      this.queueArn = Attributes?.QueueArn ?? '';
    }
    return { arn: this.queueArn, region: this.region };
  }
}

/** One received message as Lambda hands it to the function. */
function toRecord(message: Message, source: { arn: string; region: string }): SQSRecord {
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    // SQS returns exactly the system attributes Lambda copies (ApproximateReceiveCount, SentTimestamp,
    // SenderId, ApproximateFirstReceiveTimestamp, SequenceNumber, MessageGroupId, MessageDeduplicationId...).
    attributes: { ...message.Attributes } as unknown as SQSRecordAttributes,
    messageAttributes: toLambdaAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: source.arn,
    awsRegion: source.region,
  };
}

/**
 * Message ids the handler reported as failed. An unusable response (an identifier that is not
 * in the batch) fails the whole batch, as Lambda does.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: what an SqsBatchHandler resolves with
function failedIds(response: SQSBatchResponse | void, event: SQSEvent): Set<string> {
  const failures = response?.batchItemFailures ?? [];
  const inBatch = new Set(event.Records.map((r) => r.messageId));
  const ids = new Set(failures.map((f) => f.itemIdentifier));
  for (const id of ids) {
    if (!id || !inBatch.has(id)) throw new Error(`batchItemFailures lists '${id}', which is not in the batch`);
  }
  return ids;
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** SQS API message attributes → the camel-cased shape Lambda puts in `SQSRecord.messageAttributes`. */
function toLambdaAttributes(attributes: Record<string, MessageAttributeValue> = {}): SQSMessageAttributes {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      {
        ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
        ...(value.BinaryValue !== undefined ? { binaryValue: base64(value.BinaryValue) } : {}),
        stringListValues: value.StringListValues ?? [],
        binaryListValues: (value.BinaryListValues ?? []).map(base64),
        dataType: value.DataType ?? 'String',
      },
    ]),
  );
}
