import type { StoredConnection } from '../adapters/aws/connection-store';
import { LaneMovedError } from '../adapters/aws/lane-store';
import { StaleDeliveryError } from '../adapters/aws/delivery-store';
import type { LoadedDelivery } from '../adapters/aws/message-store';
import * as lifecycle from '../core/lifecycle';
import type { Runtime } from '../adapters/runtime';
import { mapLimit } from '../core/concurrency';
import type { Delivery } from '../core/model';
import {
  acceptancePosition,
  ageSeconds,
  laneVerdict,
  needsTicket,
  parkAfterSeconds,
  STALE_ROUND_SECONDS,
  type LaneState,
  type ParkedEntry,
} from '../core/parking';
import type { DeliveryTicket } from '../core/ports';

/**
 * Lane parking and the reconcile sweep (SPEC delivery semantics 15; the model is in
 * core/parking.ts). A lane is parked when its tickets are at risk: a held ticket nears the
 * queue's retention (the deliverer, or the sweep for held lanes), or tickets are known to be
 * gone (a new queue, a ticket older than the retention). Parked work is queued again, in
 * acceptance order, once the connection is online.
 */

/** What a parked entry needs of a delivery: who it is, its restart generation and its acceptance. */
export type Parkable = Pick<Delivery, 'flowId' | 'messageId' | 'connectionId' | 'lane' | 'restarts'> & { receivedAt: string };

/** Parks a lane under a new epoch; undefined when its connection no longer exists. */
export async function parkLane(runtime: Runtime, connectionId: string, lane: number, reason: string): Promise<LaneState | undefined> {
  const state = await runtime.lanes.park(connectionId, lane, runtime.clock.now());
  if (state) runtime.logger.warn('lane parked', { connectionId, lane, epoch: state.epoch, reason });
  return state;
}

/**
 * Takes a delivery into its lane while the lane takes tickets of `ticketEpoch` in (parked,
 * or releasing a later epoch). Returns false when the lane, read again, delivers them.
 */
export async function parkInLane(runtime: Runtime, d: Parkable, ticketEpoch: number | undefined, known?: LaneState): Promise<boolean> {
  let state = known;
  for (let tries = 0; tries < 5; tries++) {
    state ??= await runtime.lanes.get(d.connectionId, d.lane);
    if (!state || laneVerdict(state, ticketEpoch) === 'deliver') return false;
    try {
      await runtime.lanes.addEntry(state, {
        flowId: d.flowId,
        messageId: d.messageId,
        connectionId: d.connectionId,
        lane: d.lane,
        restarts: d.restarts,
        receivedAt: d.receivedAt,
        parkedAt: runtime.clock.now().toISOString(),
      });
      return true;
    } catch (error) {
      if (!(error instanceof LaneMovedError)) throw error;
      state = undefined;
    }
  }
  throw new LaneMovedError(d.connectionId, d.lane);
}

function ticketsOf(entries: ParkedEntry[], lane: Pick<LaneState, 'epoch' | 'round'>, sentAt: string): DeliveryTicket[] {
  return entries.map((e) => ({
    v: 1,
    flowId: e.flowId,
    messageId: e.messageId,
    connectionId: e.connectionId,
    lane: e.lane,
    restarts: e.restarts,
    epoch: lane.epoch,
    round: lane.round,
    sentAt,
  }));
}

export type ReleaseOutcome =
  /** The lane is open (it was, or nothing was left to send). */
  | 'open'
  /** A round's tickets were sent; the lane opens once the deliverer has handled them and nothing new was parked. */
  | 'sent'
  /** A round is under way; the deliverer ends it. */
  | 'busy';

const RELEASE_TRIES = 10;

/**
 * One release round of a lane: sends its parked deliveries' tickets in acceptance order
 * under the lane's epoch, or opens the lane when nothing is parked. `ending` is the state
 * the deliverer saw when it handled the round's last ticket: the next round then sends only
 * what was parked during that round (what earlier rounds sent is only cleaned up).
 */
export async function releaseLane(runtime: Runtime, connectionId: string, lane: number, ending?: LaneState): Promise<ReleaseOutcome> {
  for (let tries = 0; tries < RELEASE_TRIES; tries++) {
    const state = tries === 0 && ending ? ending : await runtime.lanes.get(connectionId, lane);
    if (!state || state.mode === 'open') return 'open';
    const endingThis = state.mode === 'releasing' && ending !== undefined && state.epoch === ending.epoch && state.round === ending.round;
    if (state.mode === 'releasing' && !endingThis) return 'busy';
    const entries = await runtime.lanes.entries(connectionId, lane);
    const pending = endingThis ? entries.filter((e) => e.round === state.round) : entries;
    // Sent by an earlier round; their removal may not have happened yet (or died).
    if (endingThis) await runtime.lanes.removeEntries(entries.filter((e) => e.round < state.round));
    if (pending.length === 0) {
      if (await runtime.lanes.open(state)) {
        runtime.logger.info('lane open again', { connectionId, lane, epoch: state.epoch });
        return 'open';
      }
      continue;
    }
    const at = runtime.clock.now();
    const round = await runtime.lanes.beginRound(state, acceptancePosition(pending[pending.length - 1]!), at);
    if (!round) continue;
    // Sent before the entries go: a release that dies here leaves them for the sweep to send again.
    await runtime.queue.send(ticketsOf(pending, round, at.toISOString()));
    await runtime.lanes.removeEntries(pending);
    runtime.logger.info('parked lane released', { connectionId, lane, epoch: round.epoch, round: round.round, tickets: pending.length });
    return 'sent';
  }
  return 'busy';
}

