import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { messageChanges } from '../adapters/aws/stream-records';
import type { Runtime } from '../adapters/runtime';
import { aggregateCounts } from '../core/message-status';

/**
 * Flow counts, off the write path: the table's stream (DynamoDB Streams on AWS, a local
 * stream poller in local mode) feeds record changes here, and each flow's counts get one
 * update per batch. Counts therefore trail the records by the stream's lag (under a
 * second on AWS, one poll interval locally). A batch retried after a partial failure
 * may apply a flow's delta twice; the aggregator applies every flow before reporting.
 */
export function createAggregator(runtime: Runtime) {
  return async function aggregate(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
    const perFlow = aggregateCounts(messageChanges(event.Records));
    const failures: unknown[] = [];
    await Promise.all(
      [...perFlow].map(([flowId, deltas]) =>
        runtime.flows.addCounts(flowId, deltas).catch((error) => {
          failures.push(error);
          runtime.logger.error('could not apply flow counts', { flowId, deltas, error: error as Error });
        }),
      ),
    );
    if (failures.length > 0) throw failures[0];
    return { batchItemFailures: [] };
  };
}
