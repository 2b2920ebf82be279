import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { messageChanges } from '../adapters/aws/stream-records';
import type { Runtime } from '../adapters/runtime';
import { aggregateCounts, newMessages } from '../core/message-status';

/**
 * Flow counts and the flows' message listings, off the write path: the table's stream (DynamoDB Streams on AWS, a local
 * stream poller in local mode) feeds record changes here, and each flow's counts get one
 * update per batch, and each flow's new messages one listing page per batch. Both trail the records by the stream's lag (under a
 * second on AWS, one poll interval locally). A batch retried after a partial failure
 * may apply a flow's delta twice; the aggregator applies every flow before reporting.
 */
export function createAggregator(runtime: Runtime) {
  return async function aggregate(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
    const changes = messageChanges(event.Records);
    const failures: unknown[] = [];
    const fail = (what: string, flowId: string) => (error: unknown) => {
      failures.push(error);
      runtime.logger.error(`could not apply ${what}`, { flowId, error: error as Error });
    };
    await Promise.all([
      ...[...aggregateCounts(changes)].map(([flowId, deltas]) => runtime.flows.addCounts(flowId, deltas).catch(fail('flow counts', flowId))),
      ...[...newMessages(changes)].map(([flowId, entries]) =>
        runtime.messages.addListingPage(flowId, entries).catch(fail('the message listing', flowId)),
      ),
    ]);
    if (failures.length > 0) throw failures[0];
    return { batchItemFailures: [] };
  };
}
