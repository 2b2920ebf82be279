/**
 * The error vocabulary of both APIs (SPEC "Errors"). Every rejection is raised as a
 * `ProblemError` and rendered as RFC 9457 `application/problem+json`.
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
  'payload-too-large': 413,
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
  'payload-too-large': 'Payload too large',
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

  constructor(code: ProblemCode, detail: string, extensions: Record<string, unknown> = {}) {
    super(detail);
    this.name = 'ProblemError';
    this.code = code;
    this.status = PROBLEM_STATUS[code];
    this.extensions = extensions;
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
