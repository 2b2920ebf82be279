import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalGateway, type LocalGateway, type LocalGatewayOptions } from '../../local/gateway';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export interface ApiResult {
  status: number;
  headers: Headers;
  body: any;
  raw: Buffer;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Operator token by default; `null` sends no Authorization header. */
  token?: string | null;
}

/** A local gateway on free ports plus small helpers to drive it as a user would, over HTTP. */
export class TestGateway {
  private constructor(readonly gateway: LocalGateway) {}

  static async start(options: LocalGatewayOptions = {}): Promise<TestGateway> {
    return new TestGateway(await startLocalGateway({ port: 0, ...options }));
  }

  get url(): string {
    return this.gateway.url;
  }

  get runtime() {
    return this.gateway.runtime;
  }

  stop(): Promise<void> {
    return this.gateway.stop();
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<ApiResult> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.gateway.operatorToken : options.token;
    if (token !== null && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
      headers.authorization = `Bearer ${token}`;
    }
    let body: NonNullable<Parameters<typeof fetch>[1]>["body"];
    if (options.body instanceof Buffer || typeof options.body === 'string') body = options.body as typeof body;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${this.url}${path}`, { method, headers, body });
    const raw = Buffer.from(await response.arrayBuffer());
    const type = response.headers.get('content-type') ?? '';
    const parsed = type.includes('json') && raw.length > 0 ? JSON.parse(raw.toString('utf8')) : raw.toString('utf8');
    return { status: response.status, headers: response.headers, body: parsed, raw };
  }

  /** Creates a partner and returns its API key. */
  async partner(partnerId: string): Promise<string> {
    const result = await this.request('POST', '/v1/partners', { body: { partnerId, name: `Partner ${partnerId}` } });
    if (result.status !== 201) throw new Error(`partner: ${result.status} ${JSON.stringify(result.body)}`);
    return result.body.apiKey;
  }

  async connection(connectionId: string, settings: Record<string, unknown>): Promise<any> {
    const result = await this.request('PUT', `/v1/connections/${connectionId}`, { body: settings });
    if (result.status !== 200) throw new Error(`connection: ${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  }

  async flow(flowId: string, settings: Record<string, unknown>): Promise<any> {
    const result = await this.request('PUT', `/v1/flows/${flowId}`, { body: settings });
    if (result.status !== 200) throw new Error(`flow: ${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  }

  /** Posts a message as a partner. */
  post(flowId: string, apiKey: string, messageId: string | undefined, body: Buffer | string, headers: Record<string, string> = {}) {
    return this.request('POST', `/v1/flows/${flowId}/messages`, {
      token: apiKey,
      body,
      headers: {
        'content-type': 'text/plain',
        ...(messageId !== undefined ? { 'x-aux-system-msg-id': messageId } : {}),
        ...headers,
      },
    });
  }

  /** Table items, excluding flow-log entries (rejections are logged there by design). */
  async tableItems(): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.runtime.clients.documents.send(
        new ScanCommand({ TableName: this.runtime.config.tableName, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items.filter((item) => !String(item.pk).startsWith('FLOWLOG#'));
  }

  /** Messages in the delivery queue: visible, in flight and delayed. */
  async queueDepth(): Promise<number> {
    const { Attributes = {} } = await this.runtime.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.runtime.config.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
    );
  }

  async bucketKeys(prefix = ''): Promise<string[]> {
    const result = await this.runtime.clients.s3.send(
      new ListObjectsV2Command({ Bucket: this.runtime.config.bucketName, Prefix: prefix }),
    );
    return (result.Contents ?? []).map((object) => object.Key!);
  }
}

/** Collects everything written to stdout and stderr while `fn` runs (structured logs go there). */
export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const originalOut = process.stdout.write.bind(process.stdout);
  const originalErr = process.stderr.write.bind(process.stderr);
  const capture = (chunk: unknown, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  try {
    const result = await fn();
    return { result, output: chunks.join('') };
  } finally {
    process.stdout.write = originalOut;
    process.stderr.write = originalErr;
  }
}
