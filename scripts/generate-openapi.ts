/**
 * Writes docs/openapi.json from the zod schemas and route table in api/openapi.ts.
 * Run with `npm run openapi` after changing a route, a request schema or a response
 * shape; test/api/openapi.test.ts fails while the committed file is stale.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { renderOpenApiJson } from '../api/openapi';

const target = new URL('../docs/openapi.json', import.meta.url);
const rendered = renderOpenApiJson();
let previous: string | undefined;
try {
  previous = readFileSync(target, 'utf8');
} catch {
  previous = undefined;
}
if (previous === rendered) {
  console.log('docs/openapi.json is up to date');
} else {
  mkdirSync(new URL('.', target), { recursive: true });
  writeFileSync(target, rendered);
  console.log(`wrote docs/openapi.json (${Buffer.byteLength(rendered)} bytes)`);
}
