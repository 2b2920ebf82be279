import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { CORRELATION_ID_PATTERN, MESSAGE_ID_PATTERN, parseRfc3339, RESOURCE_ID_PATTERN } from '../core/identifiers';
import { SUGGESTED_ACTIONS } from '../core/classify';
import { DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_RETENTION_DAYS, DEFAULT_RETRY, RETENTION_DAYS_LIMITS, type FailureType } from '../core/model';
import { isReservedHeaderName } from '../core/auth-headers';
import { MAX_PROBE_PATH_LENGTH, probePathProblem } from '../core/target-url';

/** Request and response schemas of both APIs; the OpenAPI document is generated from them. */

// zod/mini (the functional API of the same core) builds schemas without attaching zod's chainable
// methods to each: the operator function builds these at every cold start. It loads no locale by
// itself, so English, the messages of the problems the API answers, is set here, before any parse.
z.config(en());

export const ResourceId = z.string().check(z.regex(RESOURCE_ID_PATTERN, 'must be 1-64 characters from A-Z a-z 0-9 . _ -'));
export const MessageId = z.string().check(z.regex(MESSAGE_ID_PATTERN, 'must be 1-128 characters from A-Z a-z 0-9 . _ : -'));
export const CorrelationId = z.string().check(z.regex(CORRELATION_ID_PATTERN));

/** An RFC 3339 date-time with an offset (`Z` or `±hh:mm`); impossible dates are refused. */
export const Rfc3339 = z.string().check(
  z.refine((value) => parseRfc3339(value) !== undefined, 'must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z'),
  z.meta({ format: 'date-time' }),
);

const Secret = z.string().check(z.minLength(1), z.maxLength(4096));
/**
 * A secret sent as a header value as it is (a bearer token, a header credential): only
 * what HTTP allows in a field value (visible ASCII, space, tab, obs-text), so a token
 * pasted with a trailing newline is refused here instead of failing every delivery.
 */
const HeaderSecret = Secret.check(
  z.regex(
    /^[\t\x20-\x7e\x80-\xff]+$/,
    'must be a valid HTTP header value: no line breaks, control characters or characters beyond Latin-1',
  ),
);

/** Failure types, taken from the suggested-action table so the list cannot miss one. */
export const FailureTypeSchema = z.enum(Object.keys(SUGGESTED_ACTIONS) as [FailureType, ...FailureType[]]);

export const ConnectionAuthSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('bearer'), token: HeaderSecret }),
  z.strictObject({
    type: z.literal('basic'),
    username: z.string().check(z.minLength(1), z.maxLength(256), z.regex(/^[^:]*$/, 'must not contain ":"')),
    password: Secret,
  }),
  z.strictObject({
    type: z.literal('header'),
    headerName: z.string().check(
      z.regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, 'must be an HTTP header name'),
      z.refine((name) => !isReservedHeaderName(name), 'is a header Sluice sets itself (SPEC delivery semantics 3); choose another name'),
    ),
    value: HeaderSecret,
  }),
]);

const integer = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));

export const RetryPolicySchema = z.strictObject({
  count: z._default(integer(0, 100), DEFAULT_RETRY.count),
  intervalSeconds: z._default(integer(0, 7 * 24 * 3600), DEFAULT_RETRY.intervalSeconds),
  backoff: z._default(z.enum(['fixed', 'exponential']), DEFAULT_RETRY.backoff),
  maxIntervalSeconds: z._default(integer(1, 7 * 24 * 3600), DEFAULT_RETRY.maxIntervalSeconds),
});

export const PutConnectionBody = z.strictObject({
  url: z.string().check(z.minLength(1), z.maxLength(2048)),
  auth: z._default(ConnectionAuthSchema, { type: 'none' }),
  timeoutMs: z._default(integer(100, 60_000), 10_000),
  retry: z._default(RetryPolicySchema, RetryPolicySchema.parse({})),
  threads: z._default(integer(1, 32), 1),
  onError: z._default(z.enum(['hold-all', 'hold-lane']), 'hold-all'),
  successStatuses: z._default(z.union([z.literal('2xx'), z.array(integer(100, 599)).check(z.minLength(1), z.maxLength(50))]), '2xx'),
  offlineAfter: z._default(integer(1, 1000), 3),
  probe: z._default(
    z.strictObject({
      method: z._default(z.enum(['GET', 'HEAD', 'POST']), 'GET'),
      path: z.optional(
        z.string().check(
          z.maxLength(MAX_PROBE_PATH_LENGTH),
          z.superRefine((path, context) => {
            const problem = probePathProblem(path);
            if (problem) context.addIssue({ code: 'custom', message: `${problem}; it is a path on the connection's own origin` });
          }),
        ),
      ),
    }),
    { method: 'GET' },
  ),
  signingSecret: z.optional(
    z.string().check(z.regex(/^whsec_[A-Za-z0-9+/=]{16,256}$/, 'must be a Standard Webhooks secret: whsec_ followed by base64')),
  ),
});

export const ReauthorizeBody = z.strictObject({ auth: ConnectionAuthSchema });

export const PutFlowBody = z.strictObject({
  partnerId: ResourceId,
  destinations: z.array(ResourceId).check(
    z.minLength(1),
    z.maxLength(10),
    z.refine((ids) => new Set(ids).size === ids.length, 'must not repeat a connection'),
  ),
  onFailure: z._default(z.enum(['continue', 'suspend-chain']), 'continue'),
  autoRetry: z._default(z.boolean(), true),
  backoutThreshold: z._default(integer(1, 1000), 5),
  expiresAfterSeconds: z.optional(integer(1, 14 * 24 * 3600)),
  maxPayloadBytes: z._default(integer(1, DEFAULT_MAX_PAYLOAD_BYTES), DEFAULT_MAX_PAYLOAD_BYTES),
  retentionDays: z._default(integer(RETENTION_DAYS_LIMITS.min, RETENTION_DAYS_LIMITS.max), DEFAULT_RETENTION_DAYS).check(
    z.meta({
      description:
        'Days a message (record, execution report, payloads) is kept after every delivery is `delivered` or `discarded`. ' +
        'Failed, in-error and suspended deliveries keep their message until they are restarted, recovered or discarded. ' +
        'A change applies to messages that become final afterwards.',
    }),
  ),
});

export const CreatePartnerBody = z.strictObject({ partnerId: ResourceId, name: z.string().check(z.minLength(1), z.maxLength(256)) });

export const ListQuery = z.object({
  // A query string is text: the number is coerced first, then held to `z.int()`'s safe-integer check.
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 25),
  cursor: z.optional(z.string().check(z.maxLength(2048))),
});

export type PutConnectionInput = z.infer<typeof PutConnectionBody>;
export type PutFlowInput = z.infer<typeof PutFlowBody>;
export type CreatePartnerInput = z.infer<typeof CreatePartnerBody>;
