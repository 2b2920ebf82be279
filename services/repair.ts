import { mapLimit } from '../core/concurrency';
import { ticketOf } from './enqueue';
import { releaseParkedLanes } from './parking';
import { messagePayload } from './payloads';
import { isTransactionConflict } from '../adapters/aws/dynamo-errors';
import { createHash } from 'node:crypto';
import type { AuditEntry } from '../adapters/aws/audit-store';
import { failedEventId, parseFailedEventId, StaleDeliveryError, type StepExtras } from '../adapters/aws/delivery-store';
import { objectKeys } from '../adapters/aws/keys';
import * as lifecycle from '../core/lifecycle';
import type { StoredMessage } from '../adapters/aws/message-store';
import type { Runtime } from '../adapters/runtime';
import { attemptCounts } from '../core/attempts';
import { SUGGESTED_ACTIONS } from '../core/classify';
import { MESSAGE_ID_PATTERN, RESOURCE_ID_PATTERN } from '../core/identifiers';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  type Delivery,
  type DeliveryError,
  type DeliveryStatus,
  type FailureType,
  type ReportEntry,
} from '../core/model';
import type { DeliveryTicket } from '../core/ports';
import { ProblemError } from '../core/problems';

/**
 * The failed-event manager (SPEC "Operator API", failed events): lists failed and
 * in-error deliveries, hands out presigned URLs to their payloads, and restarts,
 * recovers or discards them, releasing suspended chains in order. Every action is
 * written to the message's execution report, the audit trail and the log.
 */

export interface FailedEventView {
  id: string;
  flowId: string;
  messageId: string;
  partnerId: string;
  connectionId: string;
  status: DeliveryStatus;
  type: FailureType;
  suggestedAction: string;
  error: DeliveryError;
  /** Every request the target was sent, across restarts (the last `x-sluice-attempt`). */
  attempts: number;
  /** Requests since the last operator restart; equal to `attempts` if it was never restarted. */
  attemptsSinceRestart: number;
  failedAt: string;
  suspendedCount: number;
  payload: { bytes: number; contentType: string; sha256: string; corrected: boolean };
}

export interface FailedEventFilter {
  flowId?: string;
  connectionId?: string;
  type?: FailureType;
}

/** Restarts in flight at once in a bulk restart. */
export const BULK_CONCURRENCY = 16;
/** Failed events read per index page in a bulk restart. */
const BULK_PAGE = 100;
/** Commits retried after a concurrent change or a transaction conflict. */
const COMMIT_ATTEMPTS = 8;
/** Types S3 gives an upload sent without one: the original's type is kept instead. */
const GENERIC_CONTENT_TYPES = new Set(['application/octet-stream', 'binary/octet-stream']);

export const correctionKey = objectKeys.correction;
export const failedCopyKey = objectKeys.failed;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const notFound = (id: string) => new ProblemError('not-found', `Failed event ${id} does not exist.`);

/** Who an action is attributed to. */
function who(principal: string | undefined): string {
  return principal ?? 'operator';
}

/** A report entry with the operator who caused it (`by`) and other facts beside the contract fields. */
function reportEntry(entry: ReportEntry, extra: Record<string, unknown> = {}): ReportEntry {
  return Object.assign({}, entry, extra);
}

// ---------------------------------------------------------------------------
// Reading

export function parseId(id: string): { flowId: string; messageId: string; connectionId: string } {
  const parts = parseFailedEventId(id);
  if (
    !parts ||
    !RESOURCE_ID_PATTERN.test(parts.flowId) ||
    !MESSAGE_ID_PATTERN.test(parts.messageId) ||
    !RESOURCE_ID_PATTERN.test(parts.connectionId)
  ) {
    throw notFound(id);
  }
  return parts;
}

/**
 * The delivery behind a failed-event id: 404 when there is none. Actions check its
 * status themselves (409); reading it as a failed event also needs its failure.
 */
async function loadDelivery(runtime: Runtime, id: string): Promise<Delivery> {
  const { flowId, messageId, connectionId } = parseId(id);
  const delivery = await runtime.deliveries.get(flowId, messageId, connectionId);
  if (!delivery) throw notFound(id);
  return delivery;
}

