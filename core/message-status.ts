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
