import type { Delivery } from './model';

/**
 * What operators see of a delivery's attempts. `attempts` is every request the target
 * was sent, across restarts: it matches the last `x-sluice-attempt` the target saw.
 * `attemptsSinceRestart` counts those since the last operator restart (all of them if
 * it was never restarted). The retry budget (`Delivery.attempts`) is neither: a
 * restart resets it, and held 401/403 requests do not spend it.
 */
export interface AttemptCounts {
  attempts: number;
  attemptsSinceRestart: number;
}

export function attemptCounts(d: Pick<Delivery, 'attempts' | 'requests' | 'requestsBeforeRestart'>): AttemptCounts {
  // Records written before `requests` existed only know their budgeted attempts.
  const total = d.requests ?? d.attempts;
  return { attempts: total, attemptsSinceRestart: Math.max(0, total - (d.requestsBeforeRestart ?? 0)) };
}
