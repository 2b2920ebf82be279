import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { builtClients } from '../adapters/aws/clients';
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
  // Only the clients this function wired (reading another throws). The document client
  // shares the base client's middleware stack: one capture covers both.
  for (const client of builtClients(runtime.clients)) tracer.captureAWSv3Client(client as never);

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
