import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { constructStack } from '@smithy/core/client';
import { DEFAULT_MAX_ATTEMPTS, isServerError, isThrottlingError, isTransientError, StandardRetryStrategy } from '@smithy/core/retry';
import { SignatureV4 } from '@smithy/signature-v4';
import type { MiddlewareStack, RetryErrorType, SdkError } from '@smithy/types';
import { AwsNetworkError } from './errors';
import type { Command, EndpointContext, ServiceProtocol, WireRequest, WireResponse } from './operation';

/** Credentials as SigV4 needs them. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type CredentialSource = () => Promise<AwsCredentials> | AwsCredentials;

/** The execution role's credentials, which Lambda hands every function in its environment. */
export const credentialsFromEnvironment: CredentialSource = () => {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) throw new Error('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set');
  const sessionToken = process.env.AWS_SESSION_TOKEN;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
};

/**
 * The SDK's SigV4 signer for one service: S3 signs the path as it is sent (already escaped
 * once), the other services want it escaped once more.
 */
export function sigV4Signer(options: {
  signingName: string;
  region: string;
  credentials: AwsCredentials | CredentialSource;
  /** Whether the signer adds `x-amz-content-sha256` when the request has none. */
  applyChecksum: boolean;
}): SignatureV4 {
  const { credentials } = options;
  return new SignatureV4({
    service: options.signingName,
    region: options.region,
    credentials: async () => (typeof credentials === 'function' ? credentials() : credentials),
    sha256: NodeSha256 as never,
    uriEscapePath: options.signingName !== 's3',
    applyChecksum: options.applyChecksum,
  });
}

export interface AwsClientOptions {
  region: string;
  /** A custom endpoint (local mode's emulators). @default the service's own host in `region` */
  endpoint?: string;
  /** @default credentialsFromEnvironment */
  credentials?: AwsCredentials | CredentialSource;
  /** Attempts per call, the first included. @default the service's SDK default (DynamoDB 4), else 3 */
  maxAttempts?: number;
  /** Time out one attempt after this long without an answer. @default 30000 */
  attemptTimeoutMs?: number;
}

/** What the middleware works with: the SDK's own argument shape, so SDK-style middleware fits. */
export interface CallArgs {
  input: any;
  request?: WireRequest;
}
export interface CallResult {
  output: any;
  response?: WireResponse;
}
export interface CallContext {
  clientName: string;
  commandName: string;
  __aws_sdk_context: { features: Record<string, string> };
  [key: string]: unknown;
}

type Middleware = (next: (args: CallArgs) => Promise<CallResult>, context: CallContext) => (args: CallArgs) => Promise<CallResult>;
type Step = 'initialize' | 'serialize' | 'build' | 'finalizeRequest' | 'deserialize';
export interface MiddlewareOptions {
  step: Step;
  name: string;
  priority?: 'high' | 'normal' | 'low';
}

/** Extra middleware for one call (the document client's marshalling). */
export type CallMiddleware = [Middleware, MiddlewareOptions][];

/** node:crypto behind the hashing interface SignatureV4 takes (the SDK's Node build does the same). */
export class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: string | Uint8Array) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: string | Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

/** The hex SHA-256 of a payload, which S3 wants in `x-amz-content-sha256`. */
export const payloadSha256 = (body: Uint8Array | string | undefined): string =>
  createHash('sha256')
    .update(body ?? '')
    .digest('hex');

/** How the AWS SDK's retry strategy classifies a failed attempt (its `getRetryErrorInfo`). */
export function retryErrorType(error: unknown): RetryErrorType {
  const e = error as SdkError;
  if (isThrottlingError(e)) return 'THROTTLING';
  if (isTransientError(e)) return 'TRANSIENT';
  if (isServerError(e)) return 'SERVER_ERROR';
  return 'CLIENT_ERROR';
}

/** The invocation's trace header: the runtime's invoke store when it has one, else the environment. */
export function lambdaTraceId(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const store = (globalThis as { awslambda?: { InvokeStore?: { getXRayTraceId?: () => string | undefined } } }).awslambda?.InvokeStore;
  return store?.getXRayTraceId?.() ?? env._X_AMZN_TRACE_ID;
}

/**
 * In Lambda, every call carries the invocation's trace header, as the SDK's recursion
 * detection sends it: X-Ray links the services a message passes through, and Lambda
 * stops a function that keeps invoking itself through a queue. A header already set
 * (a traced call's own subsegment) stays.
 */
const recursionDetection: Middleware = (next) => (args) => {
  const request = args.request;
  const traceId = process.env.AWS_LAMBDA_FUNCTION_NAME ? lambdaTraceId() : undefined;
  if (!request || !traceId || request.headers['x-amzn-trace-id'] !== undefined) return next(args);
  return next({ ...args, request: { ...request, headers: { ...request.headers, 'x-amzn-trace-id': traceId } } });
};

/**
 * One service's client: `send(new XCommand(input))` as with the AWS SDK, and the SDK's
 * middleware stack (initialize, serialize, build, finalizeRequest, deserialize), so the
 * call recorder, the benchmark's meters and the soak's faults attach the way they attach
 * to an SDK client. Signing is the SDK's own SigV4 signer; the network is node:http(s).
 */
export class AwsClient {
  readonly middlewareStack: MiddlewareStack<any, any> = constructStack<any, any>();
  private readonly context: EndpointContext;
  /** The AWS SDK's standard retry strategy: its backoff, its retry quota, its attempt count. */
  private readonly retryStrategy: StandardRetryStrategy;
  private readonly attemptTimeoutMs: number;
  private readonly signer: SignatureV4;

