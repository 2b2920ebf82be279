import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { messageChanges } from '../adapters/aws/stream-records';
import type { Runtime } from '../adapters/runtime';
import { aggregateCounts, newMessages } from '../core/message-status';

/**
 * Flow counts and the flows' message listings, off the write path: the table's stream
 * (DynamoDB Streams on AWS, a local stream poller in local mode) feeds record changes
 * here; each flow's counts get one update per batch, and its new messages one listing
 * page. Both trail the records by the stream's lag (under a second on AWS, one poll
 * interval locally). A batch that comes back after a partial failure applies only the
 * flows that failed (remembered per container; a retry that lands in another container
 * may apply a flow's delta twice).
 */
export function createAggregator(runtime: Runtime) {
  /**
   * Flows whose counts a batch already applied, by batch (first and last sequence number):
   * when a batch comes back after a partial failure (the same records, as the mapping and
   * the local poller retry them), only the flows that failed are applied again.
   */
  const applied = new Map<string, Set<string>>();

  return async function aggregate(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
    const changes = messageChanges(event.Records);
    const batch = `${event.Records[0]?.dynamodb?.SequenceNumber}-${event.Records.at(-1)?.dynamodb?.SequenceNumber}`;
    const done = applied.get(batch) ?? new Set<string>();
    const failures: unknown[] = [];
    const fail = (what: string, flowId: string) => (error: unknown) => {
      failures.push(error);
      runtime.logger.error(`could not apply ${what}`, { flowId, error: error as Error });
    };
    await Promise.all([
      ...[...aggregateCounts(changes)]
        .filter(([flowId]) => !done.has(flowId))
        .map(([flowId, deltas]) =>
          runtime.flows
            .addCounts(flowId, deltas)
            .then(() => done.add(flowId))
            .catch(fail('flow counts', flowId)),
        ),
      // A listing page is keyed by its first message: writing it again is harmless.
      ...[...newMessages(changes)].map(([flowId, entries]) =>
        runtime.messages.addListingPage(flowId, entries).catch(fail('the message listing', flowId)),
      ),
    ]);
    if (failures.length > 0) {
      applied.set(batch, done);
      if (applied.size > 100) applied.delete(applied.keys().next().value!);
    } else {
      applied.delete(batch);
    }
    if (failures.length > 0) throw failures[0];
    return { batchItemFailures: [] };
  };
}
