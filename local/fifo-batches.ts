import { randomUUID } from 'node:crypto';

/**
 * FIFO batches as AWS hands them out, for the SQS emulator running in this process.
 *
 * fauxqs 1.9 gives at most one message of a message group per ReceiveMessage and then locks
 * the group until it comes back. AWS gives up to 10 messages of one group in a batch, in
 * order, and locks the group while any of them is in flight. Sluice's lane logic
 * (services/lane-batch.ts: the head of a lane that cannot finish keeps its place, the rest of
 * its batch is made visible again at once) only matters for such batches, so local mode, the
 * bench and the soak receive them the AWS way.
 *
 * The model, applied to fauxqs's FIFO queues in this process (through its own HTTP API, so
 * every client sees it):
 * - a receive walks the groups in the order they became ready and takes, from each group
 *   that has nothing in flight, its messages in order until the batch is full;
 * - a group stays locked while any message of it is in flight (fauxqs keeps a count);
 * - a message that becomes visible again (visibility 0 or its timeout ran out) returns to its
 *   place by sequence number. fauxqs puts each one at the front of its group, which reverses
 *   several messages of one group given back one after the other (the followers of a kept head).
 *
 * Limits: messages are taken per group greedily (AWS does not promise how it fills a batch from
 * several groups, only that a group's messages come in order); no fairness between groups
 * beyond their order; the dead-letter redrive and message spy behave as in fauxqs. It relies on
 * fauxqs's queue internals (checked at install, so an upgrade that moves them fails loudly).
 */

/** The parts of fauxqs's `SqsQueue` this module reads and replaces. */
interface FauxqsMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  messageAttributes: Record<string, unknown>;
  md5OfMessageAttributes?: string;
  approximateReceiveCount: number;
  approximateFirstReceiveTimestamp?: number;
  messageGroupId?: string;
  sequenceNumber?: string;
}

interface FauxqsQueue {
  name: string;
  attributes: Record<string, string>;
  spy?: { addMessage(entry: Record<string, unknown>): void };
  fifoMessages: Map<string, FauxqsMessage[]>;
  fifoLockedGroups: Map<string, number>;
  inflightMessages: Map<string, { message: FauxqsMessage; receiptHandle: string; visibilityDeadline: number }>;
  isFifo(): boolean;
  processTimers(): void;
  changeVisibility(receiptHandle: string, timeoutSeconds: number): void;
  dequeueFifo(
    maxCount: number,
    visibilityTimeoutOverride: number | undefined,
    dlqResolver?: (arn: string) => { enqueue(m: FauxqsMessage): void } | undefined,
  ): unknown[];
}

type QueuePrototype = FauxqsQueue & { [INSTALLED]?: true };

const INSTALLED = Symbol.for('sluice.awsFifoBatches');
const MAX_BATCH = 10;

export class EmulatorShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmulatorShapeError';
  }
}

let installing: Promise<void> | undefined;

/**
 * Makes the in-process fauxqs hand out FIFO batches as AWS does (see the module comment).
 * Idempotent; the local event source poller calls it before its first receive.
 */
export function enableAwsFifoBatches(): Promise<void> {
  installing ??= (async () => {
    // fauxqs exports only its entry point; the queue class sits next to it.
    const entry = import.meta.resolve('fauxqs');
    const module = (await import(new URL('./sqs/sqsStore.js', entry).href)) as { SqsQueue?: { prototype: QueuePrototype } };
    const prototype = module.SqsQueue?.prototype;
    if (!prototype) throw new EmulatorShapeError('fauxqs no longer exports SqsQueue from dist/sqs/sqsStore.js');
    installOn(prototype);
  })();
  installing.catch(() => {
    installing = undefined;
  });
  return installing;
}