async function loadFailedDelivery(runtime: Runtime, id: string): Promise<Delivery> {
  const delivery = await loadDelivery(runtime, id);
  if (!delivery.failureType || !delivery.failedAt) {
    throw new ProblemError('not-found', `${id} is not a failed event: the delivery is ${delivery.status} and has no failure on record.`);
  }
  return delivery;
}

type PayloadView = FailedEventView['payload'];

/**
 * The content type a correction is delivered with: the upload's own, unless S3 gave it
 * a generic one while the original had a real one.
 */
function correctionContentType(d: Delivery, uploaded: string | undefined): string {
  const original = d.failedPayload?.contentType ?? d.payloadOverride?.contentType ?? 'application/octet-stream';
  return !uploaded || (GENERIC_CONTENT_TYPES.has(uploaded) && !GENERIC_CONTENT_TYPES.has(original)) ? original : uploaded;
}

/**
 * An uploaded correction not yet taken by a restart, described as the download URL
 * serves it (the same size rule as `currentPayloadKey`), or undefined when there is none.
 */
async function pendingCorrection(runtime: Runtime, d: Delivery, maxBytes: number): Promise<PayloadView | undefined> {
  const head = await runtime.objects.head(correctionKey(d));
  if (!head || head.bytes === 0 || head.bytes > maxBytes) return undefined;
  const read = await runtime.objects.getRange(correctionKey(d), maxBytes).catch(() => undefined);
  if (!read || read.body.length === 0) return undefined;
  return {
    bytes: read.body.length,
    contentType: correctionContentType(d, head.contentType ?? read.contentType),
    sha256: sha256(read.body),
    corrected: true,
  };
}

function payloadView(d: Delivery, message: StoredMessage | undefined, pending?: PayloadView): PayloadView {
  if (pending) return pending;
  if (d.failedPayload?.corrected && d.payloadOverride) {
    const { bytes, contentType, sha256: sha } = d.payloadOverride;
    return { bytes, contentType, sha256: sha, corrected: true };
  }
  if (d.failedPayload) {
    const { bytes, contentType, sha256: sha, corrected } = d.failedPayload;
    return { bytes, contentType, sha256: sha, corrected };
  }
  // In error: held before the failed copy is written; the payload is the one being delivered.
  const current =
    d.payloadOverride ?? (message ? { bytes: message.bytes, contentType: message.contentType, sha256: message.sha256 } : undefined);
  return {
    bytes: current?.bytes ?? 0,
    contentType: current?.contentType ?? 'application/octet-stream',
    sha256: current?.sha256 ?? '',
    corrected: d.payloadOverride !== undefined,
  };
}

/**
 * A failed event as operators see it. `pending` is an uploaded correction that a
 * restart has not taken yet: the view shows it, since the download already serves it.
 */
export function failedEventView(
  d: Delivery,
  message: StoredMessage | undefined,
  suspendedCount: number,
  pending?: PayloadView,
): FailedEventView {
  const type = d.failureType!;
  return {
    id: failedEventId(d),
    flowId: d.flowId,
    messageId: d.messageId,
    partnerId: message?.partnerId ?? '',
    connectionId: d.connectionId,
    status: d.status,
    type,
    suggestedAction: SUGGESTED_ACTIONS[type],
    error: d.lastError ?? { message: `failed as ${type}` },
    ...attemptCounts(d),
    failedAt: d.failedAt!,
    suspendedCount,
    payload: payloadView(d, message, pending),
  };
}

async function suspendedCountOf(runtime: Runtime, d: Delivery): Promise<number> {
  return d.chainId ? runtime.deliveries.countSuspended(d.flowId, d.chainId, d.connectionId) : 0;
}

/** `hasUpload` says whether a correction may be pending; a listing finds out with one LIST per flow instead of a HEAD per event. */
async function viewOf(runtime: Runtime, d: Delivery, hasUpload = true): Promise<FailedEventView> {
  const [message, suspended, pending] = await Promise.all([
    runtime.messages.get(d.flowId, d.messageId),
    suspendedCountOf(runtime, d),
    hasUpload ? flowMaxBytes(runtime, d.flowId).then((maxBytes) => pendingCorrection(runtime, d, maxBytes)) : undefined,
  ]);
  return failedEventView(d, message, suspended, pending);
}

