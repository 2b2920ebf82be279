/**
 * The error vocabulary of both APIs (SPEC "Errors"). Every rejection is raised as a
 * `ProblemError` and rendered as RFC 9457 `application/problem+json`.
 *
 * Two codes go beyond the SPEC's list, for answers HTTP itself defines:
 * `method-not-allowed` (405, with `Allow`) and `header-too-large` (431, from the
 * local server before any handler runs).
 */

export const PROBLEM_STATUS = {
  unauthenticated: 401,
  forbidden: 403,
  'unknown-flow': 404,
  'not-found': 404,
  'missing-message-id': 400,
  'invalid-message-id': 400,
  'invalid-header': 400,
  'empty-payload': 400,
  'invalid-body': 400,
  'invalid-query': 400,
  'invalid-path': 400,
  'method-not-allowed': 405,
  'payload-too-large': 413,
  'header-too-large': 431,
  'flow-disabled': 409,
  conflict: 409,
  throttled: 429,
  internal: 500,
} as const;

export type ProblemCode = keyof typeof PROBLEM_STATUS;

const PROBLEM_TITLE: Record<ProblemCode, string> = {
  unauthenticated: 'Authentication required',
  forbidden: 'Not allowed',
  'unknown-flow': 'Unknown flow',
  'not-found': 'Not found',
  'missing-message-id': 'Missing message id',
  'invalid-message-id': 'Invalid message id',
  'invalid-header': 'Invalid header',
  'empty-payload': 'Empty payload',
  'invalid-body': 'Invalid request body',
  'invalid-query': 'Invalid query',
  'invalid-path': 'Invalid path',
  'method-not-allowed': 'Method not allowed',
  'payload-too-large': 'Payload too large',
  'header-too-large': 'Request headers too large',
  'flow-disabled': 'Flow disabled',
  conflict: 'Conflict',
  throttled: 'Too many requests',
  internal: 'Internal error',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  [extension: string]: unknown;
}

/** A client-visible failure with its problem code; anything else is reported as `internal`. */
export class ProblemError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly extensions: Record<string, unknown>;
  /** HTTP headers the answer needs besides the body, e.g. `allow` for `method-not-allowed`. */
  readonly responseHeaders: Record<string, string>;

  constructor(code: ProblemCode, detail: string, extensions: Record<string, unknown> = {}, responseHeaders: Record<string, string> = {}) {
    super(detail);
    this.name = 'ProblemError';
    this.code = code;
    this.status = PROBLEM_STATUS[code];
    this.extensions = extensions;
    this.responseHeaders = responseHeaders;
  }

  toProblem(): Problem {
    return problemOf(this.code, this.message, this.extensions);
  }
}

export function problemOf(code: ProblemCode, detail: string, extensions: Record<string, unknown> = {}): Problem {
  return {
    ...extensions,
    type: `urn:sluice:problem:${code}`,
    title: PROBLEM_TITLE[code],
    status: PROBLEM_STATUS[code],
    detail,
    code,
  };
}
