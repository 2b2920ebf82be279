import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { AttemptOutcome } from '../../core/classify';
import { assertAllowedAddress, assertAllowedUrl, UnsafeTargetError, type TargetPolicy } from '../../core/target-url';

/** Longest response body excerpt kept for the failed event. */
export const BODY_EXCERPT_BYTES = 2048;

export interface TargetRequest {
  url: string;
  method: 'POST' | 'GET' | 'HEAD';
  headers: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
}

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

type Resolver = (hostname: string, options: { all: true }, callback: (error: Error | null, addresses: LookupAddress[]) => void) => void;

/**
 * A DNS lookup that refuses addresses the policy forbids: checked at delivery time,
 * not only when the URL is set, with the same classification (`assertAllowedAddress`).
 */
export function guardedLookup(policy: TargetPolicy, resolve: Resolver = dnsLookup as unknown as Resolver) {
  return (hostname: string, options: object, callback: (...args: any[]) => void) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error);
      const list = addresses as LookupAddress[];
      try {
        for (const entry of list) assertAllowedAddress(entry.address, policy);
      } catch (refusal) {
        return callback(refusal);
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

/**
 * One HTTP request to a target, never following redirects, bounded by `timeoutMs`
 * from start to the end of the response. Never throws: every ending is an outcome.
 */
export function sendToTarget(request: TargetRequest, policy: TargetPolicy): Promise<AttemptOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    // Declared before `finish`, which may run before the request starts (a refused URL).
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(outcome);
    };
    let url: URL;
    try {
      // The same rules as when the connection was saved (scheme, IP literal, loopback
      // names); host names are checked again after DNS resolution by `guardedLookup`.
      url = assertAllowedUrl(request.url, policy);
    } catch (error) {
      finish({ kind: 'refused-target', durationMs: 0, message: (error as Error).message });
      return;
    }
    const secure = url.protocol === 'https:';
    const client = secure ? https : http;
    let outgoing: http.ClientRequest;
    try {
      outgoing = client.request(
        url,
        {
          method: request.method,
          headers: { ...request.headers, ...(request.body ? { 'content-length': String(request.body.length) } : {}) },
          agent: secure ? agents.https : agents.http,
          lookup: guardedLookup(policy) as never,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          response.on('data', (chunk: Buffer) => {
            if (kept < BODY_EXCERPT_BYTES) {
              chunks.push(chunk.subarray(0, BODY_EXCERPT_BYTES - kept));
              kept += Math.min(chunk.length, BODY_EXCERPT_BYTES - kept);
            }
          });
          response.on('end', () =>
            finish({
              kind: 'response',
              status: response.statusCode ?? 0,
              durationMs: elapsed(),
              bodyExcerpt: Buffer.concat(chunks).toString('utf8'),
              ...(response.headers.location ? { location: response.headers.location } : {}),
              ...(typeof response.headers['retry-after'] === 'string' ? { retryAfter: response.headers['retry-after'] } : {}),
            }),
          );
          response.on('error', (error) => finish({ kind: 'connection-error', durationMs: elapsed(), message: error.message }));
        },
      );
    } catch (error) {
      // Node refuses to build some requests at once (a header value with a line break, say,
      // from a credential stored before such values were refused): nothing left this host.
      finish({ kind: 'refused-target', durationMs: 0, message: `request could not be built: ${(error as Error).message}` });
      return;
    }
    timer = setTimeout(() => {
      finish({ kind: 'timeout', durationMs: elapsed(), message: `no complete answer within ${request.timeoutMs} ms` });
      outgoing.destroy();
    }, request.timeoutMs);
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof UnsafeTargetError) {
        finish({ kind: 'refused-target', durationMs: elapsed(), message: error.message });
      } else {
        finish({ kind: 'connection-error', durationMs: elapsed(), message: `${error.code ?? error.name}: ${error.message}` });
      }
    });
    outgoing.end(request.body);
  });
}
