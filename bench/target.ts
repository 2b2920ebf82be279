import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import type { ObservedRequest } from './invariants';

/** What a target does with one delivery request. */
export type TargetReply =
  | { kind: 'answer'; status: number; delayMs?: number; headers?: Record<string, string> }
  /** Never answers: the deliverer times out. */
  | { kind: 'hang' }
  /** Drops the connection without answering. */
  | { kind: 'reset' };

export type TargetBehaviour = (request: { connectionId: string; messageId: string; index: number }) => TargetReply;

const OK: TargetReply = { kind: 'answer', status: 200 };

/**
 * A real HTTP target on a loopback port for the bench and the soak. Requests to
 * `/c/<connectionId>` are recorded (message id, possible-duplicate flag, arrival and
 * answer times on `performance.now()`); `/raw` requests are only counted (baseline).
 * It can go down (the server closes: connections are refused) and come back on the same port.
 */
export class BenchTarget {
  readonly requests: ObservedRequest[] = [];
  rawRequests = 0;
  behaviour: TargetBehaviour = () => OK;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  private port = 0;
  private listening = false;

  private constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(): Promise<BenchTarget> {
    const target = new BenchTarget();
    await target.listen(0);
    return target;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  urlFor(connectionId: string): string {
    return `${this.url}/c/${connectionId}`;
  }

  get isUp(): boolean {
    return this.listening;
  }

  /** Down: stops listening and cuts every open connection, so new connections are refused. */
  async down(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Back: listens again on the same port. */
  async up(): Promise<void> {
    if (this.listening) return;
    await this.listen(this.port);
  }

  async stop(): Promise<void> {
    await this.down();
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.removeListener('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        this.listening = true;
        resolve();
      });
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // The body is read and dropped: only its arrival matters here.
    req.on('data', () => undefined);
    req.on('end', () => {
      const path = req.url ?? '/';
      if (path === '/raw') {
        this.rawRequests += 1;
        res.writeHead(200, { 'content-length': '0' });
        res.end();
        return;
      }
      const connectionId = path.startsWith('/c/') ? path.slice(3) : path;
      const messageId = String(req.headers['x-aux-system-msg-id'] ?? '');
      const observed: ObservedRequest = {
        connectionId,
        messageId,
        possibleDuplicate: req.headers['x-sluice-possible-duplicate'] === 'true',
        at: performance.now(),
      };
      const index = this.requests.push(observed) - 1;
      const reply = req.method === 'POST' ? this.behaviour({ connectionId, messageId, index }) : OK;
      if (req.method !== 'POST') {
        // Probes are not deliveries: answer, do not record as a request for a message.
        this.requests.pop();
      }
      if (reply.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (reply.kind === 'hang') {
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      }
      const answer = () => {
        if (res.destroyed) return;
        observed.status = reply.status;
        observed.answeredAt = performance.now();
        res.writeHead(reply.status, { 'content-length': '0', ...reply.headers });
        res.end();
      };
      if (reply.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    });
  }
}