export async function getFailedEvent(runtime: Runtime, id: string): Promise<FailedEventView> {
  return viewOf(runtime, await loadFailedDelivery(runtime, id));
}

export async function listFailedEvents(
  runtime: Runtime,
  filter: FailedEventFilter,
  page: { limit: number; startKey?: Record<string, unknown> },
): Promise<{ items: FailedEventView[]; lastKey?: Record<string, unknown> }> {
  const { items, lastKey } = await runtime.deliveries.queryFailed({
    ...filter,
    statuses: ['failed', 'inError'],
    limit: page.limit,
    ...(page.startKey ? { startKey: page.startKey } : {}),
  });
  const uploads = new Map<string, Promise<Set<string>>>();
  const uploadsOf = (flowId: string) => {
    if (!uploads.has(flowId))
      uploads.set(
        flowId,
        runtime.objects.listKeys(objectKeys.correctionsOf(flowId)).then((keys) => new Set(keys)),
      );
    return uploads.get(flowId)!;
  };
  const views = await Promise.all(items.map(async (d) => viewOf(runtime, d, (await uploadsOf(d.flowId)).has(correctionKey(d)))));
  return { items: views, ...(lastKey ? { lastKey } : {}) };
}

// ---------------------------------------------------------------------------
// Audit

async function flowMaxBytes(runtime: Runtime, flowId: string, cache?: Map<string, Promise<number>>): Promise<number> {
  const load = () => runtime.flows.get(flowId).then((flow) => flow?.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
  if (!cache) return load();
  if (!cache.has(flowId)) cache.set(flowId, load());
  return cache.get(flowId)!;
}

function auditEntry(runtime: Runtime, principal: string | undefined, action: string, target: string, detail?: string): AuditEntry {
  return { at: runtime.clock.now().toISOString(), principal: who(principal), action, target, ...(detail ? { detail } : {}) };
}

function logAction(runtime: Runtime, entry: AuditEntry, extra: Record<string, unknown> = {}): void {
  runtime.logger.info('operator action', {
    action: entry.action,
    principal: entry.principal,
    target: entry.target,
    detail: entry.detail,
    ...extra,
  });
}

// ---------------------------------------------------------------------------
// Presigned URLs

const URL_EVENTS = { download: 'download-url-issued', upload: 'upload-url-issued' } as const;

async function recordUrlIssued(
  runtime: Runtime,
  d: Delivery,
  principal: string | undefined,
  kind: 'download' | 'upload',
  key: string,
  expiresAt: string,
) {
  const entry = auditEntry(
    runtime,
    principal,
    `failed-event.${kind}-url`,
    failedEventId(d),
    `${kind} URL for ${key}, expires ${expiresAt}`,
  );
  const report = reportEntry(
    {
      at: entry.at,
      event: URL_EVENTS[kind],
      level: 'info',
      detail: `${kind} URL for the ${objectKeys.isCorrection(key) ? 'corrected' : 'failed'} payload issued to ${entry.principal}, expires ${expiresAt}`,
      connectionId: d.connectionId,
    },
    { by: entry.principal },
  );
  await runtime.audit.record(entry);
  await runtime.messages.appendReport(d.flowId, d.messageId, [report]);
  logAction(runtime, entry, { key });
}

/** The key holding a delivery's current payload, writing the failed copy first if there is none yet (in error). */
async function currentPayloadKey(runtime: Runtime, d: Delivery, maxBytes: number): Promise<string> {
  const upload = await runtime.objects.head(correctionKey(d));
  if (upload && upload.bytes > 0 && upload.bytes <= maxBytes) return correctionKey(d);
  if (d.payloadOverride) return d.payloadOverride.key;
  if (d.failedPayload) return d.failedPayload.key;
  const message = await runtime.messages.get(d.flowId, d.messageId, true);
  if (!message) throw new ProblemError('not-found', `Message ${d.messageId} of failed event ${failedEventId(d)} no longer exists.`);
  const payload = await messagePayload(runtime, message);
  await runtime.payloads.put(failedCopyKey(d), payload, message.contentType);
  return failedCopyKey(d);
}

export async function issueDownloadUrl(runtime: Runtime, id: string, principal: string | undefined, expiresInSeconds?: number) {
  const d = await loadDelivery(runtime, id);
  if (!['failed', 'inError', 'discarded'].includes(d.status) || !d.failureType) {
    throw new ProblemError(
      'conflict',
      `Failed event ${id} is ${d.status}; payloads are downloadable while a delivery is failed, in error or discarded.`,
    );
  }
  const key = await currentPayloadKey(runtime, d, await flowMaxBytes(runtime, d.flowId));
  const signed = await runtime.presigner.download(key, { now: runtime.clock.now(), ...(expiresInSeconds ? { expiresInSeconds } : {}) });
  await recordUrlIssued(runtime, d, principal, 'download', key, signed.expiresAt);
  return signed;
}

export async function issueUploadUrl(runtime: Runtime, id: string, principal: string | undefined, expiresInSeconds?: number) {
  const d = await loadDelivery(runtime, id);
  if (d.status !== 'failed') {
    throw new ProblemError(
      'conflict',
      `Failed event ${id} is ${d.status}; a corrected payload can only be uploaded for a failed delivery.`,
    );
  }
  const maxBytes = await flowMaxBytes(runtime, d.flowId);
  const key = correctionKey(d);
  const signed = await runtime.presigner.upload(key, { now: runtime.clock.now(), ...(expiresInSeconds ? { expiresInSeconds } : {}) });
  await recordUrlIssued(runtime, d, principal, 'upload', key, signed.expiresAt);
  return { url: signed.url, method: 'PUT' as const, expiresAt: signed.expiresAt, maxBytes };
}

// ---------------------------------------------------------------------------
// Corrections

export class InvalidCorrectionError extends ProblemError {
  constructor(detail: string) {
    super('invalid-body', detail);
  }
}

interface Correction {
  key: string;
  bytes: number;
  contentType: string;
  sha256: string;
}

/**
 * Checks the operator's upload (if any) and copies its verified bytes to a
 * content-addressed key, so what is delivered is exactly what was checked even if
 * the upload URL is used again. An empty or oversized upload is removed and refused.
 */
async function takeCorrection(runtime: Runtime, d: Delivery, maxBytes: number, expectedSha256?: string): Promise<Correction | undefined> {
  const key = correctionKey(d);
  const refuse = async (reason: string): Promise<never> => {
    await runtime.objects
      .delete(key)
      .catch((error) => runtime.logger.warn('could not remove a refused correction', { key, error: error as Error }));
    throw new InvalidCorrectionError(
      `${reason}. The upload was removed; the failed event and its original payload are unchanged. Upload a corrected payload again.`,
    );
  };
  const head = await runtime.objects.head(key);
  if (!head) {
    if (expectedSha256) throw new InvalidCorrectionError(`No corrected payload was uploaded, but sha256 ${expectedSha256} was expected.`);
    return undefined;
  }
  if (head.bytes === 0) return refuse('The uploaded correction is empty');
  if (head.bytes > maxBytes) return refuse(`The uploaded correction is ${head.bytes} bytes; the flow allows at most ${maxBytes}`);
  let read;
  try {
    read = await runtime.objects.getRange(key, maxBytes, head.etag);
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) {
      throw new ProblemError('conflict', 'The corrected payload was replaced while it was being checked; restart again.');
    }
    throw error;
  }
  if (!read) return undefined;
  if (read.totalBytes > maxBytes) return refuse(`The uploaded correction is ${read.totalBytes} bytes; the flow allows at most ${maxBytes}`);
  if (read.body.length === 0) return refuse('The uploaded correction is empty');
  const sha = sha256(read.body);
  if (expectedSha256 && expectedSha256 !== sha) {
    throw new InvalidCorrectionError(
      `The uploaded correction has sha256 ${sha}, not the expected ${expectedSha256}; nothing was restarted.`,
    );
  }
  const contentType = correctionContentType(d, head.contentType ?? read.contentType);
  const verifiedKey = `${key}@${sha}`;
  await runtime.payloads.put(verifiedKey, read.body, contentType);
  return { key: verifiedKey, bytes: read.body.length, contentType, sha256: sha };
}

