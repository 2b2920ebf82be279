import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Runtime } from '../../adapters/runtime';
import { createDeliverer, type DelivererOptions } from '../../services/deliverer';

/** The SQS FIFO event source handler: partial batch responses keep failed lanes in flight. */
export function createDelivererHandler(
  runtime: Runtime,
  options: DelivererOptions = {},
): (event: SQSEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<SQSBatchResponse> {
  return createDeliverer(runtime, options);
}
