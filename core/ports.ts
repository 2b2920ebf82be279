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
