import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { ENVIRONMENT } from './definitions';
import { lambdaTraceId, retryErrorType, type AwsClient, type CallArgs, type CallContext, type CallResult } from './protocol/client';

/**
 * X-Ray subsegments for a Lambda invocation, sent straight to the X-Ray daemon.
 *
 * Lambda's active tracing records each invocation without any SDK; this adds what the
 * Powertools tracer used to: a subsegment around the handler (ColdStart and Service
 * annotations, the error that failed it), one per AWS call (service, operation, request id,
 * status, retries; the trace header passed on) and one per outgoing HTTP request (a partner's
 * endpoint). The X-Ray SDK that the tracer wraps is about 117 KiB of CommonJS loaded at every
 * cold start; the documents it sends are a few lines of JSON over UDP.
 */

/** The daemon's wire format: this header line, then one segment document per datagram. */
const PROTOCOL_HEADER = '{"format":"json","version":1}\n';

interface Subsegment {
  id: string;
  name: string;
  trace_id: string;
  parent_id: string;
  type: 'subsegment';
  start_time: number;
  end_time?: number;
  namespace?: 'aws' | 'remote';
  annotations?: Record<string, string | number | boolean>;
  aws?: Record<string, unknown>;
  http?: { request?: { method?: string; url?: string }; response?: { status?: number; content_length?: number } };
  error?: boolean;
  fault?: boolean;
  throttle?: boolean;
  cause?: { exceptions: { id: string; message: string; type: string; remote?: boolean }[] };
}

export interface XRayOptions {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Where documents go. @default UDP to AWS_XRAY_DAEMON_ADDRESS */
  send?: (document: string) => void;
}

const newId = () => randomBytes(8).toString('hex');
const seconds = () => Date.now() / 1000;

/** `udp:host:port`, `tcp:… udp:…` or `host:port`, as Lambda sets AWS_XRAY_DAEMON_ADDRESS. */
export function daemonAddress(value: string | undefined): { host: string; port: number } | undefined {
  if (!value) return undefined;
  const udp = value.split(/\s+/).find((part) => part.startsWith('udp:')) ?? value.split(/\s+/).find((part) => !part.startsWith('tcp:'));
  const match = udp && /^(?:udp:)?(.+):(\d+)$/.exec(udp);
  return match ? { host: match[1]!, port: Number(match[2]) } : undefined;
}

/** Root and Parent of a sampled trace header; undefined when the invocation is not sampled. */
export function sampledTrace(header: string | undefined): { root: string; parent: string } | undefined {
  if (!header) return undefined;
  const fields = new Map(header.split(';').map((pair) => pair.split('=', 2) as [string, string]));
  const root = fields.get('Root');
  const parent = fields.get('Parent');
  return fields.get('Sampled') === '1' && root && parent ? { root, parent } : undefined;
}

function errorCause(error: unknown, remote = false): Subsegment['cause'] {
  const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
  return { exceptions: [{ id: newId(), message, type: name, ...(remote ? { remote } : {}) }] };
}

/** error for 4xx, throttle too for 429 (or a throttling error), fault for 5xx. */
function flagStatus(subsegment: Subsegment, status: number | undefined, throttled = false): void {
  if (status === 429 || throttled) subsegment.throttle = true;
  if (status !== undefined && status >= 500) subsegment.fault = true;
  else if ((status !== undefined && status >= 400) || throttled) subsegment.error = true;
}

export class XRay {
  private readonly env: NodeJS.ProcessEnv;
  private readonly sendDocument: (document: string) => void;
  private readonly current = new AsyncLocalStorage<Subsegment>();
  private socket?: Socket;
  private coldStart = true;
  private httpCaptured = false;

  constructor(
    private readonly serviceName: string,
    options: XRayOptions = {},
  ) {
    this.env = options.env ?? process.env;
    this.sendDocument = options.send ?? ((document) => this.sendUdp(document));
  }

  /** Off when the stack turns tracing off or no daemon is there. */
  get enabled(): boolean {
    return this.env[ENVIRONMENT.tracing] !== 'false' && daemonAddress(this.env.AWS_XRAY_DAEMON_ADDRESS) !== undefined;
  }

  /** The invocation's trace, when it is sampled. */
  private trace(): { root: string; parent: string } | undefined {
    return sampledTrace(lambdaTraceId(this.env));
  }

  private sendUdp(document: string): void {
    const address = daemonAddress(this.env.AWS_XRAY_DAEMON_ADDRESS);
    if (!address) return;
    if (!this.socket) {
      this.socket = createSocket('udp4');
      // The socket must not keep a finished process (a test, a script) alive.
      this.socket.unref();
      // Tracing must never fail an invocation: an error of the socket itself is dropped too.
      this.socket.on('error', () => undefined);
    }
    const message = Buffer.from(PROTOCOL_HEADER + document);
    // A datagram that cannot be sent is dropped, as the X-Ray SDK drops it.
    this.socket.send(message, address.port, address.host, () => undefined);
  }

  private close(subsegment: Subsegment): void {
    subsegment.end_time = seconds();
    this.sendDocument(JSON.stringify(subsegment));
  }

  private open(name: string, fields: Partial<Subsegment> = {}): Subsegment | undefined {
    const parent = this.current.getStore();
    if (parent)
      return { id: newId(), name, trace_id: parent.trace_id, parent_id: parent.id, type: 'subsegment', start_time: seconds(), ...fields };
    const trace = this.enabled ? this.trace() : undefined;
    if (!trace) return undefined;
    return { id: newId(), name, trace_id: trace.root, parent_id: trace.parent, type: 'subsegment', start_time: seconds(), ...fields };
  }

