import type { z } from 'zod/mini';
import { fail, parseJsonBody, type HttpRequest } from './http';

/** Validates an operator body; the problem detail names every bad field. */
export function validateBody<S extends z.ZodMiniType>(schema: S, request: HttpRequest): z.infer<S> {
  return validateValue(schema, parseJsonBody(request), 'body');
}

/** Validates a query string: a bad value (`limit`, `status`, a filter) is `invalid-query`. */
export function validateQuery<S extends z.ZodMiniType>(schema: S, request: HttpRequest): z.infer<S> {
  return validateValue(schema, request.query, 'query', 'invalid-query');
}

export function validateValue<S extends z.ZodMiniType>(
  schema: S,
  value: unknown,
  what: string,
  code: 'invalid-body' | 'invalid-query' = 'invalid-body',
): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields = result.error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join('.') : '(root)',
    message: issue.message,
  }));
  return fail(code, `Invalid ${what}: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, { errors: fields });
}
