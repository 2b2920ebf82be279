// Generates console/src/api/schema.d.ts from docs/openapi.json, so the console's API
// client is typed by the same document the gateway is tested against. The output is
// not committed: every build, typecheck and test regenerates it.
import { readFileSync, writeFileSync } from 'node:fs';
import openapiTS, { astToString } from 'openapi-typescript';

const source = new URL('../../docs/openapi.json', import.meta.url);
const target = new URL('../src/api/schema.d.ts', import.meta.url);
const ast = await openapiTS(JSON.parse(readFileSync(source, 'utf8')));
const text = `// Generated from docs/openapi.json by console/scripts/generate-api.mjs. Do not edit.\n${astToString(ast)}`;
let previous;
try {
  previous = readFileSync(target, 'utf8');
} catch {
  previous = undefined;
}
if (previous !== text) writeFileSync(target, text);
