import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { startLocalGateway, type LocalGateway, type LocalGatewayOptions } from '../../local/gateway';
import { sharedEmulators } from '../../local/emulators';
import type { LocalResourceNames } from '../../local/provision';
import { DEAD_LETTER_QUEUE, DELIVERY_QUEUE } from '../../adapters/aws/definitions';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// Powertools loggers write through the global console in dev mode, so tests can capture
// them there instead of patching process.stdout, which the test runner itself reports on.
process.env.POWERTOOLS_DEV = 'true';

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

  /**
   * Starts a gateway on a free port. Under the test runner it uses the run's shared emulators
   * with a table, queues and bucket of its own; run alone it starts (and stops) its own.
   */
  static async start(options: LocalGatewayOptions = {}): Promise<TestGateway> {
    const emulators = sharedEmulators();
    const shared = emulators ? { emulators, resourceNames: uniqueResourceNames() } : {};
    return new TestGateway(await startLocalGateway({ port: 0, ...shared, ...options }));
  }

  get url(): string {
    return this.gateway.url;
  }

  /** The AWS SDK's clients on the gateway's emulators, to look at what the handlers stored. */
  get sdk() {
    return this.gateway.sdk;
  }

  get runtime() {
    return this.gateway.runtime;
  }

  stop(): Promise<void> {
    return this.gateway.stop();
  }

  /** Waits until the stream aggregator has applied every write made so far (flow counts are derived from the table's stream). */
  async countsSettled(): Promise<void> {
    await this.gateway.streamPoller?.drain();
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<ApiResult> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.gateway.operatorToken : options.token;
    if (token !== null && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
      headers.authorization = `Bearer ${token}`;
    }
    let body: NonNullable<Parameters<typeof fetch>[1]>['body'];
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
      const page = await this.gateway.sdk.documents.send(
        new ScanCommand({ TableName: this.runtime.config.tableName, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items.filter((item) => !String(item.pk).startsWith('FLOWLOG#'));
  }

  /** Messages in the delivery queue: visible, in flight and delayed. */
  async queueDepth(): Promise<number> {
    const { Attributes = {} } = await this.gateway.sdk.sqs.send(
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
    const result = await this.gateway.sdk.s3.send(new ListObjectsV2Command({ Bucket: this.runtime.config.bucketName, Prefix: prefix }));
    return (result.Contents ?? []).map((object) => object.Key!);
  }
}

/** Resource names no other gateway of the run uses, so test files sharing emulators stay isolated. */
export function uniqueResourceNames(): LocalResourceNames {
  const prefix = `t${randomBytes(6).toString('hex')}`;
  return {
    tableName: `${prefix}-sluice`,
    queueName: `${prefix}-${DELIVERY_QUEUE.nameSuffix}`,
    deadLetterQueueName: `${prefix}-${DEAD_LETTER_QUEUE.nameSuffix}`,
    bucketName: `${prefix}-payloads`,
  };
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

/** Collects every structured log line (and anything else sent to the console) while `fn` runs; `fn` sees them as they come. */
export async function captureOutput<T>(fn: (live: string[]) => Promise<T>): Promise<{ result: T; output: string; entries: string[] }> {
  const lines: string[] = [];
  const originals = CONSOLE_METHODS.map((method) => [method, console[method]] as const);
  for (const method of CONSOLE_METHODS) {
    console[method] = (...args: unknown[]) => {
      lines.push(args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' '));
    };
  }
  try {
    const result = await fn(lines);
    return { result, output: lines.join('\n'), entries: lines };
  } finally {
    for (const [method, original] of originals) console[method] = original;
  }
}

/** The structured (JSON) log entries among captured console output, in the order they were written. */
export function logEntries(entries: string[]): Record<string, any>[] {
  return entries.flatMap((entry) => {
    try {
      const parsed = JSON.parse(entry);
      return parsed && typeof parsed === 'object' ? [parsed] : [];
    } catch {
      return [];
    }
  });
}
