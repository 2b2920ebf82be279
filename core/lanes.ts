import { createHash } from 'node:crypto';

/**
 * Picks a delivery lane for a message: a hash of its chain id (so a chain stays in
 * one lane) or of its GUID, modulo the connection's lane count.
 */
export function laneFor(input: { chainId?: string; messageId: string }, threads: number): number {
  if (threads <= 1) return 0;
  const digest = createHash('sha256')
    .update(input.chainId ?? input.messageId)
    .digest();
  return digest.readUInt32BE(0) % threads;
}

/** The SQS FIFO message group of a lane: order holds within it. */
export function laneGroupId(connectionId: string, lane: number): string {
  return `${connectionId}#${lane}`;
}

export function parseLaneGroupId(groupId: string): { connectionId: string; lane: number } {
  const at = groupId.lastIndexOf('#');
  return { connectionId: groupId.slice(0, at), lane: Number(groupId.slice(at + 1)) };
}

/**
 * Deterministic queue deduplication id: the same delivery enqueued twice within the
 * SQS deduplication window is stored once; each restart is a new enqueue, and so is each
 * round of a parked lane's release (`epoch` and `round`, left out while 0 so first
 * tickets keep their id).
 */
export function deliveryDeduplicationId(
  flowId: string,
  messageId: string,
  connectionId: string,
  restarts: number,
  epoch = 0,
  round = 0,
): string {
  const parts = [flowId, messageId, connectionId, String(restarts), ...(epoch > 0 ? [`e${epoch}r${round}`] : [])];
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}
