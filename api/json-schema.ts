import * as z from 'zod/mini';

/** zod to the JSON Schema of the OpenAPI document (3.1: JSON Schema draft 2020-12). */

export type JsonSchema = Record<string, unknown>;

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** Formats JSON Schema and OpenAPI tools know; zod also emits its own (`starts_with`), beside a `pattern`. */
const STANDARD_FORMATS = new Set([
  'date-time',
  'date',
  'time',
  'duration',
  'email',
  'uri',
  'uri-reference',
  'uuid',
  'ipv4',
  'ipv6',
  'hostname',
  'int32',
  'int64',
  'byte',
  'binary',
]);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs']);
const SCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'allOf', 'prefixItems']);
const SUBSCHEMAS = new Set(['items', 'additionalProperties', 'not', 'propertyNames', 'contains']);

/**
 * Drops what zod emits that says nothing in the document: `$schema` and `$id` (the
 * document is the context), non-standard formats, the safe-integer bounds of every
 * `int()`, and `additionalProperties: {}` of loose objects. Values (`default`,
 * `const`, `enum`) are kept as they are.
 */
function tidy(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(schema)) {
    if (key === '$schema' || key === '$id') continue;
    if (key === 'format' && typeof child === 'string' && !STANDARD_FORMATS.has(child)) continue;
    if ((key === 'maximum' || key === 'minimum') && Math.abs(child as number) === Number.MAX_SAFE_INTEGER) continue;
    if (key === 'additionalProperties' && child !== null && typeof child === 'object' && Object.keys(child).length === 0) continue;
    if (SCHEMA_MAPS.has(key))
      out[key] = Object.fromEntries(Object.entries(child as Record<string, unknown>).map(([name, sub]) => [name, tidy(sub)]));
    else if (SCHEMA_LISTS.has(key)) out[key] = (child as unknown[]).map(tidy);
    else if (SUBSCHEMAS.has(key)) out[key] = tidy(child);
    else out[key] = child;
  }
  return out;
}

/**
 * Named schemas, each as a component: a schema of the set nested in another becomes a
 * `$ref` to it. `input` describes what a handler accepts (defaults optional), `output`
 * what it returns.
 */
export function convertComponents(schemas: Record<string, z.ZodMiniType>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const converted = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(Object.entries(converted.schemas).map(([name, schema]) => [name, tidy(schema) as JsonSchema]));
}

/** One schema, inline (a parameter's). */
export function convert(schema: z.ZodMiniType, io: 'input' | 'output' = 'input'): JsonSchema {
  return tidy(z.toJSONSchema(schema, { target: 'draft-2020-12', io })) as JsonSchema;
}
