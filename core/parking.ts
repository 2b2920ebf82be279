import type { DeliveryStatus } from './model';

/**
 * Lane parking (SPEC delivery semantics 15): a delivery may be held longer than the queue
 * keeps its ticket, and a queue may lose its tickets altogether. A lane whose tickets are at
 * risk is *parked*: its work moves from the queue into the state store (one entry per
 * delivery, in acceptance order), and when the hold ends the lane is *released*: the entries'
 * tickets are sent again, in order, under a new epoch.
 *
 * Order rests on two facts. Tickets of one lane leave the queue in the order they were sent,
 * so a parked lane takes them in (and acknowledges them) in that order. And while a lane is
 * not open, only tickets of its current epoch (the ones its release sent) are delivered;
 * every older ticket, a newcomer's included, is parked behind them. A release runs in rounds:
 * each round sends what is parked and names its last delivery (`through`); when the deliverer
 * has handled that one, the next round sends what was parked meanwhile, and the lane opens
 * once a round ends with nothing new parked.
 */

export type LaneMode = 'open' | 'parked' | 'releasing';

/** A lane's parking state (absent: open, epoch 0). */
export interface LaneState {
  connectionId: string;
  lane: number;
  mode: LaneMode;
  /** Bumped by every park: tickets sent before carry a smaller one. */
  epoch: number;
  /** Bumped by every park and every release round; entries record the round they were parked in. */
  round: number;
  /** Deliveries parked so far (monotonic): a round ends cleanly only if none came meanwhile. */
  parks: number;
  /** `parks` when the current round was sent. */
  sentParks?: number;
  /** Releasing: the acceptance position of the last delivery this round sent. */
  through?: string;
  /** Releasing: when this round was sent. */
  roundAt?: string;
  /** Parked: since when. */
  since?: string;
}

/** A delivery whose ticket its lane took in, waiting for the lane's release. */
export interface ParkedEntry {
  flowId: string;
  messageId: string;
  connectionId: string;
  lane: number;
  restarts: number;
  receivedAt: string;
  /** The lane's round when it was parked. */
  round: number;
  parkedAt: string;
}

/** How long before the queue would drop a held ticket its lane is parked. @default 2 days */
export const PARK_MARGIN_SECONDS = 2 * 86_400;

/** Ticket age at which its lane is parked, for a queue keeping messages `retentionSeconds`. */
export function parkAfterSeconds(retentionSeconds: number, marginSeconds = PARK_MARGIN_SECONDS): number {
  return Math.max(0, retentionSeconds - marginSeconds);
}

/**
 * How long a round of a release may go without its last delivery being handled before the
 * sweep sends that round's tickets again (a release that died between its record and its
 * sends). Duplicate tickets are harmless: the deliverer acknowledges finished deliveries.
 */
export const STALE_ROUND_SECONDS = 3600;

/** Statuses whose delivery has (or needs) a ticket in the queue. */
const TICKETED: ReadonlySet<DeliveryStatus> = new Set<DeliveryStatus>(['queued', 'retrying', 'paused', 'inError']);

export function needsTicket(status: DeliveryStatus): boolean {
  return TICKETED.has(status);
}

/** When a ticket was sent: its own stamp, else its message's acceptance (tickets sent by ingest carry none). */
export function ticketSentAt(ticket: { sentAt?: string }, receivedAt: string): string {
  return ticket.sentAt ?? receivedAt;
}

export function ageSeconds(sentAt: string, now: Date): number {
  const at = Date.parse(sentAt);
  return Number.isFinite(at) ? Math.max(0, (now.getTime() - at) / 1000) : Number.POSITIVE_INFINITY;
}

/** A lane's order key: acceptance time, then flow and GUID (neither may contain `#`). */
export function acceptancePosition(d: { receivedAt: string; flowId: string; messageId: string }): string {
  return `${d.receivedAt}#${d.flowId}#${d.messageId}`;
}

/** What the deliverer does with a ticket of a lane in `lane`'s state. */
export function laneVerdict(lane: Pick<LaneState, 'mode' | 'epoch'> | undefined, ticketEpoch: number | undefined): 'park' | 'deliver' {
  if (!lane || lane.mode === 'open') return 'deliver';
  if (lane.mode === 'parked') return 'park';
  return (ticketEpoch ?? 0) >= lane.epoch ? 'deliver' : 'park';
}

/** True when the ticket of `position` (sent in `ticketEpoch`) is the last of the lane's current release round. */
export function endsRound(lane: LaneState | undefined, ticketEpoch: number | undefined, position: string): boolean {
  return lane?.mode === 'releasing' && (ticketEpoch ?? 0) === lane.epoch && lane.through === position;
}
