import type { SignatureV4 } from '@smithy/signature-v4';
import { EXIT, type ExitCode } from './exit-codes';

/** Any failure the CLI reports; `exitCode` is what the process exits with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad local input: a missing file, invalid auth file, missing credentials. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}

/** The endpoint (or a presigned URL) could not be reached. */
export class NetworkError extends CliError {
  constructor(
    message: string,
    readonly url: string,
  ) {
    super(message, EXIT.network);
    this.name = 'NetworkError';
  }
}

/** An RFC 9457 problem answered by the API (or shaped like one from a non-problem error body). */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail: string;
  code: string;
  [extension: string]: unknown;
}

/** The API answered 4xx/5xx. */
export class ApiError extends CliError {
  constructor(
    readonly problem: Problem,
    exitCode: ExitCode = EXIT.apiError,
    /** What the CLI prints; the problem's own detail when not given. */
    message: string = problem.detail,
  ) {
    super(message, exitCode);
    this.name = 'ApiError';
  }

  get status(): number {
    return this.problem.status;
  }

  get code(): string {
    return this.problem.code;
  }
}

/** The API answered 404. */
export class NotFoundError extends ApiError {
  constructor(problem: Problem) {
    super(problem, EXIT.notFound);
    this.name = 'NotFoundError';
  }
}

export interface ClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:3000` or `https://abc.execute-api.eu-west-1.amazonaws.com/prod`. */
  endpoint: string;
  /** Local mode's operator bearer token. */
  token?: string;
  /** SigV4-sign requests (IAM), also the default when no token is given. */
  aws?: boolean;
  region?: string;
  /** Per request. @default 30000 */
  timeoutMs?: number;
}

export interface ApiResponse<T = any> {
  status: number;
  /** Parsed JSON, or undefined for an empty body. */
  body: T;
  /** The body exactly as received. */
  text: string;
}

type Query = Record<string, string | number | undefined>;

const EXCERPT = 300;

/** Reads a non-2xx answer as a problem, whatever produced it (the API, API Gateway, a proxy, S3). */
export function problemFrom(status: number, text: string, contentType: string): Problem {
  let parsed: unknown;
  if (/json/i.test(contentType) || /^\s*[{[]/.test(text)) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const body = parsed as Record<string, unknown>;
    if (typeof body.detail === 'string' || typeof body.code === 'string') {
      return {
        ...body,
        status: typeof body.status === 'number' ? body.status : status,
        detail: typeof body.detail === 'string' ? body.detail : String(body.title ?? `HTTP ${status}`),
        code: typeof body.code === 'string' ? body.code : `http-${status}`,
      };
    }
    // API Gateway's own answers: { "message": "..." } or { "Message": "..." }.
    const message = body.message ?? body.Message;
    if (typeof message === 'string') return { status, detail: message, code: `http-${status}` };
  }
  // S3 XML errors: <Code>…</Code><Message>…</Message>.
  const xmlCode = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const xmlMessage = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  if (xmlCode || xmlMessage) return { status, detail: xmlMessage ?? xmlCode!, code: xmlCode ?? `http-${status}` };
  const excerpt = text.trim().slice(0, EXCERPT);
  return { status, detail: excerpt ? `HTTP ${status}: ${excerpt}` : `HTTP ${status}`, code: `http-${status}` };
}

/** The API refused the credentials (401, or 403 to a signed request): says which ones and what to check. */
export class CredentialsRefusedError extends ApiError {
  constructor(problem: Problem, message: string) {
    super(problem, EXIT.apiError, message);
    this.name = 'CredentialsRefusedError';
  }
}

/** Why the API refused the request's credentials, for an operator who may have typed the wrong ones. */
export function credentialsRefused(problem: Problem, endpoint: string, sigV4: boolean): CredentialsRefusedError | undefined {
  if (problem.status !== 401 && problem.status !== 403) return undefined;
  const said = `${endpoint} answered: ${problem.detail.replace(/\.$/, '')}`;
  if (sigV4) {
    return new CredentialsRefusedError(
      problem,
      `Your AWS credentials were refused (${said}). Check that this identity may call execute-api:Invoke on the operator API, that --endpoint includes the stage, and that --region is the API's region.`,
    );
  }
  return new CredentialsRefusedError(
    problem,
    `The operator token was refused (${said}). Use the token \`npm start\` printed, in SLUICE_OPERATOR_TOKEN or --token.`,
  );
}

export function errorForStatus(problem: Problem): ApiError {
  return problem.status === 404 ? new NotFoundError(problem) : new ApiError(problem);
}

function describeNetworkError(error: unknown, url: string): NetworkError {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return new NetworkError(`Timed out waiting for ${url}`, url);
  const cause = err.cause?.code ?? err.cause?.message ?? err.message;
  return new NetworkError(`Cannot reach ${new URL(url).origin}: ${cause}`, url);
}

/** fetch, with network failures turned into NetworkError. */
export async function send(url: string, init: RequestInit, timeoutMs = 30_000): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw describeNetworkError(error, url);
  }
}