  constructor(
    readonly service: ServiceProtocol,
    options: AwsClientOptions,
  ) {
    this.context = { region: options.region, ...(options.endpoint ? { endpoint: new URL(options.endpoint) } : {}) };
    this.signer = sigV4Signer({
      signingName: service.signingName,
      region: options.region,
      credentials: options.credentials ?? credentialsFromEnvironment,
      applyChecksum: service.signedPayloadHeader === true,
    });
    this.retryStrategy = new StandardRetryStrategy(options.maxAttempts ?? service.defaultMaxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 30_000;
  }

  /** The region and endpoint requests go to (the presigner signs for the same). */
  get endpointContext(): EndpointContext {
    return this.context;
  }

  async send<I, O>(command: Command<I, O>, extra: CallMiddleware = []): Promise<O> {
    const operation = command.operation;
    const stack = this.middlewareStack.clone();
    for (const [middleware, options] of extra) stack.add(middleware as never, options as never);
    stack.add(
      ((next: (args: CallArgs) => Promise<CallResult>) => (args: CallArgs) =>
        next({ ...args, request: operation.serialize(args.input, this.context) })) as never,
      { step: 'serialize', name: 'sluiceSerializer', priority: 'low' } as never,
    );
    stack.add(recursionDetection as never, { step: 'build', name: 'sluiceRecursionDetection', priority: 'low' } as never);
    stack.add(this.retry() as never, { step: 'finalizeRequest', name: 'sluiceRetry', priority: 'high' } as never);
    stack.add(
      ((next: (args: CallArgs) => Promise<CallResult>) => async (args: CallArgs) =>
        next({ ...args, request: await this.sign(args.request!) })) as never,
      { step: 'finalizeRequest', name: 'sluiceSigner' } as never,
    );
    stack.add(
      ((next: (args: CallArgs) => Promise<CallResult>) => async (args: CallArgs) => {
        const { response } = await next(args);
        if (response!.statusCode < 200 || response!.statusCode >= 300) throw operation.service.error(response!);
        return { output: operation.deserialize(response!), response };
      }) as never,
      { step: 'deserialize', name: 'sluiceDeserializer', priority: 'low' } as never,
    );
    const context: CallContext = {
      clientName: `${this.service.label}Client`,
      commandName: `${operation.name}Command`,
      __aws_sdk_context: { features: {} },
    };
    const handler = stack.resolve(((args: CallArgs) => this.transmit(operation.name, args.request!)) as never, context as never);
    const { output } = (await handler({ input: command.input } as never)) as CallResult;
    return output as O;
  }

  /** The SDK's retry loop: a token per call, refreshed (after its backoff) while the strategy allows another attempt. */
  private retry(): Middleware {
    return (next) => async (args) => {
      let token = await this.retryStrategy.acquireInitialRetryToken('');
      for (;;) {
        try {
          const result = await next(args);
          this.retryStrategy.recordSuccess(token);
          return result;
        } catch (error) {
          const metadata = (error as { $metadata?: { attempts?: number } })?.$metadata;
          if (metadata) metadata.attempts = token.getRetryCount() + 1;
          try {
            token = await this.retryStrategy.refreshRetryTokenForRetry(token, {
              errorType: retryErrorType(error),
              error: error as SdkError,
            });
          } catch {
            throw error;
          }
        }
      }
    };
  }

  private async sign(request: WireRequest): Promise<WireRequest> {
    const headers: Record<string, string> = { ...request.headers, host: request.url.host };
    if (this.service.signedPayloadHeader) headers['x-amz-content-sha256'] = payloadSha256(request.body);
    // A name given twice is signed with every value it is sent with.
    const query: Record<string, string | string[]> = {};
    for (const [key, value] of request.url.searchParams) {
      const previous = query[key];
      query[key] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
    }
    const signed = (await this.signer.sign({
      method: request.method,
      protocol: request.url.protocol,
      hostname: request.url.hostname,
      port: request.url.port ? Number(request.url.port) : undefined,
      path: request.url.pathname,
      query,
      headers,
      body: request.body,
    } as never)) as unknown as { headers: Record<string, string> };
    return { ...request, headers: signed.headers };
  }

  private async transmit(operation: string, request: WireRequest): Promise<CallResult> {
    try {
      return { output: undefined, response: await exchange(request, this.attemptTimeoutMs) };
    } catch (cause) {
      throw new AwsNetworkError(operation, cause);
    }
  }
}

/** Connections stay open between calls and invocations, as the SDK's own handler keeps them. */
const AGENTS = { http: new HttpAgent({ keepAlive: true, maxSockets: 50 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 50 }) };

const flatHeaders = (headers: IncomingHttpHeaders): Record<string, string> => {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
};

/**
 * One request and its answer over node:http(s), bytes as they are: no content decoding
 * (fetch would unzip an object stored with `Content-Encoding: gzip`, which S3 serves as stored).
 */
function exchange(request: WireRequest, timeoutMs: number): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const https = request.url.protocol === 'https:';
    const body = request.body ?? '';
    const outgoing = (https ? httpsRequest : httpRequest)(
      request.url,
      {
        method: request.method,
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: https ? AGENTS.https : AGENTS.http,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () =>
          resolve({
            statusCode: incoming.statusCode ?? 0,
            headers: flatHeaders(incoming.headers),
            body: new Uint8Array(Buffer.concat(chunks)),
          }),
        );
      },
    );
    // ETIMEDOUT: the SDK's retry strategy counts a timed-out attempt as transient.
    outgoing.setTimeout(timeoutMs, () =>
      outgoing.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}
