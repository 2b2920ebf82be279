import type { RetryPolicy } from './model';

/**
 * Seconds to wait before retry number `retry` (1-based) of a delivery.
 * Fixed: the interval. Exponential: interval × 2^(retry-1), capped by
 * `maxIntervalSeconds`, with "equal jitter" (half fixed, half random) so lanes
 * that failed together do not retry together. A `Retry-After` from the target is
 * honoured when it asks for longer.
 */
export function retryDelaySeconds(
  policy: RetryPolicy,
  retry: number,
  retryAfterSeconds?: number,
  random: () => number = Math.random,
): number {
  let delay = policy.intervalSeconds;
  if (policy.backoff === 'exponential') {
    const capped = Math.min(policy.maxIntervalSeconds, policy.intervalSeconds * 2 ** Math.max(0, retry - 1));
    delay = capped / 2 + random() * (capped / 2);
  }
  if (retryAfterSeconds !== undefined && retryAfterSeconds > delay) delay = retryAfterSeconds;
  return Math.ceil(delay);
}

/** Parses `Retry-After` (delta seconds or HTTP date) into seconds from `now`. */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now.getTime()) / 1000));
}
