import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Logger } from '@aws-lambda-powertools/logger';
import { webhookHeaders } from '../adapters/http/webhook-signature';
import { receiveOf } from '../adapters/aws/delivery-queue';
import { deliveryKey, parseFailedEventId, StaleDeliveryError, type StepExtras } from '../adapters/aws/delivery-store';
import type { LoadedDelivery, StoredMessage } from '../adapters/aws/message-store';
import { objectKeys } from '../adapters/aws/keys';
import { sendToTarget } from '../adapters/http/target-client';
import { flushMetrics, type Runtime } from '../adapters/runtime';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { authHeaders } from '../core/auth-headers';
import { classify, SUGGESTED_ACTIONS, type AttemptOutcome } from '../core/classify';
import {
  afterAttempt,
  decide,
  HOLD_RECHECK_SECONDS,
  needsAttemptMarker,
  unrecordedAttemptPossible,
  type ReceiptFacts,
} from '../core/delivery-machine';
import * as lifecycle from '../core/lifecycle';
import type { Connection, Delivery, DeliveryError, FailureType, Flow, ReportEntry } from '../core/model';
import type { DeliveryTicket } from '../core/ports';
import { parseRetryAfter } from '../core/retry';
import { DELIVERY_QUEUE } from '../adapters/aws/definitions';
import { markConnectionDown } from './connection-health';
import { messagePayload } from './payloads';
import { processLaneBatch, type RecordResult } from './lane-batch';
import {
  acceptancePosition,
  ageSeconds,
  endsRound,
  laneVerdict,
  needsTicket,
  parkAfterSeconds,
  ticketSentAt,
  type LaneState,
} from '../core/parking';
import { parkInLane, parkLane, releaseLane, releaseParkedLanes } from './parking';

/**
 * The delivery worker: per-record orchestration of the lifecycle (load one record,
 * decide, attempt at most once, commit one step). Lane batching, the time budget and
 * follower release are `processLaneBatch`'s.
 */

export interface DelivererOptions {
  /** Test hook between the request and recording its outcome: throwing here is a crash. */
  afterRequest?: (ticket: DeliveryTicket) => void | Promise<void>;
  /** Jitter source for exponential back-off. @default Math.random */
  random?: () => number;
  /** Base delay before a record that hit an internal error is tried again. @default 5 */
  internalRetrySeconds?: number;
  /**
   * Records are not started when less than this is left of the invocation (Lambda's
   * remaining time): they go back to the queue untouched instead of being cut off.
   * @default 70000 (the longest connection timeout plus a margin)
   */
  reserveMs?: number;
}

/** How often the other lanes of a `hold-all` connection look again while its head's retry is due or in flight. */
const HOLD_POLL_SECONDS = 1;

export class InvalidTicketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTicketError';
  }
}

export function parseTicket(body: string): DeliveryTicket {
  let value: Partial<DeliveryTicket>;
  try {
    value = JSON.parse(body);
  } catch {
    throw new InvalidTicketError('queue message body is not JSON');
  }
  if (
    value?.v !== 1 ||
    typeof value.flowId !== 'string' ||
    typeof value.messageId !== 'string' ||
    typeof value.connectionId !== 'string' ||
    typeof value.lane !== 'number' ||
    typeof value.restarts !== 'number' ||
    (value.epoch !== undefined && typeof value.epoch !== 'number') ||
    (value.round !== undefined && typeof value.round !== 'number') ||
    (value.sentAt !== undefined && typeof value.sentAt !== 'string')
  ) {
    throw new InvalidTicketError('queue message body is not a delivery ticket');
  }
  return value as DeliveryTicket;
}