/** Releases the parked lanes of a connection (all, or `lanes`) when it is online. Returns the rounds sent. */
export async function releaseParkedLanes(runtime: Runtime, connectionId: string, lanes?: number[]): Promise<number> {
  const connection = await runtime.connections.get(connectionId, true);
  if (connection?.status !== 'online') return 0;
  let sent = 0;
  for (const lane of lanes ?? connection.parkedLanes ?? []) {
    if ((await releaseLane(runtime, connectionId, lane)) === 'sent') sent += 1;
  }
  return sent;
}

/**
 * Queues again, through their lanes, every delivery of `scope` that needs a ticket: the
 * lanes are parked under a new epoch (live tickets still in the queue are taken in as they
 * come, and their entries are the same ones), each delivery gets its entry, in acceptance
 * order, and the lanes of online connections are released. Reads every flow's listing.
 * Returns the deliveries parked.
 */
export async function requeueFromState(
  runtime: Runtime,
  scope: { connectionId?: string; lanes?: number[] } = {},
  reason = 'tickets lost',
): Promise<number> {
  const byLane = new Map<string, (Parkable & { delivery: LoadedDelivery })[]>();
  for (const flow of await runtime.flows.list()) {
    for await (const page of runtime.messages.walk(flow.flowId)) {
      for (const { message, deliveries } of page) {
        for (const d of deliveries) {
          if (!needsTicket(d.status)) continue;
          if (scope.connectionId && d.connectionId !== scope.connectionId) continue;
          if (scope.lanes && !scope.lanes.includes(d.lane)) continue;
          const key = `${d.connectionId}#${d.lane}`;
          const list = byLane.get(key) ?? [];
          list.push({
            flowId: d.flowId,
            messageId: d.messageId,
            connectionId: d.connectionId,
            lane: d.lane,
            restarts: d.restarts,
            receivedAt: message.receivedAt,
            delivery: d,
          });
          byLane.set(key, list);
        }
      }
    }
  }
  let parked = 0;
  const connections = new Set<string>();
  await mapLimit([...byLane.values()], 4, async (list) => {
    list.sort((a, b) => (acceptancePosition(a) < acceptancePosition(b) ? -1 : 1));
    const { connectionId, lane } = list[0]!;
    const state = await parkLane(runtime, connectionId, lane, reason);
    if (!state) return;
    connections.add(connectionId);
    await noteHeadMayHaveBeenTried(runtime, list[0]!.delivery);
    for (const d of list) {
      if (await parkInLane(runtime, d, undefined, state)) parked += 1;
    }
  });
  for (const connectionId of connections) await releaseParkedLanes(runtime, connectionId);
  if (parked > 0)
    runtime.logger.warn('deliveries queued again from the recorded state', { deliveries: parked, lanes: byLane.size, reason });
  return parked;
}

/**
 * A lane's first delivery may have had its ticket received, a request sent and the
 * receive died before recording it: the deliverer would have learnt of that from the
 * ticket's receive count, which went with the ticket. Only a lane's first delivery can be
 * in that state (the tickets behind it were never received), and only while nothing was
 * recorded for it (version 0): its next request is numbered on and flagged possible-duplicate.
 */
async function noteHeadMayHaveBeenTried(runtime: Runtime, head: LoadedDelivery): Promise<void> {
  if ((head.version ?? 0) > 0 || (head.requests ?? 0) > 0 || head.attemptInFlight !== undefined) return;
  await runtime.deliveries.apply(head, lifecycle.internalErrorNoted(head, runtime.clock.now().toISOString(), 1, false)).catch((error) => {
    // Moved on meanwhile: whatever moved it recorded it.
    if (!(error instanceof StaleDeliveryError)) throw error;
  });
}

export interface ReconcileOptions {
  /** The queue is known to be new (local mode's emulator keeps nothing across a restart): every ticket is gone. */
  queueReplaced?: boolean;
}

export interface ReconcileReport {
  /** Deliveries queued again from the recorded state because their tickets were gone. */
  requeued: number;
  /** Lanes parked because a held ticket neared the queue's retention. */
  parked: number;
  /** Release rounds sent for parked lanes whose connection is online. */
  released: number;
  /** Release rounds whose sends were repaired. */
  repaired: number;
}

