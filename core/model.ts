/**
 * Sluice's domain vocabulary. Plain TypeScript: no AWS imports anywhere in core/.
 * Field names follow the product contract (SPEC.md).
 */

export type ConnectionStatus = 'online' | 'offline' | 'unauthorized';
export type FlowStatus = 'enabled' | 'paused' | 'disabled' | 'stopped';
export type DeliveryStatus = 'queued' | 'retrying' | 'paused' | 'inError' | 'delivered' | 'failed' | 'suspended' | 'discarded';
/** A message is `accepted` until every destination is queued, then takes its deliveries' state. */
export type MessageStatus = 'accepted' | DeliveryStatus;
export type FailureType = 'business' | 'timeout' | 'unavailable' | 'expired' | 'configuration' | 'internal';
export type OnError = 'hold-all' | 'hold-lane';
export type OnFailure = 'continue' | 'suspend-chain';
export type LogLevel = 'error' | 'warning' | 'info';

export type ConnectionAuth =
  | { type: 'none' }
  | { type: 'bearer'; token: string }
  | { type: 'basic'; username: string; password: string }
  | { type: 'header'; headerName: string; value: string };

export interface RetryPolicy {
  /** Retries after the first attempt. @default 5 */
  count: number;
  /** @default 60 */
  intervalSeconds: number;
  /** @default 'fixed' */
  backoff: 'fixed' | 'exponential';
  /** Cap for exponential back-off. @default 3600 */
  maxIntervalSeconds: number;
}

export interface ProbeRequest {
  /** @default 'GET' */
  method: 'GET' | 'HEAD' | 'POST';
  /** Path appended to the connection URL's origin; the connection URL itself when absent. */
  path?: string;
}

/** Connection settings an operator controls (secrets included; never returned). */
export interface ConnectionSettings {
  url: string;
  auth: ConnectionAuth;
  timeoutMs: number;
  retry: RetryPolicy;
  threads: number;
  onError: OnError;
  successStatuses: number[] | '2xx';
  offlineAfter: number;
  probe: ProbeRequest;
  signingSecret?: string;
}

export interface Connection extends ConnectionSettings {
  connectionId: string;
  status: ConnectionStatus;
  statusReason?: string;
  statusSince: string;
  lastProbeAt?: string;
  nextProbeAt?: string;
  /** Consecutive connection errors or timeouts, across all lanes. */
  consecutiveFailures: number;
  /** `hold-all`: the delivery whose retry holds every lane of this connection, and until when. */
  heldBy?: string;
  holdUntil?: string;
  /** Lanes that are not open: their work is parked in the state store (SPEC semantics 15, core/parking.ts). */
  parkedLanes?: number[];
  createdAt: string;
  updatedAt: string;
}

export interface FlowCounts {
  accepted: number;
  queued: number;
  delivered: number;
  failed: number;
  suspended: number;
  inError: number;
}

export interface FlowSettings {
  partnerId: string;
  destinations: string[];
  onFailure: OnFailure;
  autoRetry: boolean;
  backoutThreshold: number;
  expiresAfterSeconds?: number;
  maxPayloadBytes: number;
  /**
   * Days a message is kept after it reaches a final state (every delivery delivered or
   * discarded), with its deliveries, report and payloads (SPEC semantics 16). Failed,
   * in-error and suspended deliveries keep their message until an operator acts on them.
   * @default 30
   */
  retentionDays: number;
  /**
   * Lane counts (`threads`) of the destinations, copied when the flow or a destination is
   * saved, so ingest picks lanes without reading the connections. Internal; never returned.
   */
  destinationThreads?: Record<string, number>;
}

export interface Flow extends FlowSettings {
  flowId: string;
  status: FlowStatus;
  statusReason?: string;
  statusSince: string;
  /** Internal failures in a row; reaching `backoutThreshold` stops the flow. */
  internalFailureStreak: number;
  /** Paused by an operator: every branch holds until `resume`. */
  operatorPaused?: boolean;
  /** Connections whose outage paused this flow; only their branches hold. */
  autoPausedBy?: string[];
  createdAt: string;
  updatedAt: string;
}

/** A flow with its delivery counts, as operators see it. */
export interface FlowWithCounts extends Flow {
  counts: FlowCounts;
}

export interface Partner {
  partnerId: string;
  name: string;
  createdAt: string;
}