/** Headers of one delivery request (SPEC delivery semantics 3). */
export function deliveryHeaders(
  connection: Connection,
  message: StoredMessage,
  payload: Buffer,
  request: number,
  possibleDuplicate: boolean,
  now: Date,
): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': message.contentType,
    'user-agent': 'Sluice/1.0',
    'x-aux-system-msg-id': message.messageId,
    'x-sluice-attempt': String(request),
    'x-correlation-id': message.correlationId,
    ...(possibleDuplicate ? { 'x-sluice-possible-duplicate': 'true' } : {}),
    ...authHeaders(connection.auth),
  };
  // Signed over the raw bytes as delivered (SPEC delivery semantics 3).
  if (connection.signingSecret) Object.assign(headers, webhookHeaders(connection.signingSecret, message.messageId, now, payload));
  return headers;
}

function errorOf(outcome: AttemptOutcome): DeliveryError {
  if (outcome.kind === 'response') {
    return {
      httpStatus: outcome.status,
      message: `target answered HTTP ${outcome.status}`,
      ...(outcome.bodyExcerpt ? { bodyExcerpt: outcome.bodyExcerpt } : {}),
    };
  }
  return { message: outcome.message };
}

interface Snapshot {
  ticket: DeliveryTicket;
  record: SQSRecord;
  delivery: LoadedDelivery;
  message: StoredMessage;
  flow: Flow;
  connection: Connection;
  log: Logger;
}

