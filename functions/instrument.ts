import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import type { Runtime } from '../adapters/runtime';

/**
 * The Lambda entry points' wrapper: every log line of an invocation carries its
 * context (request id, function, cold start), and the tracer records a subsegment
 * for the handler with the AWS SDK calls inside it.
 *
 * Responses are deliberately not recorded as trace metadata: operator answers carry
 * new partner keys and presigned URLs.
 */
export function instrument<E, R>(
  runtime: Pick<Runtime, 'logger' | 'clients'>,
  tracer: Tracer,
  handler: (event: E, context: Context) => Promise<R>,
): (event: E, context: Context) => Promise<R> {
  // The document client shares the base client's middleware stack: one capture covers both.
  const { dynamodb, sqs, s3, eventBridge, scheduler, kms } = runtime.clients;
  for (const client of [dynamodb, sqs, s3, eventBridge, scheduler, kms]) tracer.captureAWSv3Client(client);

  return async (event, context) => {
    runtime.logger.addContext(context);
    const segment = tracer.getSegment();
    const subsegment = segment?.addNewSubsegment(`## ${process.env._HANDLER ?? 'handler'}`);
    if (subsegment) tracer.setSegment(subsegment);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
    try {
      return await handler(event, context);
    } catch (error) {
      tracer.addErrorAsMetadata(error as Error);
      throw error;
    } finally {
      if (segment && subsegment) {
        subsegment.close();
        tracer.setSegment(segment);
      }
    }
  };
}
