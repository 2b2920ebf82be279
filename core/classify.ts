import type { FailureType } from './model';

/** What one HTTP attempt against a target came back with. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; durationMs: number; bodyExcerpt: string; location?: string; retryAfter?: string }
  | { kind: 'timeout'; durationMs: number; message: string }
  | { kind: 'connection-error'; durationMs: number; message: string }
  /** The target's address is not allowed (resolved to loopback, link-local…); nothing was sent. */
  | { kind: 'refused-target'; durationMs: number; message: string };

export type Verdict =
  | { verdict: 'delivered' }
  /** Worth retrying; `failureType` is what it fails as once retries run out. */
  | { verdict: 'transient'; failureType: 'timeout' | 'unavailable'; connectionLevel: boolean }
  | { verdict: 'permanent'; failureType: FailureType; warning?: string }
  /** 401/403: the connection's credentials, not the message. */
  | { verdict: 'unauthorized' };

export function isSuccess(status: number, successStatuses: number[] | '2xx'): boolean {
  return successStatuses === '2xx' ? status >= 200 && status < 300 : successStatuses.includes(status);
}

/**
 * Failure classification (SPEC delivery semantics 4, 6, 7): success per the
 * connection's statuses; timeouts, connection errors, 408, 429 and 5xx are
 * transient; 401/403 hold the delivery; any other answer fails it as `business`.
 */
export function classify(outcome: AttemptOutcome, successStatuses: number[] | '2xx'): Verdict {
  switch (outcome.kind) {
    case 'timeout':
      return { verdict: 'transient', failureType: 'timeout', connectionLevel: true };
    case 'connection-error':
      return { verdict: 'transient', failureType: 'unavailable', connectionLevel: true };
    case 'refused-target':
      return { verdict: 'permanent', failureType: 'configuration' };
    case 'response': {
      const { status } = outcome;
      if (isSuccess(status, successStatuses)) return { verdict: 'delivered' };
      if (status === 401 || status === 403) return { verdict: 'unauthorized' };
      if (status === 408 || status === 429 || status >= 500) {
        return { verdict: 'transient', failureType: 'unavailable', connectionLevel: false };
      }
      if (status >= 300 && status < 400) {
        return {
          verdict: 'permanent',
          failureType: 'business',
          warning: `target answered ${status} redirect${outcome.location ? ` to ${outcome.location}` : ''}; redirects are not followed, fix the connection URL`,
        };
      }
      return { verdict: 'permanent', failureType: 'business' };
    }
  }
}

export const SUGGESTED_ACTIONS: Record<FailureType, string> = {
  business: 'Download the payload, correct it, upload, restart.',
  timeout: 'Raise the connection timeout or investigate the target; restart.',
  unavailable: "Check the target's status page; restart when it is back.",
  expired: 'Extend the expiry or speed up the target; restart.',
  configuration: 'Wire the flow to a valid connection; restart.',
  internal: 'Look up the correlation id in the logs; restart.',
};
