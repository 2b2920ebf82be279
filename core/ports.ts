import type { Message } from './model';
import { nextProbe, type ProbePlan } from './probe-plan';

/** One queued delivery of a message to one connection: the SQS message body. */
export interface DeliveryTicket {
  v: 1;
  flowId: string;
  messageId: string;
  connectionId: string;
  lane: number;
  /** Restart generation; part of the deduplication id. */
  restarts: number;
  /**
   * The parking epoch of its lane the ticket was sent in (absent: 0). A lane that is parked
   * takes in every ticket of an earlier epoch; the tickets its release sends carry the
   * current one (SPEC semantics 15, core/parking.ts). Part of the deduplication id when set.
   */
  epoch?: number;
  /** The release round of its lane that sent it: a delivery sent again in a later round of one epoch is a new message. */
  round?: number;
  /**
   * When it was sent, when that was not at the message's acceptance (re-queues): how old
   * a ticket is decides when its lane is parked, before the queue's retention drops it.
   */
  sentAt?: string;
}

/** The delivery queue as the domain sees it (SQS FIFO on AWS and in local mode). */
export interface DeliveryQueue {
  /** Sends tickets in order; tickets of one lane keep their relative order. */
  send(tickets: DeliveryTicket[]): Promise<void>;
  /**
   * Hides an in-flight ticket for `seconds`, shortened to what the queue accepts:
   * SQS allows 12 hours counted from the receive, so `receive` (when known) lets
   * the adapter request as much of that as is left.
   */
  delay(receiptHandle: string, seconds: number, receive?: ReceiveInfo): Promise<void>;
  /**
   * What tells this queue apart from an earlier one of the same name (SQS: its
   * `CreatedTimestamp`): a new value means every ticket sent before is gone.
   */
  generation(): Promise<string>;
}

/** What a consumer knows about when it received an in-flight ticket. */
export interface ReceiveInfo {
  /** When the ticket was first received (SQS `ApproximateFirstReceiveTimestamp`), epoch ms. */
  firstReceiveMs?: number;
}

/** Payload bytes kept outside the table (claim check, failed store, corrections). */
export interface PayloadStore {
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  get(key: string): Promise<Buffer>;
}

/** Encrypts connection credentials at rest (KMS on AWS, AES-GCM locally). */
export interface CredentialSealer {
  seal(plaintext: string, context: Record<string, string>): Promise<string>;
  open(sealed: string, context: Record<string, string>): Promise<string>;
}

export type OperationalEventType =
  | 'connection.offline'
  | 'connection.online'
  | 'connection.unauthorized'
  | 'flow.paused'
  | 'flow.resumed'
  | 'flow.stopped'
  | 'message.failed';

export interface OperationalEvent {
  type: OperationalEventType;
  at: string;
  detail: Record<string, unknown>;
}

/** Publishes operational events for alerting (EventBridge on AWS, a local sink locally). */
export interface EventPublisher {
  publish(event: OperationalEvent): Promise<void>;
}

export type StoredMessage = Message;

/**
 * Arranges probes of connections that are down: fast one-time probes right after a
 * connection goes down (EventBridge Scheduler one-time schedules on AWS, the local
 * scheduler locally), then the recurring hourly probe.
 */
export interface ProbeScheduler {
  /** When the next probe of a connection that went down at `downSince` runs, seen from `now`. */
  nextProbe(downSince: Date, now: Date): Date;
  connectionDown(connectionId: string, now: Date): Promise<void>;
  connectionUp(connectionId: string): Promise<void>;
}

/** Only the recurring probe (no fast probes): a stand-in where no scheduler is wired. */
export class RecurringProbeOnly implements ProbeScheduler {
  private readonly plan: ProbePlan;
  constructor(intervalSeconds: number) {
    this.plan = { fastProbeDelaysSeconds: [], intervalSeconds };
  }
  nextProbe(downSince: Date, now: Date): Date {
    return nextProbe(this.plan, downSince, now);
  }
  async connectionDown(): Promise<void> {}
  async connectionUp(): Promise<void> {}
}