// ---------------------------------------------------------------------------
// State changes

/** A lifecycle step and what must commit with it. */
export interface Planned {
  step: lifecycle.Step;
  extras?: StepExtras;
}

/**
 * Commits a step of a delivery, re-reading it after a concurrent change. `plan` sees the
 * current delivery and throws (or returns undefined to skip) when the step no longer applies.
 */
export async function move(runtime: Runtime, first: Delivery, plan: (d: Delivery) => Planned | undefined): Promise<Delivery | undefined> {
  let d: Delivery | undefined = first;
  for (let attempt = 1; ; attempt++) {
    if (!d) return undefined;
    const planned = plan(d);
    if (!planned) return undefined;
    try {
      return await runtime.deliveries.apply(d, planned.step, planned.extras);
    } catch (error) {
      if (attempt >= COMMIT_ATTEMPTS) throw error;
      if (error instanceof StaleDeliveryError) {
        d = await runtime.deliveries.get(d.flowId, d.messageId, d.connectionId);
      } else if (isTransactionConflict(error)) {
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
      } else {
        throw error;
      }
    }
  }
}

interface ChainRef {
  flowId: string;
  chainId: string;
  connectionId: string;
}

/** The chain this delivery blocks on its connection, if it is the failed one holding it. */
async function blockedChain(runtime: Runtime, d: Delivery): Promise<ChainRef | undefined> {
  if (!d.chainId) return undefined;
  const blocker = await runtime.deliveries.chainBlocker(d.flowId, d.chainId, d.connectionId);
  return blocker?.messageId === d.messageId ? { flowId: d.flowId, chainId: d.chainId, connectionId: d.connectionId } : undefined;
}