  /** Runs one invocation inside a subsegment named after the handler, annotated and closed with its outcome. */
  async invocation<R>(run: () => Promise<R>): Promise<R> {
    const coldStart = this.coldStart;
    this.coldStart = false;
    const subsegment = this.open(`## ${this.env._HANDLER ?? 'handler'}`, {
      annotations: { ColdStart: coldStart, Service: this.serviceName },
    });
    if (!subsegment) return run();
    try {
      return await this.current.run(subsegment, run);
    } catch (error) {
      subsegment.fault = true;
      subsegment.cause = errorCause(error);
      throw error;
    } finally {
      this.close(subsegment);
    }
  }

  /**
   * A subsegment per call of this client (the document client's calls go through DynamoDB's),
   * named by the service as the X-Ray SDK names it, and the trace header on its requests.
   */
  captureClient(client: AwsClient): void {
    const attempts = new WeakMap<Subsegment, number>();
    client.middlewareStack.add(
      ((next: (args: CallArgs) => Promise<CallResult>, context: CallContext) => async (args: CallArgs) => {
        const subsegment = this.current.getStore() && this.open(client.service.label, { namespace: 'aws' });
        if (!subsegment) return next(args);
        // By the build step the serializer has laid out the request. SigV4 leaves this header unsigned.
        const traced: CallArgs = args.request
          ? {
              ...args,
              request: {
                ...args.request,
                headers: { ...args.request.headers, 'x-amzn-trace-id': `Root=${subsegment.trace_id};Parent=${subsegment.id};Sampled=1` },
              },
            }
          : args;
        const record = (requestId: string | undefined, status: number | undefined) => {
          subsegment.aws = {
            operation: context.commandName.replace(/Command$/, ''),
            region: client.endpointContext.region,
            ...(requestId ? { request_id: requestId } : {}),
            retries: Math.max(0, (attempts.get(subsegment) ?? 1) - 1),
          };
          if (status !== undefined) subsegment.http = { response: { status } };
        };
        try {
          // Inside the call's subsegment: the HTTP requests of its attempts are part of it, not remote ones of their own.
          const result = await this.current.run(subsegment, () => next(traced));
          const headers = result.response?.headers;
          record(headers?.['x-amzn-requestid'] ?? headers?.['x-amz-request-id'], result.response?.statusCode);
          return result;
        } catch (error) {
          const metadata = (error as { $metadata?: { httpStatusCode?: number; requestId?: string } }).$metadata;
          record(metadata?.requestId, metadata?.httpStatusCode);
          // Throttled as the client's retry strategy classifies it (DynamoDB's throughput errors included).
          flagStatus(subsegment, metadata?.httpStatusCode, retryErrorType(error) === 'THROTTLING');
          if (!subsegment.error && !subsegment.fault) subsegment.fault = true;
          subsegment.cause = errorCause(error, metadata?.httpStatusCode !== undefined);
          throw error;
        } finally {
          this.close(subsegment);
        }
      }) as never,
      { step: 'build', name: 'sluiceXRay' } as never,
    );
    // Each attempt passes here, after the retry middleware (finalizeRequest, high): the call's retries, failed or not.
    client.middlewareStack.add(
      ((next: (args: CallArgs) => Promise<CallResult>) => (args: CallArgs) => {
        const subsegment = this.current.getStore();
        if (subsegment?.namespace === 'aws') attempts.set(subsegment, (attempts.get(subsegment) ?? 0) + 1);
        return next(args);
      }) as never,
      { step: 'finalizeRequest', name: 'sluiceXRayAttempts', priority: 'low' } as never,
    );
  }

  /**
   * A subsegment per outgoing HTTP request made inside an invocation (a partner's endpoint), from
   * Node's HTTP diagnostics channels. The URL is recorded without its query, which may carry a secret.
   */
  captureHttp(): void {
    if (this.httpCaptured) return;
    this.httpCaptured = true;
    const open = new WeakMap<ClientRequest, Subsegment>();
    subscribe('http.client.request.start', (message) => {
      const { request } = message as { request: ClientRequest };
      // Only inside an invocation, and not the requests an AWS call's subsegment already covers.
      const parent = this.current.getStore();
      if (!parent || parent.namespace) return;
      const host = request.host ?? 'remote';
      const subsegment = this.open(host, {
        namespace: 'remote',
        http: {
          request: {
            method: request.method,
            url: `${request.protocol}//${request.getHeader('host') ?? host}${request.path.split('?')[0]}`,
          },
        },
      });
      if (subsegment) open.set(request, subsegment);
    });
    subscribe('http.client.response.finish', (message) => {
      const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
      const subsegment = open.get(request);
      if (!subsegment) return;
      open.delete(request);
      subsegment.http = { ...subsegment.http, response: { status: response.statusCode } };
      flagStatus(subsegment, response.statusCode);
      this.close(subsegment);
    });
    subscribe('http.client.request.error', (message) => {
      const { request, error } = message as { request: ClientRequest; error: Error };
      const subsegment = open.get(request);
      if (!subsegment) return;
      open.delete(request);
      subsegment.fault = true;
      subsegment.cause = errorCause(error, true);
      this.close(subsegment);
    });
  }
}
