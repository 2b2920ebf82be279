import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { messageChanges, retentionChanges, type RetentionChange } from '../adapters/aws/stream-records';
import type { Runtime } from '../adapters/runtime';
import { mapLimit } from '../core/concurrency';
import { payloadRetention } from '../core/lifecycle';
import { aggregateCounts, newMessages } from '../core/message-status';

/** Object tagging requests in flight at once. */
const TAGGING_CONCURRENCY = 16;

/**
 * A message's payload objects follow its record's expiry (SPEC semantics 16): tagged for
 * the bucket to expire once the record has a TTL, untagged when it loses it (replay). Done
 * here, off the delivery path, and retried with the batch: tagging is idempotent.
 */
async function applyRetention(runtime: Runtime, changes: RetentionChange[]): Promise<void> {
  const work: (() => Promise<unknown>)[] = [];
  for (const change of changes) {
    const effect = payloadRetention(change.before, change.after);
    if (!effect) continue;
    for (const key of change.objects) {
      if (effect.action === 'expire') {
        work.push(() => runtime.objects.expireAfter(key, new Date(effect.at * 1000), new Date(change.receivedAt)));
      } else {
        work.push(() => runtime.objects.keep(key));
      }
    }
  }
  await mapLimit(work, TAGGING_CONCURRENCY, (task) => task());
}

/**
 * Flow counts, the flows' message listings and the expiry of final messages' payloads, off
 * the write path: the table's stream (DynamoDB Streams on AWS, a local stream poller in
 * local mode) feeds record changes here; each flow's counts get one update per batch, its
 * new messages one listing page, and the objects of a message whose expiry changed their
 * retention tag. All trail the records by the stream's lag (under a second on AWS, one poll
 * interval locally). A batch that comes back after a partial failure applies only the
 * flows that failed (remembered per container; a retry that lands in another container
 * may apply a flow's delta twice); retention tags are applied again, which changes nothing.
 *
 * A record that TTL removes leaves the stream as a removal: its counts leave the flow's
 * counts, which describe the messages kept.
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
      applyRetention(runtime, retentionChanges(event.Records)).catch(fail('payload retention', '*')),
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