export function createDeliverer(runtime: Runtime, options: DelivererOptions = {}) {
  const policy = { localMode: runtime.config.localMode, allowPrivateTargets: runtime.config.allowPrivateTargets };
  const now = () => runtime.clock.now();
  const iso = () => now().toISOString();

  /** The bytes to deliver: an operator's correction for this delivery, else the message's payload. */
  async function loadPayload(message: StoredMessage, delivery?: Delivery): Promise<Buffer> {
    if (delivery?.payloadOverride) return runtime.payloads.get(delivery.payloadOverride.key);
    return messagePayload(runtime, message);
  }

  function contentTypeOf(message: StoredMessage, delivery: Delivery): string {
    return delivery.payloadOverride?.contentType ?? message.contentType;
  }

  /** Commits one lifecycle step of the snapshot's delivery (the store derives its index entries). */
  async function apply(s: Snapshot, step: lifecycle.Step, extras?: StepExtras): Promise<LoadedDelivery> {
    if (s.delivery.status !== step.status) {
      runtime.metrics.addMetric(`Deliveries${step.status[0]!.toUpperCase()}${step.status.slice(1)}`, MetricUnit.Count, 1);
    }
    // The flow was read with this batch: the store needs no read of its own to date a final message.
    s.delivery = await runtime.deliveries.apply(s.delivery, step, { ...extras, retentionDays: s.flow.retentionDays }, s.message.receivedAt);
    return s.delivery;
  }

  async function releaseConnectionHold(s: Snapshot): Promise<void> {
    if (s.connection.heldBy === deliveryKey(s.delivery)) {
      await runtime.deliveries.clearConnectionHold(s.connection.connectionId, deliveryKey(s.delivery));
    }
  }

  async function fail(
    s: Snapshot,
    type: FailureType,
    error: DeliveryError,
    report: ReportEntry[],
    attempt: { attempts?: number; request?: number; possibleDuplicate?: boolean } = {},
  ) {
    const failedAt = iso();
    const payload = await loadPayload(s.message, s.delivery);
    const contentType = contentTypeOf(s.message, s.delivery);
    const key = objectKeys.failed(s.delivery);
    await runtime.payloads.put(key, payload, contentType);
    const chained = s.flow.onFailure === 'suspend-chain' && s.message.chainId;
    await apply(
      s,
      lifecycle.failed(s.delivery, {
        at: failedAt,
        type,
        error,
        report,
        ...attempt,
        payload: { key, bytes: payload.length, contentType, sha256: s.delivery.payloadOverride?.sha256 ?? s.message.sha256 },
      }),
      chained
        ? {
            alsoPut: [
              runtime.deliveries.chainBlockItem(s.delivery.flowId, s.message.chainId!, s.delivery.connectionId, s.delivery.messageId),
            ],
          }
        : {},
    );
    await releaseConnectionHold(s);
    s.log.warn('delivery failed', {
      flowId: s.delivery.flowId,
      messageId: s.delivery.messageId,
      connectionId: s.delivery.connectionId,
      type,
    });
    await runtime.events.publish({
      type: 'message.failed',
      at: failedAt,
      detail: {
        flowId: s.delivery.flowId,
        messageId: s.delivery.messageId,
        connectionId: s.delivery.connectionId,
        partnerId: s.message.partnerId,
        type,
        suggestedAction: SUGGESTED_ACTIONS[type],
        error: { httpStatus: error.httpStatus, message: error.message },
      },
    });
    return 'delete' as const;
  }

  /** Blocks the lane: the ticket stays in flight and its receipt is kept so resume can wake it. */
  async function hold(
    s: Snapshot,
    status: 'paused' | 'inError',
    seconds: number,
    reason: string,
    extra: { report?: ReportEntry[]; attempt?: lifecycle.AttemptFacts & { error?: DeliveryError } } = {},
  ) {
    const receipt = s.record.receiptHandle;
    if (s.delivery.status !== status || s.delivery.heldReceipt !== receipt || extra.report || extra.attempt) {
      await apply(
        s,
        lifecycle.held(s.delivery, {
          at: iso(),
          status,
          receipt,
          ticketAt: ticketSentAt(s.ticket, s.message.receivedAt),
          reason,
          ...extra,
        }),
      );
    }
    await runtime.queue.delay(receipt, seconds, receiveOf(s.record));
    return 'keep' as const;
  }

  async function attempt(
    s: Snapshot,
    request: number,
    possibleDuplicate: boolean,
    receipt: ReceiptFacts,
    sent: SentMark,
  ): Promise<RecordResult> {
    const { connection, message } = s;
    // Written before the request leaves, except on the happy path's first receive: if we
    // die after the request, the next attempt knows (see needsAttemptMarker).
    if (needsAttemptMarker(s.delivery, receipt)) {
      await apply(s, lifecycle.attemptStarted(s.delivery, iso(), request, possibleDuplicate));
    }
    const payload = await loadPayload(message, s.delivery);
    const startedAt = now();
    sent.delivery = s.delivery;
    sent.request = request;
    const outcome = await sendToTarget(
      {
        url: connection.url,
        method: 'POST',
        headers: deliveryHeaders(
          connection,
          { ...message, contentType: contentTypeOf(message, s.delivery) },
          payload,
          request,
          possibleDuplicate,
          startedAt,
        ),
        body: payload,
        timeoutMs: connection.timeoutMs,
      },
      policy,
    );
    await options.afterRequest?.(s.ticket);

    runtime.metrics.addMetric('DeliveryAttemptDuration', MetricUnit.Milliseconds, outcome.durationMs);
    const verdict = classify(outcome, connection.successStatuses);
    const attempts = s.delivery.attempts + (verdict.verdict === 'unauthorized' ? 0 : 1);
    const transition = afterAttempt({
      verdict,
      attempts,
      retry: connection.retry,
      autoRetry: s.flow.autoRetry,
      retryAfterSeconds: outcome.kind === 'response' ? parseRetryAfter(outcome.retryAfter, now()) : undefined,
      random: options.random,
    });
    const at = iso();
    const error = errorOf(outcome);
    const attemptEntry: ReportEntry = {
      at,
      event: 'attempt',
      level: transition.to === 'delivered' ? 'info' : 'error',
      detail:
        transition.to === 'delivered'
          ? `delivered with HTTP ${(outcome as { status: number }).status}`
          : `${error.message}${verdict.verdict === 'unauthorized' ? ' (credentials rejected; held, no retry budget spent)' : ''}`,
      connectionId: connection.connectionId,
      attempt: request,
      durationMs: outcome.durationMs,
      ...(outcome.kind === 'response' ? { httpStatus: outcome.status } : {}),
    };
    const report: ReportEntry[] = [attemptEntry];
    if (transition.to === 'failed' && transition.warning) {
      report.push({ at, event: 'warning', level: 'warning', detail: transition.warning, connectionId: connection.connectionId });
    }
    s.log.debug('attempt finished', { ticket: s.ticket, outcome: { ...outcome, bodyExcerpt: undefined }, transition });

    // Connection health: consecutive connection errors and timeouts take it offline.
    let wentOffline = false;
    if (verdict.verdict === 'transient' && verdict.connectionLevel) {
      const streak = await runtime.connections.recordFailure(connection.connectionId);
      wentOffline = streak >= connection.offlineAfter;
    } else if (outcome.kind === 'response' && connection.consecutiveFailures > 0) {
      await runtime.connections.resetFailures(connection.connectionId);
    }
    const facts: lifecycle.AttemptFacts = { at, attempts, request, possibleDuplicate, report };

    switch (transition.to) {
      case 'delivered':
        // The happy path's one write: a conditional update of the message's record.
        await apply(s, lifecycle.delivered(s.delivery, facts));
        sent.delivery = undefined;
        await releaseConnectionHold(s);
        if (s.flow.internalFailureStreak > 0) await runtime.flows.resetInternalFailures(s.flow.flowId);
        return 'delete';
      case 'failed':
        sent.delivery = undefined;
        return fail(s, transition.failureType, error, report, { attempts, request, possibleDuplicate });
      case 'unauthorized': {
        const reason = `target answered HTTP ${error.httpStatus} to a delivery`;
        const result = await hold(s, 'paused', HOLD_RECHECK_SECONDS, reason, {
          attempt: { ...facts, report: [] },
          report: [
            ...report,
            {
              at,
              event: 'paused',
              level: 'warning',
              detail: `held: ${reason}; waiting for reauthorize`,
              connectionId: connection.connectionId,
            },
          ],
        });
        sent.delivery = undefined;
        await markConnectionDown(runtime, connection.connectionId, 'unauthorized', reason);
        return result;
      }
      case 'inError': {
        await apply(
          s,
          lifecycle.inError(s.delivery, {
            ...facts,
            error,
            type: transition.failureType,
            receipt: s.record.receiptHandle,
            ticketAt: ticketSentAt(s.ticket, s.message.receivedAt),
          }),
        );
        sent.delivery = undefined;
        await runtime.queue.delay(s.record.receiptHandle, HOLD_RECHECK_SECONDS, receiveOf(s.record));
        return 'keep';
      }
      case 'retrying': {
        if (wentOffline) {
          const reason = `${connection.offlineAfter} consecutive connection errors or timeouts; last: ${error.message}`;
          const result = await hold(s, 'paused', HOLD_RECHECK_SECONDS, reason, {
            attempt: { ...facts, report: [], error },
            report: [
              ...report,
              {
                at,
                event: 'paused',
                level: 'warning',
                detail: `held: connection offline (${reason})`,
                connectionId: connection.connectionId,
              },
            ],
          });
          sent.delivery = undefined;
          await releaseConnectionHold(s);
          await markConnectionDown(runtime, connection.connectionId, 'offline', reason);
          return result;
        }
        // The hold goes up before the delivery reads `retrying`: another lane that sees the head
        // retrying must also see the hold (a hold whose head never got there is cleared as stale).
        if (connection.onError === 'hold-all') {
          const nextAttemptAt = new Date(Date.parse(at) + transition.delaySeconds * 1000).toISOString();
          await runtime.deliveries.updateConnectionHold(connection.connectionId, deliveryKey(s.delivery), nextAttemptAt);
        }
        await apply(
          s,
          lifecycle.retrying(s.delivery, { ...facts, error, delaySeconds: transition.delaySeconds, retryCount: connection.retry.count }),
        );
        sent.delivery = undefined;
        await runtime.queue.delay(s.record.receiptHandle, transition.delaySeconds, receiveOf(s.record));
        return 'keep';
      }
    }
  }

  /** The request of the record being processed, once sent and until its outcome is recorded. */
  interface SentMark {
    delivery?: LoadedDelivery;
    request?: number;
  }

  /**
   * SPEC 5: a `hold-all` hold lasts until its head is delivered or has failed for good, not
   * only until its retry is due: while the head's retry is due or in flight (it can take the
   * whole connection timeout), the other lanes look again every HOLD_POLL_SECONDS. A hold
   * whose head has finished by any path is stale and cleared.
   */
  async function effectiveHold(connection: Connection, key: string): Promise<Connection> {
    const { heldBy, holdUntil } = connection;
    if (connection.onError !== 'hold-all' || !heldBy || heldBy === key) return connection;
    if (holdUntil && Date.parse(holdUntil) > now().getTime()) return connection;
    const holder = parseFailedEventId(heldBy);
    const head = holder ? await runtime.deliveries.get(holder.flowId, holder.messageId, holder.connectionId) : undefined;
    if (head?.status === 'retrying') {
      return { ...connection, holdUntil: new Date(now().getTime() + HOLD_POLL_SECONDS * 1000).toISOString() };
    }
    await runtime.deliveries.clearConnectionHold(connection.connectionId, heldBy);
    const { heldBy: _by, holdUntil: _until, ...released } = connection;
    return released;
  }

  interface BatchCache {
    flows: Map<string, Promise<Flow | undefined>>;
    connections: Map<string, Promise<Connection | undefined>>;
  }

  function receiptOf(record: SQSRecord): ReceiptFacts {
    return {
      receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 1),
      firstReceivedAtMs: Number(record.attributes?.ApproximateFirstReceiveTimestamp ?? Number.NaN),
      visibilityTimeoutSeconds: DELIVERY_QUEUE.visibilityTimeoutSeconds,
    };
  }

  async function processRecord(record: SQSRecord, cache: BatchCache, sent: SentMark): Promise<RecordResult> {
    let ticket: DeliveryTicket;
    try {
      ticket = parseTicket(record.body);
    } catch (error) {
      runtime.logger.error('dropping a queue message that is not a delivery ticket', {
        messageId: record.messageId,
        error: error as Error,
      });
      return 'delete';
    }
    // One read: the record holds the message, its payload and every delivery.
    const snapshot = await runtime.messages.snapshot(ticket.flowId, ticket.messageId);
    const message = snapshot?.message;
    let delivery = snapshot?.deliveries.find((d) => d.connectionId === ticket.connectionId);
    const receipt = receiptOf(record);
    const stored = delivery;
    if (delivery && unrecordedAttemptPossible(delivery, receipt, now())) {
      // An earlier receive may have posted and died before recording it: count that request.
      delivery = { ...delivery, requests: 1, attemptInFlight: 1 };
    }
    const log = delivery?.debugNextAttempt ? runtime.logger.createChild({ logLevel: 'DEBUG' }) : runtime.logger;
    if (!cache.flows.has(ticket.flowId)) cache.flows.set(ticket.flowId, runtime.flows.get(ticket.flowId, true));
    if (!cache.connections.has(ticket.connectionId)) {
      cache.connections.set(ticket.connectionId, runtime.connections.getWithSecrets(ticket.connectionId, true));
    }
    const [flow, cached] = await Promise.all([cache.flows.get(ticket.flowId)!, cache.connections.get(ticket.connectionId)!]);
    // A lane that is not open (SPEC semantics 15): its state decides whether this ticket is
    // delivered or taken in. Read only for such lanes, never on the happy path.
    let lane = cached?.parkedLanes?.includes(ticket.lane) ? await runtime.lanes.get(ticket.connectionId, ticket.lane) : undefined;
    if (delivery && message && laneVerdict(lane, ticket.epoch) === 'park') {
      if (ticket.restarts < delivery.restarts || !needsTicket(delivery.status)) return 'delete';
      if (delivery !== stored && stored) {
        // The request suspected above must stay known after this ticket is gone.
        await runtime.deliveries.apply(stored, lifecycle.internalErrorNoted(stored, iso(), 1, false));
      }
      if (await parkInLane(runtime, { ...delivery, receivedAt: message.receivedAt }, ticket.epoch, lane)) return 'delete';
      lane = await runtime.lanes.get(ticket.connectionId, ticket.lane);
    }
    const connection = cached && (await effectiveHold(cached, deliveryKey(ticket)));
    const chainBlocker =
      message?.chainId && flow?.onFailure === 'suspend-chain'
        ? await runtime.deliveries.chainBlocker(ticket.flowId, message.chainId, ticket.connectionId)
        : undefined;
    const decision = decide({
      now: now(),
      ticketRestarts: ticket.restarts,
      ...(delivery ? { delivery } : {}),
      ...(message ? { message } : {}),
      ...(flow ? { flow: { ...flow, status: flow.status === 'paused' && !flow.operatorPaused ? 'enabled' : flow.status } } : {}),
      ...(connection ? { connection } : {}),
      deliveryKey: deliveryKey(ticket),
      // While an operator releases the chain, the deliveries it re-queued (restarted) pass; newcomers still wait.
      chainBlocked:
        chainBlocker !== undefined &&
        chainBlocker.messageId !== ticket.messageId &&
        !(chainBlocker.releasing && (delivery?.restarts ?? 0) > 0 && delivery?.status === 'queued'),
    });
    log.debug('decision', { ticket, decision });
    const s = { ticket, record, delivery: delivery!, message: message!, flow: flow!, connection: connection!, log } as Snapshot;
    const result = await act(s, decision, receipt, sent);
    if (!message) return result;
    const position = acceptancePosition({ receivedAt: message.receivedAt, flowId: ticket.flowId, messageId: ticket.messageId });
    // The last ticket of a release round is handled: the next round sends what was parked meanwhile.
    if (lane && endsRound(lane, ticket.epoch, position)) await releaseLane(runtime, ticket.connectionId, ticket.lane, lane);
    if (result === 'keep' && (await parkIfOld(s, lane))) {
      // Later tickets of this lane in the batch must see it parked.
      cache.connections.delete(ticket.connectionId);
      return 'delete';
    }
    return result;
  }

  async function act(s: Snapshot, decision: ReturnType<typeof decide>, receipt: ReceiptFacts, sent: SentMark): Promise<RecordResult> {
    const { ticket, record, delivery, message, flow, connection } = s;
    switch (decision.action) {
      case 'ack':
        return 'delete';
      case 'wait':
        await runtime.queue.delay(record.receiptHandle, decision.seconds, receiveOf(record));
        return 'keep';
      case 'hold':
        return hold(s, decision.status, decision.seconds, decision.reason);
      case 'fail':
        if (!flow || !connection) {
          return failUnroutable(ticket, delivery, message, decision.failureType, decision.reason);
        }
        return fail(s, decision.failureType, { message: decision.reason }, []);
      case 'suspend':
        // If the chain was released meanwhile, this suspension is stale: retry and deliver instead.
        await apply(s, lifecycle.suspended(s.delivery, iso(), decision.reason), {
          requireExists: [runtime.deliveries.chainBlockKey(ticket.flowId, message.chainId!, ticket.connectionId)],
        });
        return 'delete';
      case 'attempt':
        return attempt(s, decision.request, decision.possibleDuplicate, receipt, sent);
    }
  }

  /**
   * SPEC semantics 15: a ticket kept in flight (its lane blocked: held, retrying, waiting)
   * that nears the queue's retention would be dropped by the queue. Its lane is parked and
   * the ticket taken in; the tickets behind it follow as they come.
   */
  async function parkIfOld(s: Snapshot, lane: LaneState | undefined): Promise<boolean> {
    if (!s.delivery || !needsTicket(s.delivery.status)) return false;
    if (lane && lane.mode !== 'open' && laneVerdict(lane, s.ticket.epoch) === 'park') return false;
    const age = ageSeconds(ticketSentAt(s.ticket, s.message.receivedAt), now());
    if (age < parkAfterSeconds(runtime.queueRetentionSeconds)) return false;
    const parked = await parkLane(runtime, s.ticket.connectionId, s.ticket.lane, `a held ticket is ${Math.floor(age / 86_400)} days old`);
    if (!parked) return false;
    if (!(await parkInLane(runtime, { ...s.delivery, receivedAt: s.message.receivedAt }, s.ticket.epoch, parked))) return false;
    // With its connection online (a long retry, a paused flow), the lane is queued again at
    // once: fresh tickets, in order, instead of a lane that waits for the sweep.
    await releaseParkedLanes(runtime, s.ticket.connectionId, [s.ticket.lane]);
    return true;
  }

  /** A delivery whose flow or connection is gone: failed as `configuration` without a snapshot of either. */
  async function failUnroutable(
    ticket: DeliveryTicket,
    delivery: LoadedDelivery,
    message: StoredMessage,
    type: FailureType,
    reason: string,
  ) {
    const placeholder = { onFailure: 'continue', flowId: ticket.flowId, internalFailureStreak: 0 } as Flow;
    const connection = { connectionId: ticket.connectionId } as Connection;
    return fail(
      { ticket, record: {} as SQSRecord, delivery, message, flow: placeholder, connection, log: runtime.logger },
      type,
      { message: reason },
      [],
    );
  }

  /**
   * Flags the next try for debug logging and, when a request had left without its
   * outcome recorded, records it in flight so the next one is numbered on and flagged.
   */
  async function noteInternalError(ticket: DeliveryTicket, sent: SentMark, debug: boolean): Promise<void> {
    for (let tries = 0; tries < 3; tries++) {
      const current =
        tries === 0 && sent.delivery ? sent.delivery : await runtime.deliveries.get(ticket.flowId, ticket.messageId, ticket.connectionId);
      if (!current) return;
      const request = sent.delivery && current.attemptInFlight === undefined ? sent.request : undefined;
      try {
        await runtime.deliveries.apply(current, lifecycle.internalErrorNoted(current, iso(), request, debug));
        return;
      } catch (error) {
        if (!(error instanceof StaleDeliveryError)) throw error;
      }
    }
  }

  /**
   * Backout (SPEC semantics 12 and the `internal` failure type): the delivery whose internal
   * error reached the flow's backout threshold leaves its lane as an `internal` failure, with
   * its payload in the failed store, so that after `start` the lane is not stuck behind a
   * poison message; an operator restarts it once the logs explain the error.
   * Returns whether the delivery was backed out (its queue message can then be deleted).
   */
  async function backOut(record: SQSRecord, ticket: DeliveryTicket, error: unknown, streak: number): Promise<boolean> {
    const [delivery, message, flow, connection] = await Promise.all([
      runtime.deliveries.get(ticket.flowId, ticket.messageId, ticket.connectionId),
      runtime.messages.get(ticket.flowId, ticket.messageId, true),
      runtime.flows.get(ticket.flowId, true),
      runtime.connections.getWithSecrets(ticket.connectionId, true),
    ]);
    if (!delivery || !message || !flow || ticket.restarts < delivery.restarts) return false;
    if (['delivered', 'failed', 'discarded', 'suspended'].includes(delivery.status)) return false;
    const name = error instanceof Error ? error.name : 'Error';
    const reason = `the gateway's own error (${name}) ${streak} times in a row; look up correlation id ${message.correlationId} in the logs`;
    const s: Snapshot = {
      ticket,
      record,
      delivery,
      message,
      flow,
      connection: connection ?? ({ connectionId: ticket.connectionId } as Connection),
      log: runtime.logger,
    };
    await fail(s, 'internal', { message: reason }, []);
    return true;
  }

  /** Semantics 12: an internal error rolls the step back, retries with debug logging, and may stop the flow. */
  async function internalError(record: SQSRecord, error: unknown, sent: SentMark): Promise<RecordResult> {
    let ticket: DeliveryTicket | undefined;
    try {
      ticket = parseTicket(record.body);
    } catch {
      /* logged below */
    }
    const conflict = error instanceof StaleDeliveryError;
    runtime.logger.error(conflict ? 'delivery changed concurrently; retrying' : 'internal error while delivering; retrying', {
      ticket,
      receiveCount: record.attributes.ApproximateReceiveCount,
      error: error as Error,
    });
    const receives = Number(record.attributes.ApproximateReceiveCount ?? 1);
    const delay = conflict ? 1 : Math.min(300, (options.internalRetrySeconds ?? 5) * receives);
    try {
      // Recorded before the ticket is given back: a receive that starts the moment it is
      // visible again must see the request that already left, and flag the next one.
      let recorded = true;
      if (ticket && (sent.delivery || !conflict)) {
        recorded = await noteInternalError(ticket, sent, !conflict).then(
          () => true,
          (secondary) => {
            runtime.logger.error('could not record the internal error', { error: secondary as Error });
            return false;
          },
        );
      }
      // A request that left unrecorded keeps its ticket in flight for the whole visibility
      // timeout: the receive after it suspects the request (unrecordedAttemptPossible).
      if (recorded || !sent.delivery) await runtime.queue.delay(record.receiptHandle, delay, receiveOf(record));
      if (ticket && !conflict) {
        const streak = await runtime.flows.recordInternalFailure(ticket.flowId);
        const flow = await runtime.flows.get(ticket.flowId, true);
        if (flow && streak >= flow.backoutThreshold) {
          if (flow.status !== 'stopped') {
            const reason = `${streak} internal failures in a row (backout threshold ${flow.backoutThreshold})`;
            await runtime.flows.setStatus(flow.flowId, 'stopped', reason, now());
            await runtime.flows.log(flow.flowId, { at: iso(), level: 'error', code: 'flow-stopped', detail: reason });
            await runtime.events.publish({ type: 'flow.stopped', at: iso(), detail: { flowId: flow.flowId, reason } });
          }
          if (await backOut(record, ticket, error, streak)) return 'delete';
        }
      }
    } catch (secondary) {
      runtime.logger.error('could not record the internal error', { error: secondary as Error });
    }
    return 'keep';
  }

  return async function handleBatch(event: SQSEvent, context?: { getRemainingTimeInMillis(): number }): Promise<SQSBatchResponse> {
    const cache: BatchCache = { flows: new Map(), connections: new Map() };
    const response = await processLaneBatch(event, {
      process: async (record) => {
        const sent: SentMark = {};
        try {
          return await processRecord(record, cache, sent);
        } catch (error) {
          const result = await internalError(record, error, sent);
          // It may have stopped the flow (backout): the records behind it in this batch must see that.
          cache.flows.clear();
          cache.connections.clear();
          return result;
        }
      },
      giveBack: (record) => runtime.queue.delay(record.receiptHandle, 0),
      outOfTime: () => context !== undefined && context.getRemainingTimeInMillis() < (options.reserveMs ?? 70_000),
      // A change of connection or flow state must be seen by the other lanes of this batch.
      onKept: () => {
        cache.flows.clear();
        cache.connections.clear();
      },
    });
    flushMetrics(runtime);
    return response;
  };
}