/** Moves every suspended delivery of a chain back to queued (a new restart generation), in acceptance order. */
async function requeueSuspended(runtime: Runtime, chain: ChainRef, by: string, why: string): Promise<DeliveryTicket[]> {
  const suspended = await runtime.deliveries.suspended(chain.flowId, chain.chainId, chain.connectionId);
  const moved = await mapLimit(suspended, BULK_CONCURRENCY, (s) =>
    move(runtime, s, (d) =>
      d.status === 'suspended'
        ? { step: lifecycle.chainReleased(d, { at: runtime.clock.now().toISOString(), by, chainId: chain.chainId, why }) }
        : undefined,
    ),
  );
  return moved.filter((d): d is Delivery => d !== undefined).map((d) => ticketOf(d));
}

/**
 * After the releasing tickets were sent: re-queues deliveries that were suspended
 * while the release ran, then lifts the block (only if no new failure re-blocked the
 * chain meanwhile) and catches the last ones suspended just before it went.
 */
async function finishRelease(runtime: Runtime, chain: ChainRef, by: string, why: string): Promise<number> {
  let released = 0;
  const blocker = await runtime.deliveries.chainBlocker(chain.flowId, chain.chainId, chain.connectionId);
  if (!blocker?.releasing) return released;
  const stragglers = await requeueSuspended(runtime, chain, by, why);
  if (stragglers.length > 0) await runtime.queue.send(stragglers);
  released += stragglers.length;
  if (await runtime.deliveries.clearChainBlockIfReleasing(chain.flowId, chain.chainId, chain.connectionId)) {
    const last = await requeueSuspended(runtime, chain, by, why);
    if (last.length > 0) await runtime.queue.send(last);
    released += last.length;
  }
  return released;
}

/** What one restart or discard committed, and what still has to be sent and finished. */
interface Prepared {
  delivery: Delivery;
  tickets: DeliveryTicket[];
  chain?: ChainRef;
  why: string;
}

