import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Logger } from '@aws-lambda-powertools/logger';
import { webhookHeaders } from '../adapters/http/webhook-signature';
import { receiveOf } from '../adapters/aws/delivery-queue';
import { deliveryIndexes, deliveryKey, parseFailedEventId, StaleDeliveryError, type DeliveryChange } from '../adapters/aws/delivery-store';
import type { StoredMessage } from '../adapters/aws/message-store';
import { sendToTarget } from '../adapters/http/target-client';
import { flushMetrics, type Runtime } from '../adapters/runtime';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { authHeaders } from '../core/auth-headers';
import { classify, SUGGESTED_ACTIONS, type AttemptOutcome } from '../core/classify';
import { afterAttempt, decide, HOLD_RECHECK_SECONDS } from '../core/delivery-machine';
import { countDeltas } from '../core/message-status';
import type { Connection, Delivery, DeliveryError, DeliveryStatus, FailureType, Flow, ReportEntry } from '../core/model';
import type { DeliveryTicket } from '../core/ports';
import { parseRetryAfter } from '../core/retry';
import { BUCKET } from '../infra/definitions';
import { markConnectionDown } from './connection-health';
import { messagePayload } from './payloads';

/**
 * The delivery worker: one SQS FIFO batch in, a partial batch response out.
 * Lanes (message groups) run in parallel; within a lane, records run in order and
 * the first one that cannot finish keeps itself and everything behind it in flight.
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

type RecordResult = 'delete' | 'keep';

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
    typeof value.restarts !== 'number'
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
  delivery: Delivery;
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

  async function move(s: Snapshot, to: DeliveryStatus, change: DeliveryChange): Promise<Delivery> {
    if (s.delivery.status !== to) runtime.metrics.addMetric(`Deliveries${to[0]!.toUpperCase()}${to.slice(1)}`, MetricUnit.Count, 1);
    return runtime.deliveries.commit(s.delivery, {
      ...change,
      set: { status: to, updatedAt: iso(), ...change.set },
      remove: [...(change.remove ?? []), 'debugNextAttempt'],
      counts: countDeltas(s.delivery.status, to),
      ...(await runtime.deliveries.messageStatusAfter(s.delivery, to, s.message.destinations.length).then((status) => (status ? { messageStatus: status } : {}))),
    });
  }

  async function releaseConnectionHold(s: Snapshot): Promise<void> {
    if (s.connection.heldBy === deliveryKey(s.delivery)) {
      await runtime.deliveries.clearConnectionHold(s.connection.connectionId, deliveryKey(s.delivery));
    }
  }

  async function fail(s: Snapshot, type: FailureType, error: DeliveryError, report: ReportEntry[], set: Record<string, unknown> = {}) {
    const failedAt = iso();
    const payload = await loadPayload(s.message, s.delivery);
    const contentType = contentTypeOf(s.message, s.delivery);
    const key = `${BUCKET.prefixes.failed}${s.delivery.flowId}/${s.delivery.messageId}/${s.delivery.connectionId}`;
    await runtime.payloads.put(key, payload, contentType);
    const chained = s.flow.onFailure === 'suspend-chain' && s.message.chainId;
    await move(s, 'failed', {
      set: {
        ...set,
        failureType: type,
        failedAt,
        lastError: error,
        failedPayload: {
          key,
          bytes: payload.length,
          contentType,
          sha256: s.delivery.payloadOverride?.sha256 ?? s.message.sha256,
          corrected: false,
        },
        ...deliveryIndexes.failed(s.delivery, failedAt, type),
      },
      remove: ['attemptInFlight', 'nextAttemptAt', ...deliveryIndexes.heldAttributes],
      report: [...report, { at: failedAt, event: 'failed', level: 'error', detail: `failed as ${type}: ${error.message}`, connectionId: s.delivery.connectionId }],
      ...(chained
        ? { alsoPut: [runtime.deliveries.chainBlockItem(s.delivery.flowId, s.message.chainId!, s.delivery.connectionId, s.delivery.messageId)] }
        : {}),
    });
    await releaseConnectionHold(s);
    s.log.warn('delivery failed', { flowId: s.delivery.flowId, messageId: s.delivery.messageId, connectionId: s.delivery.connectionId, type });
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
  async function hold(s: Snapshot, status: 'paused' | 'inError', seconds: number, reason: string, change: DeliveryChange = { set: {} }) {
    const receipt = s.record.receiptHandle;
    if (s.delivery.status !== status || s.delivery.heldReceipt !== receipt || change.report) {
      await move(s, status, {
        ...change,
        set: { ...change.set, heldReceipt: receipt, ...deliveryIndexes.held(s.delivery) },
        ...(s.delivery.status !== status || change.report
          ? {
              report: change.report ?? [
                { at: iso(), event: status === 'paused' ? 'paused' : 'held', level: 'warning', detail: reason, connectionId: s.delivery.connectionId },
              ],
            }
          : {}),
      });
    }
    await runtime.queue.delay(receipt, seconds, receiveOf(s.record));
    return 'keep' as const;
  }

  async function attempt(s: Snapshot, request: number, possibleDuplicate: boolean): Promise<RecordResult> {
    const { connection, message } = s;
    // Written before the request leaves: if we die after it, the next attempt knows.
    s.delivery = await runtime.deliveries.commit(s.delivery, {
      set: { attemptInFlight: request, requests: request, possibleDuplicate, updatedAt: iso() },
      remove: deliveryIndexes.heldAttributes,
    });
    const payload = await loadPayload(message, s.delivery);
    const startedAt = now();
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
    const common = { attempts, lastError: error };

    switch (transition.to) {
      case 'delivered':
        await move(s, 'delivered', {
          set: { attempts, deliveredAt: at },
          remove: ['attemptInFlight', 'nextAttemptAt', 'lastError', 'failureType'],
          report: [...report, { at, event: 'delivered', level: 'info', detail: `delivered to ${connection.connectionId}`, connectionId: connection.connectionId }],
        });
        await releaseConnectionHold(s);
        if (s.flow.internalFailureStreak > 0) await runtime.flows.resetInternalFailures(s.flow.flowId);
        return 'delete';
      case 'failed':
        return fail(s, transition.failureType, error, report, { attempts });
      case 'unauthorized': {
        const reason = `target answered HTTP ${error.httpStatus} to a delivery`;
        const result = await hold(s, 'paused', HOLD_RECHECK_SECONDS, reason, {
          set: {},
          remove: ['attemptInFlight'],
          report: [...report, { at, event: 'paused', level: 'warning', detail: `held: ${reason}; waiting for reauthorize`, connectionId: connection.connectionId }],
        });
        await markConnectionDown(runtime, connection.connectionId, 'unauthorized', reason);
        return result;
      }
      case 'inError':
        return hold(s, 'inError', HOLD_RECHECK_SECONDS, 'transient failure with autoRetry off', {
          set: { ...common, failureType: transition.failureType, failedAt: at, ...deliveryIndexes.failed(s.delivery, at, transition.failureType) },
          remove: ['attemptInFlight', 'nextAttemptAt'],
          report: [...report, { at, event: 'held', level: 'error', detail: 'in error until an operator recovers it (autoRetry is off)', connectionId: connection.connectionId }],
        });
      case 'retrying': {
        if (wentOffline) {
          const reason = `${connection.offlineAfter} consecutive connection errors or timeouts; last: ${error.message}`;
          const result = await hold(s, 'paused', HOLD_RECHECK_SECONDS, reason, {
            set: common,
            remove: ['attemptInFlight', 'nextAttemptAt'],
            report: [...report, { at, event: 'paused', level: 'warning', detail: `held: connection offline (${reason})`, connectionId: connection.connectionId }],
          });
          await releaseConnectionHold(s);
          await markConnectionDown(runtime, connection.connectionId, 'offline', reason);
          return result;
        }
        const nextAttemptAt = new Date(Date.parse(at) + transition.delaySeconds * 1000).toISOString();
        // The hold goes up before the delivery reads `retrying`: another lane that sees the head
        // retrying must also see the hold (a hold whose head never got there is cleared as stale).
        if (connection.onError === 'hold-all') {
          await runtime.deliveries.updateConnectionHold(connection.connectionId, deliveryKey(s.delivery), nextAttemptAt);
        }
        await move(s, 'retrying', {
          set: { ...common, nextAttemptAt },
          remove: ['attemptInFlight'],
          report: [
            ...report,
            {
              at,
              event: 'retrying',
              level: 'warning',
              detail: `retry ${attempts} of ${connection.retry.count} in ${transition.delaySeconds} s`,
              connectionId: connection.connectionId,
            },
          ],
        });
        await runtime.queue.delay(s.record.receiptHandle, transition.delaySeconds, receiveOf(s.record));
        return 'keep';
      }
    }
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

  async function processRecord(record: SQSRecord, cache: BatchCache): Promise<RecordResult> {
    let ticket: DeliveryTicket;
    try {
      ticket = parseTicket(record.body);
    } catch (error) {
      runtime.logger.error('dropping a queue message that is not a delivery ticket', { messageId: record.messageId, error: error as Error });
      return 'delete';
    }
    const [delivery, message] = await Promise.all([
      runtime.deliveries.get(ticket.flowId, ticket.messageId, ticket.connectionId),
      runtime.messages.get(ticket.flowId, ticket.messageId, true),
    ]);
    const log = delivery?.debugNextAttempt ? runtime.logger.createChild({ logLevel: 'DEBUG' }) : runtime.logger;
    if (!cache.flows.has(ticket.flowId)) cache.flows.set(ticket.flowId, runtime.flows.get(ticket.flowId, true));
    if (!cache.connections.has(ticket.connectionId)) {
      cache.connections.set(ticket.connectionId, runtime.connections.getWithSecrets(ticket.connectionId, true));
    }
    const [flow, cached] = await Promise.all([cache.flows.get(ticket.flowId)!, cache.connections.get(ticket.connectionId)!]);
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
    if (decision.action === 'ack') return 'delete';
    const s = { ticket, record, delivery: delivery!, message: message!, flow: flow!, connection: connection!, log } as Snapshot;
    switch (decision.action) {
      case 'wait':
        await runtime.queue.delay(record.receiptHandle, decision.seconds, receiveOf(record));
        return 'keep';
      case 'hold':
        return hold(s, decision.status, decision.seconds, decision.reason);
      case 'fail':
        if (!flow || !connection) {
          return failUnroutable(ticket, delivery!, message!, decision.failureType, decision.reason);
        }
        return fail(s, decision.failureType, { message: decision.reason }, []);
      case 'suspend':
        await move(s, 'suspended', {
          set: deliveryIndexes.suspended(s.delivery, message!.receivedAt),
          remove: ['attemptInFlight', ...deliveryIndexes.heldAttributes],
          report: [{ at: iso(), event: 'suspended', level: 'warning', detail: decision.reason, connectionId: ticket.connectionId }],
          // If the chain was released meanwhile, this suspension is stale: retry and deliver instead.
          requireExists: [runtime.deliveries.chainBlockKey(ticket.flowId, message!.chainId!, ticket.connectionId)],
        });
        return 'delete';
      case 'attempt':
        return attempt(s, decision.request, decision.possibleDuplicate);
    }
  }

  /** A delivery whose flow or connection is gone: failed as `configuration` without a snapshot of either. */
  async function failUnroutable(ticket: DeliveryTicket, delivery: Delivery, message: StoredMessage, type: FailureType, reason: string) {
    const placeholder = { onFailure: 'continue', flowId: ticket.flowId, internalFailureStreak: 0 } as Flow;
    const connection = { connectionId: ticket.connectionId } as Connection;
    return fail({ ticket, record: {} as SQSRecord, delivery, message, flow: placeholder, connection, log: runtime.logger }, type, { message: reason }, []);
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
  async function internalError(record: SQSRecord, error: unknown): Promise<RecordResult> {
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
      await runtime.queue.delay(record.receiptHandle, delay, receiveOf(record));
      if (ticket && !conflict) {
        await runtime.deliveries.markDebug(ticket.flowId, ticket.messageId, ticket.connectionId);
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
    const outOfTime = () => context !== undefined && context.getRemainingTimeInMillis() < (options.reserveMs ?? 70_000);
    const lanes = new Map<string, SQSRecord[]>();
    for (const record of event.Records) {
      const lane = record.attributes.MessageGroupId ?? record.messageId;
      lanes.set(lane, [...(lanes.get(lane) ?? []), record]);
    }
    const cache: BatchCache = { flows: new Map(), connections: new Map() };
    const failures: string[] = [];
    await Promise.all(
      [...lanes.values()].map(async (records) => {
        for (const [index, record] of records.entries()) {
          let result: RecordResult;
          if (outOfTime()) {
            await runtime.queue.delay(record.receiptHandle, 0).catch(() => undefined);
            result = 'keep';
          } else {
            try {
              result = await processRecord(record, cache);
            } catch (error) {
              result = await internalError(record, error);
            }
          }
          if (result === 'delete') continue;
          // Order: nothing behind a kept record in its lane may be attempted now.
          failures.push(record.messageId);
          for (const follower of records.slice(index + 1)) {
            failures.push(follower.messageId);
            await runtime.queue.delay(follower.receiptHandle, 0).catch(() => undefined);
          }
          // A change of connection or flow state must be seen by the other lanes of this batch.
          cache.flows.clear();
          cache.connections.clear();
          return;
        }
      }),
    );
    flushMetrics(runtime);
    return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