async function readText(response: Response, url: string): Promise<string> {
  try {
    return await response.text();
  } catch (error) {
    throw describeNetworkError(error, url);
  }
}

/** Region from `--region`, the environment, or an execute-api host name. */
export function regionFor(endpoint: URL, explicit?: string): string | undefined {
  return (
    explicit ??
    process.env.AWS_REGION ??
    process.env.AWS_DEFAULT_REGION ??
    /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(endpoint.hostname)?.[1]
  );
}

/** The operator API over HTTP: bearer token locally, SigV4 (IAM) on AWS. */
export class SluiceClient {
  private readonly base: URL;
  private signer?: SignatureV4;

  constructor(private readonly options: ClientOptions) {
    try {
      this.base = new URL(options.endpoint);
    } catch {
      throw new UsageError(`--endpoint is not a URL: ${options.endpoint}`);
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new UsageError(`--endpoint must be http(s): ${options.endpoint}`);
    }
  }

  get useSigV4(): boolean {
    return this.options.aws === true || !this.options.token;
  }

  get endpoint(): string {
    return this.base.toString();
  }

  private url(path: string, query: Query = {}): URL {
    const url = new URL(this.base.toString());
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== '') url.searchParams.set(name, String(value));
    }
    return url;
  }

  /** The AWS libraries load only when signing: a token-authenticated command starts faster. */
  private async getSigner(): Promise<SignatureV4> {
    if (this.signer) return this.signer;
    const region = regionFor(this.base, this.options.region);
    if (!region) {
      throw new UsageError('No AWS region: pass --region, set AWS_REGION, or use an execute-api endpoint (or pass --token in local mode).');
    }
    const [{ Sha256 }, { fromNodeProviderChain }, { SignatureV4 }] = await Promise.all([
      import('@aws-crypto/sha256-js'),
      import('@aws-sdk/credential-providers'),
      import('@smithy/signature-v4'),
    ]);
    const provider = fromNodeProviderChain();
    this.signer = new SignatureV4({
      service: 'execute-api',
      region,
      sha256: Sha256,
      credentials: async () => {
        try {
          return await provider();
        } catch (error) {
          throw new UsageError(
            `No AWS credentials for SigV4 (${(error as Error).message}). Configure AWS credentials, or pass --token / SLUICE_OPERATOR_TOKEN in local mode.`,
          );
        }
      },
    });
    return this.signer;
  }

  private async headersFor(method: string, url: URL, body: string | undefined): Promise<Record<string, string>> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (!this.useSigV4) {
      headers.authorization = `Bearer ${this.options.token}`;
      return headers;
    }
    const query: Record<string, string> = {};
    url.searchParams.forEach((value, name) => (query[name] = value));
    const signed = await (await this.getSigner()).sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { ...headers, host: url.host },
      ...(body !== undefined ? { body } : {}),
    });
    const { host: _host, ...rest } = signed.headers;
    return rest;
  }

  async request<T = any>(method: string, path: string, options: { body?: unknown; query?: Query } = {}): Promise<ApiResponse<T>> {
    const url = this.url(path, options.query);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers = await this.headersFor(method, url, body);
    const response = await send(url.toString(), { method, headers, ...(body !== undefined ? { body } : {}) }, this.options.timeoutMs);
    const text = await readText(response, url.toString());
    if (!response.ok) {
      const problem = problemFrom(response.status, text, response.headers.get('content-type') ?? '');
      throw credentialsRefused(problem, this.base.origin, this.useSigV4) ?? errorForStatus(problem);
    }
    let parsed: any;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ApiError({
          status: response.status,
          code: 'invalid-response',
          detail: `Expected JSON from ${method} ${path}, got: ${text.slice(0, EXCERPT)}`,
        });
      }
    }
    return { status: response.status, body: parsed as T, text };
  }

  /**
   * Sends a request as given and returns the answer whatever its status, signed like
   * every other call (`sluice console` relays the browser's calls through this).
   */
  async forward(
    method: string,
    path: string,
    options: { query?: URLSearchParams; body?: string } = {},
  ): Promise<ApiResponse<undefined> & { contentType: string }> {
    const url = this.url(path);
    options.query?.forEach((value, name) => url.searchParams.append(name, value));
    const headers = await this.headersFor(method, url, options.body);
    const response = await send(
      url.toString(),
      { method, headers, ...(options.body !== undefined ? { body: options.body } : {}) },
      this.options.timeoutMs,
    );
    return {
      status: response.status,
      body: undefined,
      text: await readText(response, url.toString()),
      contentType: response.headers.get('content-type') ?? '',
    };
  }

  get<T = any>(path: string, query?: Query) {
    return this.request<T>('GET', path, query ? { query } : {});
  }

  post<T = any>(path: string, body?: unknown) {
    return this.request<T>('POST', path, body === undefined ? {} : { body });
  }

  put<T = any>(path: string, body: unknown) {
    return this.request<T>('PUT', path, { body });
  }
}

/** Path segment encoding for ids typed by the operator. */
export const seg = (value: string) => encodeURIComponent(value);