/** Marks the chain releasing and re-queues its suspended deliveries behind `lead`. */
async function prepareRelease(runtime: Runtime, chain: ChainRef | undefined, by: string, why: string, lead: DeliveryTicket[]) {
  if (!chain) return lead;
  await runtime.deliveries.markChainReleasing(chain.flowId, chain.chainId, chain.connectionId);
  return [...lead, ...(await requeueSuspended(runtime, chain, by, why))];
}

interface RestartContext {
  by: string;
  how: string;
  maxBytes: number;
  expectedSha256?: string;
  /** Written with the restart (single restarts); a bulk restart writes one for the whole run. */
  audit?: AuditEntry;
}

/** The step that restarts a failed delivery (a new restart generation, a fresh retry budget). */
function restartPlan(runtime: Runtime, d: Delivery, ctx: RestartContext, correction?: Correction, chain?: ChainRef): Planned {
  const step = lifecycle.restarted(d, {
    at: runtime.clock.now().toISOString(),
    by: ctx.by,
    how: ctx.how,
    ...(correction ? { correction } : {}),
    ...(chain ? { chainId: chain.chainId } : {}),
  });
  return { step, ...(ctx.audit ? { extras: { alsoPut: [runtime.audit.item(ctx.audit)] } } : {}) };
}

async function prepareRestart(runtime: Runtime, first: Delivery, ctx: RestartContext): Promise<Prepared> {
  const id = failedEventId(first);
  const requireFailed = (d: Delivery) => {
    if (d.status !== 'failed')
      throw new ProblemError('conflict', `Failed event ${id} is ${d.status}; only a failed delivery can be restarted.`);
  };
  requireFailed(first);
  const correction = await takeCorrection(runtime, first, ctx.maxBytes, ctx.expectedSha256);
  const chain = await blockedChain(runtime, first);
  let replaced: string | undefined;
  const restarted = (await move(runtime, first, (d) => {
    requireFailed(d);
    replaced = correction && d.payloadOverride && d.payloadOverride.key !== correction.key ? d.payloadOverride.key : undefined;
    return restartPlan(runtime, d, ctx, correction, chain);
  }))!;
  // The upload is consumed: its verified copy is what will be delivered.
  if (correction) await runtime.objects.delete(correctionKey(first)).catch(() => undefined);
  // An earlier correction it replaces is named by no record now, so nothing would ever expire it.
  if (replaced) await runtime.objects.delete(replaced).catch(() => undefined);
  const why = `${failedEventId(first)} was restarted by ${ctx.by}`;
  const tickets = await prepareRelease(runtime, chain, ctx.by, why, [ticketOf(restarted)]);
  return { delivery: restarted, tickets, why, ...(chain ? { chain } : {}) };
}

export async function restartFailedEvent(
  runtime: Runtime,
  id: string,
  principal: string | undefined,
  options: { expectedSha256?: string } = {},
): Promise<FailedEventView> {
  const d = await loadDelivery(runtime, id);
  const by = who(principal);
  const audit = auditEntry(runtime, principal, 'failed-event.restart', id);
  const prepared = await prepareRestart(runtime, d, {
    by,
    how: 'restarted',
    maxBytes: await flowMaxBytes(runtime, d.flowId),
    audit,
    ...(options.expectedSha256 ? { expectedSha256: options.expectedSha256 } : {}),
  });
  await runtime.queue.send(prepared.tickets);
  if (prepared.chain) await finishRelease(runtime, prepared.chain, by, prepared.why);
  logAction(runtime, audit, { released: prepared.tickets.length - 1 });
  return viewOf(runtime, prepared.delivery);
}

export async function recoverFailedEvent(runtime: Runtime, id: string, principal: string | undefined): Promise<FailedEventView> {
  const first = await loadDelivery(runtime, id);
  const audit = auditEntry(runtime, principal, 'failed-event.recover', id);
  const requireInError = (d: Delivery) => {
    if (d.status !== 'inError')
      throw new ProblemError('conflict', `Failed event ${id} is ${d.status}; only a delivery in error can be recovered.`);
  };
  requireInError(first);
  let receipt: string | undefined;
  const recovered = (await move(runtime, first, (d) => {
    requireInError(d);
    receipt = d.heldReceipt;
    return { step: lifecycle.recovered(d, { at: audit.at, by: audit.principal }), extras: { alsoPut: [runtime.audit.item(audit)] } };
  }))!;
  await wakeHeld(runtime, receipt, id);
  // Held past the queue's retention, its ticket was parked with its lane: queue them again.
  await releaseParkedLanes(runtime, recovered.connectionId, [recovered.lane]);
  logAction(runtime, audit);
  return viewOf(runtime, recovered);
}