/** Oldest held ticket per lane of a connection, as an ISO time (the held index says when each was sent). */
async function heldLanes(runtime: Runtime, connection: StoredConnection) {
  const held = await runtime.deliveries.held(connection.connectionId);
  const missing = held.filter((h) => !h.heldTicketAt);
  const received = missing.length > 0 ? await runtime.messages.receivedTimes(missing) : new Map<string, string>();
  const lanes = new Map<number, { oldest: string; receipts: string[] }>();
  for (const h of held) {
    const at = h.heldTicketAt ?? received.get(`${h.flowId}#${h.messageId}`) ?? '';
    if (!at || h.lane === undefined) continue;
    const lane = lanes.get(h.lane) ?? { oldest: at, receipts: [] };
    if (at < lane.oldest) lane.oldest = at;
    if (h.heldReceipt) lane.receipts.push(h.heldReceipt);
    lanes.set(h.lane, lane);
  }
  return lanes;
}

/**
 * The reconcile sweep (the prober runs it hourly; local mode at start):
 * 1. a queue that is not the one the table's tickets went to (deleted and created again,
 *    or the emulator of a restarted local gateway) holds none of them: everything that
 *    needs a ticket is queued again from the recorded state;
 * 2. a held lane whose ticket nears the queue's retention is parked and its held ticket
 *    woken, so the deliverer takes the lane in; one already past it lost its tickets and is
 *    queued again from the recorded state;
 * 3. parked lanes of online connections are released, and a release round whose tickets
 *    never went out (its sender died) is sent again.
 */
export async function reconcileSweep(runtime: Runtime, options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = { requeued: 0, parked: 0, released: 0, repaired: 0 };
  const now = runtime.clock.now();
  const generation = await runtime.queue.generation();
  const known = await runtime.lanes.queueGeneration();
  if (options.queueReplaced || (known !== undefined && known !== generation)) {
    report.requeued += await requeueFromState(
      runtime,
      {},
      options.queueReplaced ? 'the queue was replaced at start' : 'the queue was replaced',
    );
  }
  if (known !== generation) await runtime.lanes.setQueueGeneration(generation, now);

  const parkAfter = parkAfterSeconds(runtime.queueRetentionSeconds);
  for (const connection of await runtime.connections.list()) {
    const parkedAlready = new Set(connection.parkedLanes ?? []);
    const lost: number[] = [];
    for (const [lane, { oldest, receipts }] of await heldLanes(runtime, connection)) {
      if (parkedAlready.has(lane)) continue;
      const age = ageSeconds(oldest, now);
      if (age >= runtime.queueRetentionSeconds) lost.push(lane);
      else if (age >= parkAfter) {
        if (!(await parkLane(runtime, connection.connectionId, lane, `held ticket ${Math.floor(age / 86_400)} days old`))) continue;
        report.parked += 1;
        // Woken, the held ticket comes back at once and the deliverer takes the lane in.
        for (const receipt of receipts) {
          await runtime.queue
            .delay(receipt, 0)
            .catch((error) => runtime.logger.debug('held receipt no longer in flight', { error: error as Error }));
        }
      }
    }
    if (lost.length > 0) {
      report.requeued += await requeueFromState(
        runtime,
        { connectionId: connection.connectionId, lanes: lost },
        'held tickets older than the queue keeps them',
      );
    }
  }

  for (const connection of await runtime.connections.list()) {
    for (const lane of connection.parkedLanes ?? []) {
      const state = await runtime.lanes.get(connection.connectionId, lane);
      if (!state || state.mode === 'open') continue;
      if (state.mode === 'parked') {
        if (connection.status === 'online' && (await releaseLane(runtime, connection.connectionId, lane)) === 'sent') report.released += 1;
      } else if (state.roundAt && ageSeconds(state.roundAt, now) >= STALE_ROUND_SECONDS) {
        report.repaired += await repairRound(runtime, state);
      }
    }
  }
  return report;
}

/**
 * A release round that has not ended for a long while: if its last delivery is finished,
 * the deliverer handled it without ending the round (it died in between), so the round is
 * ended now; if entries it should have removed are still there, its sends may never have
 * happened, so they are sent again (a duplicate ticket is acknowledged as finished).
 */
async function repairRound(runtime: Runtime, state: LaneState): Promise<number> {
  const entries = await runtime.lanes.entries(state.connectionId, state.lane);
  const unsent = entries.filter((e) => e.round < state.round);
  if (unsent.length > 0) {
    const at = runtime.clock.now();
    await runtime.queue.send(ticketsOf(unsent, state, at.toISOString()));
    await runtime.lanes.touchRound(state, at);
    await runtime.lanes.removeEntries(unsent);
    runtime.logger.warn('release round sent again', { connectionId: state.connectionId, lane: state.lane, tickets: unsent.length });
    return 1;
  }
  const [flowId, messageId] = state.through ? state.through.split('#').slice(1) : [];
  const last = flowId && messageId ? await runtime.deliveries.get(flowId, messageId, state.connectionId) : undefined;
  if (!last || !needsTicket(last.status)) {
    await releaseLane(runtime, state.connectionId, state.lane, state);
    return 1;
  }
  return 0;
}
