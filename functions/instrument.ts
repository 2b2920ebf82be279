import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { builtClients } from '../adapters/aws/clients';
import type { AwsClient, CallArgs, CallContext, CallResult } from '../adapters/aws/protocol/client';
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
  for (const client of builtClients(runtime.clients)) traceCalls(tracer, client);

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

/**
 * One X-Ray subsegment per AWS call, named and shaped as the X-Ray SDK names those of an
 * SDK client (the service, namespace `aws`, the operation), with the request id and the
 * error when it failed. Retries run inside it, as in the SDK's own capture.
 */
function traceCalls(tracer: Tracer, client: AwsClient): void {
  client.middlewareStack.add(
    ((next: (args: CallArgs) => Promise<CallResult>, context: CallContext) => async (args: CallArgs) => {
      const parent = tracer.getSegment();
      const subsegment = parent?.addNewSubsegment(client.service.label);
      if (!subsegment) return next(args);
      subsegment.addAttribute('namespace', 'aws');
      const aws: Record<string, unknown> = {
        operation: context.commandName.replace(/Command$/, ''),
        region: client.endpointContext.region,
      };
      try {
        const result = await next(args);
        const requestId = result.response?.headers['x-amzn-requestid'] ?? result.response?.headers['x-amz-request-id'];
        if (requestId) aws.request_id = requestId;
        return result;
      } catch (error) {
        subsegment.addError(error as Error);
        throw error;
      } finally {
        subsegment.addAttribute('aws', aws);
        subsegment.close();
      }
    }) as never,
    { step: 'initialize', name: 'sluiceTracer', priority: 'high' } as never,
  );
}
