import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from './emulator-wait';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** ms since the target started, when the request arrived. */
  at: number;
  /** ms since the target started, when the answer was sent. */
  answeredAt?: number;
  status?: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer after this many ms. */
  delayMs?: number;
  /** Never answer (the client times out). */
  hang?: boolean;
  /** Drop the connection without answering. */
  reset?: boolean;
}

export type Behaviour = (request: ReceivedRequest, index: number) => Reply | Promise<Reply>;

/** A real HTTP delivery target on a free loopback port, scripted by the test. */
export class TestTarget {
  readonly received: ReceivedRequest[] = [];
  private readonly started = performance.now();
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    public behaviour: Behaviour,
  ) {}

  static async start(behaviour: Behaviour = () => ({ status: 200 })): Promise<TestTarget> {
    let target!: TestTarget;
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const request: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: performance.now() - target.started,
      };
      const index = target.received.push(request) - 1;
      const reply = await target.behaviour(request, index);
      if (reply.reset) {
        req.socket.destroy();
        return;
      }
      if (reply.hang) {
        target.hanging.add(res);
        return;
      }
      if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      request.status = reply.status;
      request.answeredAt = performance.now() - target.started;
      res.writeHead(reply.status, reply.headers);
      res.end(reply.body ?? '');
    });
    server.keepAliveTimeout = 1000;
    target = new TestTarget(server, behaviour);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    target.port = (server.address() as AddressInfo).port;
    return target;
  }

  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Takes the target down: the port refuses connections until `up()`. */
  async down(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Brings the target back on the same port. */
  async up(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Deliveries (POSTs) answered with a success status, in the order they were answered; probes excluded. */
  delivered(): ReceivedRequest[] {
    return this.received
      .filter((r) => r.method === 'POST' && r.status !== undefined && r.status >= 200 && r.status < 300)
      .sort((a, b) => a.answeredAt! - b.answeredAt!);
  }

  probes(): ReceivedRequest[] {
    return this.received.filter((r) => r.method !== 'POST');
  }

  byId(messageId: string): ReceivedRequest[] {
    return this.received.filter((r) => r.headers['x-aux-system-msg-id'] === messageId);
  }

  async waitForDelivered(count: number, timeoutMs = 60_000): Promise<ReceivedRequest[]> {
    await waitFor(() => this.delivered().length >= count, { timeoutMs, intervalMs: 20, what: `${count} deliveries` });
    return this.delivered();
  }

  async waitForRequests(count: number, timeoutMs = 60_000): Promise<ReceivedRequest[]> {
    await waitFor(() => this.received.length >= count, { timeoutMs, intervalMs: 20, what: `${count} requests` });
    return this.received;
  }

  async stop(): Promise<void> {
    if (this.server.listening) await this.down();
  }
}

/** The targets one test file starts, stopped together in its `after` hook. */
export class TargetPool {
  private readonly targets: TestTarget[] = [];

  async start(behaviour?: Behaviour): Promise<TestTarget> {
    const target = await TestTarget.start(behaviour);
    this.targets.push(target);
    return target;
  }

  async stopAll(): Promise<void> {
    for (const target of this.targets) await target.stop();
  }
}
