import type { DeliveryStatus, FlowCounts, MessageStatus } from './model';

/** Which `counts` bucket of its flow a delivery in a given status is counted in. */
export function countBucket(status: DeliveryStatus): keyof FlowCounts | undefined {
  switch (status) {
    case 'queued':
    case 'retrying':
    case 'paused':
      return 'queued';
    case 'delivered':
      return 'delivered';
    case 'failed':
      return 'failed';
    case 'suspended':
      return 'suspended';
    case 'inError':
      return 'inError';
    case 'discarded':
      return undefined;
  }
}

/** The counter deltas of one delivery moving between statuses. */
export function countDeltas(from: DeliveryStatus | undefined, to: DeliveryStatus): Partial<FlowCounts> {
  const deltas: Partial<FlowCounts> = {};
  const fromBucket = from ? countBucket(from) : undefined;
  const toBucket = countBucket(to);
  if (fromBucket === toBucket) return deltas;
  if (fromBucket) deltas[fromBucket] = -1;
  if (toBucket) deltas[toBucket] = 1;
  return deltas;
}

/**
 * A message's status from its deliveries: the least advanced branch wins, so a
 * message reads `delivered` only when every destination has it.
 */
const PRECEDENCE: DeliveryStatus[] = ['inError', 'failed', 'suspended', 'paused', 'retrying', 'queued', 'discarded', 'delivered'];

export function messageStatus(enqueue: 'pending' | 'done', deliveries: { status: DeliveryStatus }[]): MessageStatus {
  if (enqueue === 'pending' || deliveries.length === 0) return 'accepted';
  for (const status of PRECEDENCE) {
    if (deliveries.some((d) => d.status === status)) return status;
  }
  return 'accepted';
}

/**
 * What one message record contributes to its flow's counts: one `accepted`, and one
 * per delivery in its bucket. Counts are derived from records, never written with them.
 */
export function recordCounts(deliveries: { status: DeliveryStatus }[] | undefined): Partial<FlowCounts> {
  if (!deliveries) return {};
  const counts: Partial<FlowCounts> = { accepted: 1 };
  for (const d of deliveries) {
    const bucket = countBucket(d.status);
    if (bucket) counts[bucket] = (counts[bucket] ?? 0) + 1;
  }
  return counts;
}

/** One record's change, as a stream reports it: its deliveries before and after (absent: no record). */
export interface RecordChange {
  flowId: string;
  messageId: string;
  receivedAt: string;
  before?: { status: DeliveryStatus }[];
  after?: { status: DeliveryStatus }[];
}

/** New messages of a batch, per flow in acceptance order: what the flow's message listing adds. */
export function newMessages(changes: RecordChange[]): Map<string, { receivedAt: string; messageId: string }[]> {
  const perFlow = new Map<string, { receivedAt: string; messageId: string }[]>();
  for (const change of changes) {
    if (change.before || !change.after) continue;
    perFlow.set(change.flowId, [...(perFlow.get(change.flowId) ?? []), { receivedAt: change.receivedAt, messageId: change.messageId }]);
  }
  for (const entries of perFlow.values()) {
    entries.sort((a, b) => (a.receivedAt === b.receivedAt ? a.messageId.localeCompare(b.messageId) : a.receivedAt < b.receivedAt ? -1 : 1));
  }
  return perFlow;
}

/** The count deltas of a batch of record changes, summed per flow (zero deltas dropped). */
export function aggregateCounts(changes: RecordChange[]): Map<string, Partial<FlowCounts>> {
  const perFlow = new Map<string, Partial<FlowCounts>>();
  for (const change of changes) {
    const totals = perFlow.get(change.flowId) ?? {};
    const before = recordCounts(change.before);
    const after = recordCounts(change.after);
    for (const bucket of new Set([...Object.keys(before), ...Object.keys(after)]) as Set<keyof FlowCounts>) {
      totals[bucket] = (totals[bucket] ?? 0) + (after[bucket] ?? 0) - (before[bucket] ?? 0);
    }
    perFlow.set(change.flowId, totals);
  }
  for (const [flowId, totals] of perFlow) {
    for (const bucket of Object.keys(totals) as (keyof FlowCounts)[]) if (totals[bucket] === 0) delete totals[bucket];
    if (Object.keys(totals).length === 0) perFlow.delete(flowId);
  }
  return perFlow;
}