/**
 * Where a message's payload lives: `inline`, in the message record itself (one write
 * keeps it, and restart, the failed store and replay read it back), or in S3 when
 * large (claim check).
 */
export type PayloadLocation = { kind: 'inline' } | { kind: 'object'; key: string };

export interface MessageDestination {
  connectionId: string;
  /** Lane index in [0, threads). */
  lane: number;
}

export interface Message {
  flowId: string;
  messageId: string;
  partnerId: string;
  contentType: string;
  bytes: number;
  sha256: string;
  payload: PayloadLocation;
  chainId?: string;
  correlationId: string;
  expiresAt?: string;
  receivedAt: string;
  /** `pending` between the durable record and the last queue send; the sweep re-queues it. */
  enqueue: 'pending' | 'done';
  destinations: MessageDestination[];
}

export interface DeliveryError {
  httpStatus?: number;
  message: string;
  bodyExcerpt?: string;
}

export interface Delivery {
  flowId: string;
  messageId: string;
  connectionId: string;
  lane: number;
  chainId?: string;
  status: DeliveryStatus;
  /** Attempts spent against the retry budget (held attempts on 401/403 do not count). */
  attempts: number;
  /** Requests sent to the target, budgeted or not: numbers `x-sluice-attempt`. */
  requests?: number;
  /** `requests` when an operator last restarted the delivery (a restart resets `attempts`, not this count). */
  requestsBeforeRestart?: number;
  /** Attempt number of a POST that was started but whose outcome was never recorded. */
  attemptInFlight?: number;
  /** Set once any request may already have reached the target. */
  possibleDuplicate: boolean;
  nextAttemptAt?: string;
  failureType?: FailureType;
  lastError?: DeliveryError;
  /** A corrected payload uploaded by an operator: replaces the message's payload for this delivery only. */
  payloadOverride?: { key: string; bytes: number; contentType: string; sha256: string };
  /** The failed store copy of the payload, and the operator's correction once uploaded. */
  failedPayload?: { key: string; bytes: number; contentType: string; sha256: string; corrected: boolean };
  failedAt?: string;
  deliveredAt?: string;
  /** Restarts so far; part of the queue deduplication id of each re-queue. */
  restarts: number;
  /** Optimistic lock: every write checks and bumps it. */
  version?: number;
  /** Receipt of the queue message held in flight while the lane is blocked; released on resume. */
  heldReceipt?: string;
  /** When the held ticket was sent: the queue drops it after its retention, so its lane is parked before. */
  heldTicketAt?: string;
  /** An internal error hit the last try: the next one logs at debug level. */
  debugNextAttempt?: boolean;
  /** Re-queued by an operator (restart, chain release, replay) and not yet seen by the deliverer. */
  requeuedAt?: string;
  updatedAt: string;
}

export type ReportEvent =
  | 'received'
  | 'queued'
  | 'attempt'
  | 'error'
  | 'warning'
  | 'paused'
  | 'resumed'
  | 'held'
  | 'retrying'
  | 'failed'
  | 'suspended'
  | 'payload-uploaded'
  | 'restarted'
  | 'recovered'
  | 'discarded'
  | 'delivered'
  | 'replayed'
  | 'download-url-issued'
  | 'upload-url-issued';

export interface ReportEntry {
  at: string;
  event: ReportEvent;
  level: LogLevel;
  detail: string;
  connectionId?: string;
  attempt?: number;
  httpStatus?: number;
  durationMs?: number;
  /** Who did it, for operator actions. */
  by?: string;
}

export interface FlowLogEntry {
  at: string;
  level: LogLevel;
  code: string;
  detail: string;
  messageId?: string;
}

export const DEFAULT_RETRY: RetryPolicy = {
  count: 5,
  intervalSeconds: 60,
  backoff: 'fixed',
  maxIntervalSeconds: 3600,
};

export const DEFAULT_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
export const DEFAULT_RETENTION_DAYS = 30;
/** Bounds of a flow's `retentionDays`: at least a day, at most ten years. */
export const RETENTION_DAYS_LIMITS = { min: 1, max: 3650 } as const;
export const EMPTY_COUNTS: FlowCounts = { accepted: 0, queued: 0, delivered: 0, failed: 0, suspended: 0, inError: 0 };
