import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { Runtime } from '../../adapters/runtime';
import { createAggregator } from '../../services/aggregator';

/** The table-stream handler: derives flow counts from message-record changes. */
export function createAggregatorHandler(runtime: Runtime): (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse> {
  return createAggregator(runtime);
}