/** Installs the model on a queue class's prototype (exported for the checks of its shape). */
export function installOn(prototype: QueuePrototype): void {
  if (prototype[INSTALLED]) return;
  for (const method of ['dequeueFifo', 'processTimers', 'changeVisibility', 'isFifo'] as const) {
    if (typeof prototype[method] !== 'function') throw new EmulatorShapeError(`fauxqs's SqsQueue has no ${method}()`);
  }
  const originalTimers = prototype.processTimers;
  const originalVisibility = prototype.changeVisibility;

  prototype.dequeueFifo = function dequeueFifo(this: FauxqsQueue, maxCount, visibilityTimeoutOverride, dlqResolver) {
    this.processTimers();
    const visibilityTimeout = visibilityTimeoutOverride ?? Number.parseInt(this.attributes.VisibilityTimeout ?? '30', 10);
    const redrive = redrivePolicy(this.attributes.RedrivePolicy);
    const count = Math.min(maxCount, MAX_BATCH);
    const result: Record<string, unknown>[] = [];
    for (const [groupId, messages] of [...this.fifoMessages]) {
      if (result.length >= count) break;
      if (this.fifoLockedGroups.has(groupId) || messages.length === 0) continue;
      // AWS: a group's messages in order, as many as fit; the group is locked while any is in flight.
      while (result.length < count && messages.length > 0) {
        const message = messages.shift()!;
        message.approximateReceiveCount += 1;
        message.approximateFirstReceiveTimestamp ??= Date.now();
        if (redrive && dlqResolver && message.approximateReceiveCount > redrive.maxReceiveCount) {
          const dlq = dlqResolver(redrive.deadLetterTargetArn);
          if (dlq) {
            this.spy?.addMessage({
              service: 'sqs',
              queueName: this.name,
              messageId: message.messageId,
              body: message.body,
              messageAttributes: message.messageAttributes,
              status: 'dlq',
              timestamp: Date.now(),
            });
            dlq.enqueue(message);
            continue;
          }
        }
        const receiptHandle = randomUUID();
        this.inflightMessages.set(receiptHandle, { message, receiptHandle, visibilityDeadline: Date.now() + visibilityTimeout * 1000 });
        this.fifoLockedGroups.set(groupId, (this.fifoLockedGroups.get(groupId) ?? 0) + 1);
        result.push({
          MessageId: message.messageId,
          ReceiptHandle: receiptHandle,
          MD5OfBody: message.md5OfBody,
          Body: message.body,
          ...(message.md5OfMessageAttributes ? { MD5OfMessageAttributes: message.md5OfMessageAttributes } : {}),
          ...(Object.keys(message.messageAttributes).length > 0 ? { MessageAttributes: message.messageAttributes } : {}),
        });
      }
      if (messages.length === 0) this.fifoMessages.delete(groupId);
    }
    return result;
  };

  // Messages coming back (timeout ran out) go to their place by sequence number, not each to the front.
  prototype.processTimers = function processTimers(this: FauxqsQueue) {
    if (!this.isFifo()) return originalTimers.call(this);
    const before = this.inflightMessages.size;
    originalTimers.call(this);
    if (this.inflightMessages.size < before) {
      for (const messages of this.fifoMessages.values()) sortBySequence(messages);
    }
  };

  prototype.changeVisibility = function changeVisibility(this: FauxqsQueue, receiptHandle, timeoutSeconds) {
    const group = this.inflightMessages.get(receiptHandle)?.message.messageGroupId;
    originalVisibility.call(this, receiptHandle, timeoutSeconds);
    if (timeoutSeconds === 0 && group !== undefined && this.isFifo()) {
      const messages = this.fifoMessages.get(group);
      if (messages) sortBySequence(messages);
    }
  };

  prototype[INSTALLED] = true;
}

function redrivePolicy(text: string | undefined): { maxReceiveCount: number; deadLetterTargetArn: string } | undefined {
  if (!text) return undefined;
  try {
    const policy = JSON.parse(text) as { maxReceiveCount?: number | string; deadLetterTargetArn?: string };
    if (!policy.deadLetterTargetArn) return undefined;
    return { maxReceiveCount: Number(policy.maxReceiveCount ?? Number.POSITIVE_INFINITY), deadLetterTargetArn: policy.deadLetterTargetArn };
  } catch {
    // fauxqs ignores an unreadable policy too.
    return undefined;
  }
}

/** Sequence numbers are 20-digit, zero-padded strings: text order is their order. Stable for messages without one. */
function sortBySequence(messages: FauxqsMessage[]): void {
  messages.sort((a, b) =>
    a.sequenceNumber && b.sequenceNumber ? (a.sequenceNumber < b.sequenceNumber ? -1 : a.sequenceNumber > b.sequenceNumber ? 1 : 0) : 0,
  );
}