/** Makes a held ticket visible now; if its hold already ran out it is on its way back anyway. */
async function wakeHeld(runtime: Runtime, receipt: string | undefined, id: string): Promise<void> {
  if (!receipt) return;
  await runtime.queue.delay(receipt, 0).catch((error) => {
    runtime.logger.debug('held receipt no longer in flight', { id, error: error as Error });
  });
}

export async function discardFailedEvent(runtime: Runtime, id: string, principal: string | undefined): Promise<FailedEventView> {
  const first = await loadDelivery(runtime, id);
  const audit = auditEntry(runtime, principal, 'failed-event.discard', id);
  const requireOpen = (d: Delivery) => {
    if (d.status !== 'failed' && d.status !== 'inError') {
      throw new ProblemError('conflict', `Failed event ${id} is ${d.status}; only a failed or in-error delivery can be discarded.`);
    }
  };
  requireOpen(first);
  const chain = await blockedChain(runtime, first);
  let receipt: string | undefined;
  const discarded = (await move(runtime, first, (d) => {
    requireOpen(d);
    receipt = d.status === 'inError' ? d.heldReceipt : undefined;
    return {
      step: lifecycle.discarded(d, { at: audit.at, by: audit.principal, ...(chain ? { chainId: chain.chainId } : {}) }),
      extras: { alsoPut: [runtime.audit.item(audit)] },
    };
  }))!;
  // An in-error delivery's ticket holds its lane: woken, it finds the delivery discarded and lets the lane go on.
  await wakeHeld(runtime, receipt, id);
  if (first.status === 'inError') await releaseParkedLanes(runtime, discarded.connectionId, [discarded.lane]);
  const why = `${id} was discarded by ${audit.principal}`;
  const tickets = await prepareRelease(runtime, chain, audit.principal, why, []);
  if (tickets.length > 0) await runtime.queue.send(tickets);
  if (chain) await finishRelease(runtime, chain, audit.principal, why);
  logAction(runtime, audit, { released: tickets.length });
  return viewOf(runtime, discarded);
}

type BulkOutcome = Prepared | 'skipped' | 'gone';

/** Bounds on `failedAt` (RFC 3339, both inclusive) for a bulk restart. */
export interface FailedWindow {
  since?: Date;
  until?: Date;
}

/** Exclusive upper bound of the index read: the run's start (so a target that keeps failing cannot keep it going), or `until`. */
function windowEnd(startedAt: Date, window: FailedWindow): string {
  const end = Math.min(startedAt.getTime(), window.until?.getTime() ?? Infinity);
  return new Date(end + 1).toISOString();
}

function inWindow(d: Delivery, window: FailedWindow): boolean {
  if (!window.since) return true;
  return d.failedAt !== undefined && Date.parse(d.failedAt) >= window.since.getTime();
}

/** The failed deliveries a bulk restart with this filter and window takes up, a page at a time. */
async function* failedPages(runtime: Runtime, filter: FailedEventFilter, window: FailedWindow, before: string): AsyncGenerator<Delivery[]> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await runtime.deliveries.queryFailed({
      ...filter,
      statuses: ['failed'],
      before,
      limit: BULK_PAGE,
      ...(startKey ? { startKey } : {}),
    });
    startKey = page.lastKey;
    yield page.items.filter((d) => inWindow(d, window));
  } while (startKey);
}

/** What a bulk restart with the same filter and window would take up now, changing nothing (`dryRun`). */
export async function countBulkRestart(
  runtime: Runtime,
  filter: FailedEventFilter,
  window: FailedWindow = {},
): Promise<{ matched: number }> {
  let matched = 0;
  for await (const page of failedPages(runtime, filter, window, windowEnd(runtime.clock.now(), window))) matched += page.length;
  return { matched };
}

