import * as z from 'zod';
import { CORRELATION_ID_PATTERN, MESSAGE_ID_PATTERN, parseRfc3339, RESOURCE_ID_PATTERN } from '../core/identifiers';
import { SUGGESTED_ACTIONS } from '../core/classify';
import { DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_RETENTION_DAYS, DEFAULT_RETRY, RETENTION_DAYS_LIMITS, type FailureType } from '../core/model';
import { isReservedHeaderName } from '../core/auth-headers';
import { MAX_PROBE_PATH_LENGTH, probePathProblem } from '../core/target-url';

/** Request and response schemas of both APIs; the OpenAPI document is generated from them. */

export const ResourceId = z.string().regex(RESOURCE_ID_PATTERN, 'must be 1-64 characters from A-Z a-z 0-9 . _ -');
export const MessageId = z.string().regex(MESSAGE_ID_PATTERN, 'must be 1-128 characters from A-Z a-z 0-9 . _ : -');
export const CorrelationId = z.string().regex(CORRELATION_ID_PATTERN);

/** An RFC 3339 date-time with an offset (`Z` or `±hh:mm`); impossible dates are refused. */
export const Rfc3339 = z
  .string()
  .refine((value) => parseRfc3339(value) !== undefined, 'must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z')
  .meta({ format: 'date-time' });

const Secret = z.string().min(1).max(4096);
/**
 * A secret sent as a header value as it is (a bearer token, a header credential): only
 * what HTTP allows in a field value (visible ASCII, space, tab, obs-text), so a token
 * pasted with a trailing newline is refused here instead of failing every delivery.
 */
const HeaderSecret = Secret.regex(
  /^[\t\x20-\x7e\x80-\xff]+$/,
  'must be a valid HTTP header value: no line breaks, control characters or characters beyond Latin-1',
);

/** Failure types, taken from the suggested-action table so the list cannot miss one. */
export const FailureTypeSchema = z.enum(Object.keys(SUGGESTED_ACTIONS) as [FailureType, ...FailureType[]]);

export const ConnectionAuthSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('bearer'), token: HeaderSecret }).strict(),
  z
    .object({
      type: z.literal('basic'),
      username: z
        .string()
        .min(1)
        .max(256)
        .regex(/^[^:]*$/, 'must not contain ":"'),
      password: Secret,
    })
    .strict(),
  z
    .object({
      type: z.literal('header'),
      headerName: z
        .string()
        .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, 'must be an HTTP header name')
        .refine((name) => !isReservedHeaderName(name), 'is a header Sluice sets itself (SPEC delivery semantics 3); choose another name'),
      value: HeaderSecret,
    })
    .strict(),
]);

export const RetryPolicySchema = z
  .object({
    count: z.number().int().min(0).max(100).default(DEFAULT_RETRY.count),
    intervalSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(DEFAULT_RETRY.intervalSeconds),
    backoff: z.enum(['fixed', 'exponential']).default(DEFAULT_RETRY.backoff),
    maxIntervalSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(DEFAULT_RETRY.maxIntervalSeconds),
  })
  .strict();

export const PutConnectionBody = z
  .object({
    url: z.string().min(1).max(2048),
    auth: ConnectionAuthSchema.default({ type: 'none' }),
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
    retry: RetryPolicySchema.default(RetryPolicySchema.parse({})),
    threads: z.number().int().min(1).max(32).default(1),
    onError: z.enum(['hold-all', 'hold-lane']).default('hold-all'),
    successStatuses: z.union([z.literal('2xx'), z.array(z.number().int().min(100).max(599)).min(1).max(50)]).default('2xx'),
    offlineAfter: z.number().int().min(1).max(1000).default(3),
    probe: z
      .object({
        method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
        path: z
          .string()
          .max(MAX_PROBE_PATH_LENGTH)
          .superRefine((path, context) => {
            const problem = probePathProblem(path);
            if (problem) context.addIssue({ code: 'custom', message: `${problem}; it is a path on the connection's own origin` });
          })
          .optional(),
      })
      .strict()
      .default({ method: 'GET' }),
    signingSecret: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/=]{16,256}$/, 'must be a Standard Webhooks secret: whsec_ followed by base64')
      .optional(),
  })
  .strict();

export const ReauthorizeBody = z.object({ auth: ConnectionAuthSchema }).strict();

export const PutFlowBody = z
  .object({
    partnerId: ResourceId,
    destinations: z
      .array(ResourceId)
      .min(1)
      .max(10)
      .refine((ids) => new Set(ids).size === ids.length, 'must not repeat a connection'),
    onFailure: z.enum(['continue', 'suspend-chain']).default('continue'),
    autoRetry: z.boolean().default(true),
    backoutThreshold: z.number().int().min(1).max(1000).default(5),
    expiresAfterSeconds: z
      .number()
      .int()
      .min(1)
      .max(14 * 24 * 3600)
      .optional(),
    maxPayloadBytes: z.number().int().min(1).max(DEFAULT_MAX_PAYLOAD_BYTES).default(DEFAULT_MAX_PAYLOAD_BYTES),
    retentionDays: z
      .number()
      .int()
      .min(RETENTION_DAYS_LIMITS.min)
      .max(RETENTION_DAYS_LIMITS.max)
      .default(DEFAULT_RETENTION_DAYS)
      .meta({
        description:
          'Days a message (record, execution report, payloads) is kept after every delivery is `delivered` or `discarded`. ' +
          'Failed, in-error and suspended deliveries keep their message until they are restarted, recovered or discarded. ' +
          'A change applies to messages that become final afterwards.',
      }),
  })
  .strict();

export const CreatePartnerBody = z.object({ partnerId: ResourceId, name: z.string().min(1).max(256) }).strict();

export const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(2048).optional(),
});

export type PutConnectionInput = z.infer<typeof PutConnectionBody>;
export type PutFlowInput = z.infer<typeof PutFlowBody>;
export type CreatePartnerInput = z.infer<typeof CreatePartnerBody>;
