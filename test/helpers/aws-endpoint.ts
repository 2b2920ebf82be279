// A stand-in AWS endpoint for the services no emulator here serves (KMS, EventBridge,
// Scheduler) and for answers an emulator will not give (SQS's 12-hour visibility cap):
// a real HTTP server the adapters' clients send their signed requests to. It records each
// request as it arrived and answers as the test scripts it, so a test asserts the exact
// request on the wire and drives the adapter through real answers and real error shapes.
import { AwsClient } from '../../adapters/aws/protocol/client';
import type { ServiceProtocol } from '../../adapters/aws/protocol/operation';
import { TestTarget, type ReceivedRequest, type Reply } from './target';

export interface RecordedRequest {
  /** From `X-Amz-Target` (JSON protocols), or from the method and path (REST). */
  operation: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** The JSON body, parsed (empty object without one). */
  body: any;
}

export interface ScriptedAnswer {
  status?: number;
  /** An error answer: its type travels in `X-Amzn-ErrorType`, as AWS's JSON services send it. */
  errorType?: string;
  body?: unknown;
}

type Answer = ScriptedAnswer | ((request: RecordedRequest) => ScriptedAnswer);

/** REST operations by method and path (Scheduler's); JSON protocols name themselves in X-Amz-Target. */
function restOperation(method: string, path: string): string {
  if (path.startsWith('/schedules/'))
    return method === 'POST' ? 'CreateSchedule' : method === 'DELETE' ? 'DeleteSchedule' : `${method} ${path}`;
  return `${method} ${path}`;
}

/** A real HTTP server (the tests' scripted target) answering as AWS would, as the test scripts it. */
export class AwsEndpoint {
  readonly requests: RecordedRequest[] = [];
  private readonly answers = new Map<string, Answer[]>();

  private constructor(private readonly server: TestTarget) {}

  static async start(): Promise<AwsEndpoint> {
    let endpoint!: AwsEndpoint;
    const server = await TestTarget.start((request) => endpoint.reply(request));
    endpoint = new AwsEndpoint(server);
    return endpoint;
  }

  get url(): string {
    return this.server.url;
  }

  /** Answers of one operation in order; the last one repeats. Unscripted operations answer `{}`. */
  on(operation: string, ...answers: Answer[]): this {
    this.answers.set(operation, answers);
    return this;
  }

  /** The requests of one operation, in order. */
  of(operation: string): RecordedRequest[] {
    return this.requests.filter((request) => request.operation === operation);
  }

  /** A client of `service` that sends here, with fixed credentials and no retries unless asked. */
  client(service: ServiceProtocol, options: { maxAttempts?: number } = {}): AwsClient {
    return new AwsClient(service, {
      region: 'us-east-1',
      endpoint: this.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: options.maxAttempts ?? 1,
    });
  }

  reset(): void {
    this.requests.length = 0;
    this.answers.clear();
  }

  close(): Promise<void> {
    return this.server.stop();
  }

  /** Records a request as it arrived and answers it as scripted: an error's type in `X-Amzn-ErrorType`, as AWS's JSON services send it. */
  private reply(received: ReceivedRequest): Reply {
    const url = new URL(received.path, 'http://localhost');
    const text = received.body.toString('utf8');
    const target = received.headers['x-amz-target'];
    const recorded: RecordedRequest = {
      operation: typeof target === 'string' ? target.slice(target.indexOf('.') + 1) : restOperation(received.method, url.pathname),
      method: received.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: received.headers,
      body: text ? JSON.parse(text) : {},
    };
    this.requests.push(recorded);
    const answer = this.next(recorded);
    return {
      status: answer.status ?? (answer.errorType ? 400 : 200),
      headers: {
        'content-type': 'application/json',
        'x-amzn-requestid': `req-${this.requests.length}`,
        ...(answer.errorType ? { 'x-amzn-errortype': answer.errorType } : {}),
      },
      body: JSON.stringify(answer.body ?? (answer.errorType ? { message: answer.errorType } : {})),
    };
  }

  private next(request: RecordedRequest): ScriptedAnswer {
    const queue = this.answers.get(request.operation);
    if (!queue || queue.length === 0) return {};
    const answer = queue.length > 1 ? queue.shift()! : queue[0]!;
    return typeof answer === 'function' ? answer(request) : answer;
  }
}