/**
 * Restarts every failed event matching the filter that failed before the call began
 * (so a target that keeps failing cannot keep a run going), page by page; each
 * page's tickets go out in index order, ten per send.
 *
 * Fast path: a delivery with no chain and no pending upload is restarted with one
 * conditional write of its record (no correction to check, no chain to release).
 * Everything else, and any fast one that meets a concurrent change, takes the
 * one-by-one path (bounded concurrency). Events whose uploaded correction is invalid
 * are skipped (and the upload removed).
 */
export async function bulkRestart(
  runtime: Runtime,
  filter: FailedEventFilter,
  principal: string | undefined,
  window: FailedWindow = {},
): Promise<{ restarted: number; skipped: number }> {
  const by = who(principal);
  const startedAt = runtime.clock.now();
  const before = windowEnd(startedAt, window);
  const maxBytes = new Map<string, Promise<number>>();
  // Pending uploads, listed once per flow instead of a HeadObject per event.
  const uploads = new Map<string, Promise<Set<string>>>();
  const uploadsOf = (flowId: string) => {
    if (!uploads.has(flowId)) {
      uploads.set(
        flowId,
        runtime.objects.listKeys(objectKeys.correctionsOf(flowId)).then((keys) => new Set(keys)),
      );
    }
    return uploads.get(flowId)!;
  };
  const ctx = (d: Delivery) => flowMaxBytes(runtime, d.flowId, maxBytes).then((bytes) => ({ by, how: 'bulk restart', maxBytes: bytes }));

  const oneByOne = async (d: Delivery): Promise<BulkOutcome> => {
    try {
      return await prepareRestart(runtime, d, await ctx(d));
    } catch (error) {
      if (error instanceof InvalidCorrectionError) {
        runtime.logger.warn('bulk restart skipped a failed event', { id: failedEventId(d), reason: error.message });
        return 'skipped';
      }
      // Restarted, discarded or recovered by someone else meanwhile.
      if (error instanceof ProblemError && error.code === 'conflict') return 'gone';
      throw error;
    }
  };

  let restarted = 0;
  let skipped = 0;
  for await (const items of failedPages(runtime, filter, window, before)) {
    const outcomes = new Array<BulkOutcome>(items.length);
    const fast: number[] = [];
    const slow: number[] = [];
    for (const [index, d] of items.entries()) {
      const simple = !d.chainId && !(await uploadsOf(d.flowId)).has(correctionKey(d));
      (simple ? fast : slow).push(index);
    }
    await mapLimit(fast, BULK_CONCURRENCY, async (index) => {
      const d = items[index]!;
      try {
        const { step } = restartPlan(runtime, d, await ctx(d));
        const delivery = await runtime.deliveries.apply(d, step);
        outcomes[index] = { delivery, tickets: [ticketOf(delivery)], why: '' };
      } catch (error) {
        // A concurrent change (or an index entry older than its item): on its own, re-read.
        if (!(error instanceof StaleDeliveryError) && !isTransactionConflict(error)) throw error;
        slow.push(index);
      }
    });
    await mapLimit(slow, BULK_CONCURRENCY, async (index) => {
      outcomes[index] = await oneByOne(items[index]!);
    });
    const done = outcomes.filter((p): p is Prepared => typeof p === 'object');
    skipped += outcomes.filter((p) => p === 'skipped').length;
    restarted += done.length;
    await runtime.queue.send(done.flatMap((p) => p.tickets));
    for (const p of done) if (p.chain) await finishRelease(runtime, p.chain, by, p.why);
  }
  const target = `failed-events?${new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== undefined) as [string, string][]).toString()}`;
  const audit = auditEntry(runtime, principal, 'failed-event.bulk-restart', target, `restarted ${restarted}, skipped ${skipped}`);
  await runtime.audit.record(audit);
  logAction(runtime, audit, { restarted, skipped, durationMs: runtime.clock.now().getTime() - startedAt.getTime() });
  return { restarted, skipped };
}
