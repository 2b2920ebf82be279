import { PROBLEM_STATUS, problemOf, type ProblemCode } from '../core/problems';
import { ref, type JsonSchema } from './json-schema';

/**
 * How the OpenAPI document describes problems: one example per code, and error responses
 * shared as components, one per API, status and set of codes (e.g. `operator-404-not-found`).
 */

/** The API(s) an operation is served by. */
export type Api = 'partner' | 'operator' | 'both';

const EXAMPLE: Record<ProblemCode, { detail: string; extensions?: Record<string, unknown> }> = {
  unauthenticated: { detail: 'An API key is required: Authorization: Bearer <apiKey> or x-api-key.' },
  forbidden: { detail: 'Partner acme may not post to flow orders.' },
  'unknown-flow': { detail: 'Flow orders does not exist.' },
  'not-found': { detail: 'Message order-1 does not exist in flow orders.' },
  'missing-message-id': { detail: 'The x-aux-system-msg-id header (or Idempotency-Key) is required.' },
  'invalid-message-id': { detail: 'The message id must be 1-128 characters from A-Z a-z 0-9 . _ : -' },
  'invalid-header': { detail: 'x-expires-at must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z.' },
  'empty-payload': { detail: 'The message body is empty.' },
  'invalid-body': {
    detail: 'Invalid body: timeoutMs: Too big: expected number to be <=60000',
    extensions: { errors: [{ field: 'timeoutMs', message: 'Too big: expected number to be <=60000' }] },
  },
  'invalid-query': { detail: 'Invalid query: cursor: not a cursor of this listing (keep the same filters when paging).' },
  'invalid-path': { detail: 'The path segment "%E0%A4%A" is not valid percent-encoded UTF-8.' },
  'method-not-allowed': { detail: 'PATCH is not supported on /v1/flows/orders; use DELETE, GET, PUT.' },
  'payload-too-large': { detail: 'The payload is 5000000 bytes; flow orders accepts at most 4194304.' },
  'header-too-large': { detail: 'The request line and headers exceed 65536 bytes.' },
  'flow-disabled': { detail: 'Flow orders is disabled and accepts no messages.' },
  conflict: { detail: 'Failed event orders~order-1~erp is delivered; only a failed or in-error delivery can be discarded.' },
  throttled: { detail: 'Too many requests; retry later.' },
  internal: {
    detail: 'Internal error; quote request id 3f2b9c0e-6d1a-4c55-9d0e-1b7a2f4c8e11 to the operator.',
    extensions: { requestId: '3f2b9c0e-6d1a-4c55-9d0e-1b7a2f4c8e11' },
  },
};

const STATUS_NOTE: Partial<Record<number, (api: Api) => string>> = {
  401: (api) =>
    api === 'partner'
      ? 'Missing or unknown API key.'
      : api === 'operator'
        ? 'Local mode: missing or wrong operator bearer token.'
        : 'Missing or unknown API key (partner API); missing or wrong operator token (local operator API).',
  403: (api) =>
    api === 'partner'
      ? "The key's partner does not own this flow."
      : api === 'operator'
        ? 'On AWS: the SigV4 caller is not allowed (answered by API Gateway as `{ message }`).'
        : "Partner API: the key's partner does not own this flow. Operator API on AWS: IAM denial (answered by API Gateway as `{ message }`).",
  429: () => 'Throttled; on AWS the stage limit is answered by API Gateway as `{ message }`. Retry later.',
};

/**
 * Error responses are shared components, one per API, status and set of codes, e.g.
 * `operator-404-not-found`; operations reference them.
/**
 * The error responses of an operation, by status, each a `$ref` to a shared component
 * (added to `shared` the first time it is used).
 */
export function errorResponses(api: Api, codes: ProblemCode[], shared: Record<string, JsonSchema>): Record<string, JsonSchema> {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of new Set(codes)) {
    const status = PROBLEM_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, JsonSchema> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const note = STATUS_NOTE[status]?.(api);
    const content: Record<string, JsonSchema> = {
      'application/problem+json': {
        schema: { allOf: [ref('Problem'), { properties: { code: { enum: codes } } }] },
        examples: Object.fromEntries(codes.map((code) => [code, { $ref: `#/components/examples/${code}` }])),
      },
    };
    const fromGateway = status === 429 || (status === 403 && api !== 'partner');
    if (fromGateway) content['application/json'] = { schema: ref('GatewayMessage') };
    const name = `${api}-${status}-${codes.join('_')}`;
    shared[name] ??= {
      description: `${codes.map((code) => `\`${code}\``).join(', ')}${note ? `. ${note}` : ''}`,
      content,
    };
    responses[String(status)] = { $ref: `#/components/responses/${name}` };
  }
  return responses;
}

/** `components.examples`: one problem per code. */
export function exampleComponents(): Record<string, JsonSchema> {
  return Object.fromEntries(
    (Object.keys(PROBLEM_STATUS) as ProblemCode[]).map((code) => [
      code,
      { summary: `${PROBLEM_STATUS[code]} ${code}`, value: problemOf(code, EXAMPLE[code].detail, EXAMPLE[code].extensions) },
    ]),
  );
}
