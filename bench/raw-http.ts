import http from 'node:http';
import { summarize } from './pipeline';

export interface RawHttpResult {
  requests: number;
  concurrency: number;
  payloadBytes: number;
  seconds: number;
  requestsPerSecond: number;
  latency: ReturnType<typeof summarize>;
}

/**
 * The physical limit of the delivery leg on this machine: plain keep-alive HTTP POSTs of the
 * same payload size from this process to the same target, `concurrency` in flight (one per lane).
 */
export async function rawHttpBaseline(
  baseUrl: string,
  options: { requests: number; concurrency: number; payloadBytes: number },
): Promise<RawHttpResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const body = Buffer.alloc(options.payloadBytes, 'x');
  const url = new URL('/raw', baseUrl);
  const latencies: number[] = [];
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const started = performance.now();
      const request = http.request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) } },
        (response) => {
          response.resume();
          response.on('end', () => {
            latencies.push(performance.now() - started);
            resolve();
          });
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  // Warm-up: open the connections.
  await Promise.all(Array.from({ length: options.concurrency }, once));
  latencies.length = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < options.requests) {
        next += 1;
        await once();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    requests: options.requests,
    concurrency: options.concurrency,
    payloadBytes: options.payloadBytes,
    seconds: Math.round(seconds * 1000) / 1000,
    requestsPerSecond: Math.round((options.requests / seconds) * 10) / 10,
    latency: summarize(latencies),
  };
}
