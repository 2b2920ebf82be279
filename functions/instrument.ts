import type { Context } from 'aws-lambda';
import { builtClients } from '../adapters/aws/clients';
import type { XRay } from '../adapters/aws/x-ray';
import type { Runtime } from '../adapters/runtime';

/**
 * The Lambda entry points' wrapper: every log line of an invocation carries its
 * context (request id, function, cold start), and a sampled invocation gets an X-Ray
 * subsegment for the handler with its AWS calls and HTTP requests inside it.
 *
 * Responses are deliberately not recorded in the trace: operator answers carry
 * new partner keys and presigned URLs.
 */
export function instrument<E, R>(
  runtime: Pick<Runtime, 'logger' | 'clients'>,
  xray: XRay,
  handler: (event: E, context: Context) => Promise<R>,
): (event: E, context: Context) => Promise<R> {
  // Only the clients this function wired (reading another throws). The document client
  // sends through DynamoDB's client: one capture covers both.
  for (const client of builtClients(runtime.clients)) xray.captureClient(client);
  xray.captureHttp();

  return async (event, context) => {
    runtime.logger.addContext(context);
    return xray.invocation(() => handler(event, context));
  };
}
