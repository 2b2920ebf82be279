import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { constructStack } from '@smithy/core/client';
import { SignatureV4 } from '@smithy/signature-v4';
import type { MiddlewareStack } from '@smithy/types';
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

export interface AwsClientOptions {
  region: string;
  /** A custom endpoint (local mode's emulators). @default the service's own host in `region` */
  endpoint?: string;
  /** @default credentialsFromEnvironment */
  credentials?: AwsCredentials | CredentialSource;
  /** Attempts per call, the first included. @default 3 (the AWS SDK's standard mode) */
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

/** Error names the AWS SDK's standard retry mode retries (throttling and transient faults). */
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
const TRANSIENT = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'AwsNetworkError']);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);

/** Whether the AWS SDK's standard retry mode would try a failed call again, and how long it waits at first. */
export function retryBaseDelayMs(error: unknown): number | undefined {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (e?.name && THROTTLING.has(e.name)) return 500;
  if (e?.$retryable) return 100;
  if (e?.name && TRANSIENT.has(e.name)) return 100;
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined && TRANSIENT_STATUS.has(status)) return 100;
  return undefined;
}

/** The AWS SDK's backoff: full jitter over an exponentially growing window, at most 20 s. */
export const backoffMs = (attempt: number, baseMs: number, random = Math.random): number =>
  Math.floor(random() * Math.min(20_000, baseMs * 2 ** (attempt - 1)));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One service's client: `send(new XCommand(input))` as with the AWS SDK, and the SDK's
 * middleware stack (initialize, serialize, build, finalizeRequest, deserialize), so the
 * call recorder, the benchmark's meters and the soak's faults attach the way they attach
 * to an SDK client. Signing is the SDK's own SigV4 signer; the network is `fetch`.
 */
export class AwsClient {
  readonly middlewareStack: MiddlewareStack<any, any> = constructStack<any, any>();
  private readonly context: EndpointContext;
  private readonly credentials: CredentialSource;
  private readonly maxAttempts: number;
  private readonly attemptTimeoutMs: number;
  private signer?: SignatureV4;

  constructor(
    readonly service: ServiceProtocol,
    options: AwsClientOptions,
  ) {
    this.context = { region: options.region, ...(options.endpoint ? { endpoint: new URL(options.endpoint) } : {}) };
    const credentials = options.credentials ?? credentialsFromEnvironment;
    this.credentials = typeof credentials === 'function' ? credentials : () => credentials;
    this.maxAttempts = options.maxAttempts ?? 3;
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

  private retry(): Middleware {
    return (next) => async (args) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await next(args);
        } catch (error) {
          const base = retryBaseDelayMs(error);
          const metadata = (error as { $metadata?: { attempts?: number } })?.$metadata;
          if (metadata) metadata.attempts = attempt;
          if (base === undefined || attempt >= this.maxAttempts) throw error;
          await sleep(backoffMs(attempt, base));
        }
      }
    };
  }

  private async sign(request: WireRequest): Promise<WireRequest> {
    this.signer ??= new SignatureV4({
      service: this.service.signingName,
      region: this.context.region,
      credentials: async () => this.credentials(),
      sha256: NodeSha256 as never,
      // S3 signs the path as it is sent; the other services want it encoded once more.
      uriEscapePath: this.service.signingName !== 's3',
      applyChecksum: this.service.signedPayloadHeader === true,
    });
    const headers: Record<string, string> = { ...request.headers, host: request.url.host };
    if (this.service.signedPayloadHeader) headers['x-amz-content-sha256'] = payloadSha256(request.body);
    const query: Record<string, string> = {};
    for (const [key, value] of request.url.searchParams) query[key] = value;
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
    outgoing.setTimeout(timeoutMs, () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}
