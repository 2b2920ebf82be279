import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import type { z } from 'zod/mini';
import type { StoredConnection } from '../../adapters/aws/connection-store';
import type { StoredMessage } from '../../adapters/aws/message-store';
import { createOperatorApi, createPartnerApi } from '../../api/apis';
import type { HttpHandler } from '../../api/http';
import { buildOpenApiDocument, renderOpenApiJson, responseSchemas } from '../../api/openapi';
import { connectionView } from '../../api/resources/connections';
import { flowView } from '../../api/resources/flows';
import type { Route } from '../../api/router';
import type { Delivery, FlowWithCounts } from '../../core/model';
import { PROBLEM_STATUS, problemOf, type ProblemCode } from '../../core/problems';
import { failedEventView } from '../../services/repair';
import { routeKey, specRoutes } from '../helpers/spec';

type Json = Record<string, any>;

const root = new URL('../../', import.meta.url);
const doc = buildOpenApiDocument() as Json;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Follows a local `$ref` (`#/components/...`) in the document. */
function resolve(node: Json): Json {
  if (typeof node.$ref !== 'string') return node;
  const target = (node.$ref as string)
    .replace(/^#\//, '')
    .split('/')
    .reduce<Json | undefined>((at, key) => at?.[key], doc);
  assert.ok(target, `dangling $ref ${node.$ref}`);
  return resolve(target);
}

function documentedOperations(): { method: string; path: string; tags: string[]; operation: Json }[] {
  return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({
      method: method.toUpperCase(),
      path,
      tags: item[method].tags as string[],
      operation: item[method] as Json,
    })),
  );
}

/**
 * Every route factory in api/resources/*.ts (every export named `...Routes`), so a new
 * resource file is covered without touching this test. Factories only capture the runtime.
 */
async function factoryRoutes(): Promise<{ factory: string; route: Route }[]> {
  const dir = new URL('api/resources/', root);
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.ts'))
    .sort();
  const found: { factory: string; route: Route }[] = [];
  for (const file of files) {
    const module = (await import(new URL(file, dir).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(module)) {
      if (typeof value !== 'function' || !/Routes$/.test(name)) continue;
      for (const route of (value as (runtime: never) => Route[])({} as never)) found.push({ factory: `${file}:${name}`, route });
    }
  }
  return found;
}

/** Accepts any property access or call and does nothing: a silent logger and metrics. */
const noop: unknown = new Proxy(function noop() {}, {
  get: (_target, property) => (property === 'then' ? undefined : noop),
  apply: () => undefined,
});
/** A runtime with nothing but silent logging and metrics: a handler that reaches a store fails as `internal`. */
const stubRuntime = { logger: noop, metrics: noop } as never;

/** Whether `api` routes `method path` to a handler (anything but its "No route" 404 or its 405 for another method). */
async function mounts(api: HttpHandler, method: string, template: string): Promise<boolean> {
  const path = template.replace(/\{(\w+)\}/g, 'probe');
  const response = await api({ method, path, headers: {}, query: {}, body: Buffer.alloc(0), requestId: 'openapi-test' });
  if (response.statusCode === 405) return false;
  if (response.statusCode !== 404) return true;
  return !String((JSON.parse(response.body) as { detail?: string }).detail).startsWith('No route for');
}

const key = (method: string, path: string) => `${method} ${path}`;

/**
 * SPEC routes not built yet, named so their absence is explicit (other work items
 * build them). Remove an entry when its route lands; the test fails while a pending
 * route is already documented.
 */
const PENDING_SPEC_ROUTES = new Set<string>();

/** Documented routes beyond the SPEC's lists (operator conveniences), named explicitly. */
const BEYOND_SPEC_ROUTES = new Set(['GET /v1/partners']);

describe('OpenAPI document', () => {
  it('docs/openapi.json is the committed output of buildOpenApiDocument()', () => {
    const committed = readFileSync(new URL('docs/openapi.json', root), 'utf8');
    const current = renderOpenApiJson(buildOpenApiDocument());
    assert.ok(committed === current, 'docs/openapi.json is stale: run npm run openapi and commit the result');
    assert.equal(JSON.parse(committed).openapi, '3.1.0');
  });

  it('describes exactly the routes the routers register, with the API that serves them', async () => {
    const partnerApi = createPartnerApi(stubRuntime);
    const operatorApi = createOperatorApi(stubRuntime);
    const routes = await factoryRoutes();
    assert.ok(routes.length > 0, 'found route factories in api/resources');

    const served = new Map<string, Set<string>>();
    for (const { factory, route } of routes) {
      const apis = new Set<string>();
      if (await mounts(partnerApi, route.method, route.path)) apis.add('partner');
      if (await mounts(operatorApi, route.method, route.path)) apis.add('operator');
      assert.ok(apis.size > 0, `${key(route.method, route.path)} from ${factory} is mounted by neither API in api/apis.ts`);
      served.set(key(route.method, route.path), new Set([...(served.get(key(route.method, route.path)) ?? []), ...apis]));
    }

    const documented = new Map(documentedOperations().map((o) => [key(o.method, o.path), new Set(o.tags)]));
    for (const [route, apis] of served) {
      const tags = documented.get(route);
      assert.ok(tags, `${route} is routed but not in the OpenAPI document (api/openapi.ts walks partnerApiRoutes and operatorApiRoutes)`);
      assert.deepEqual([...tags].sort(), [...apis].sort(), `${route}: tags must name the APIs that serve it`);
    }
    for (const [route] of documented) {
      if (route === 'GET /health') continue;
      assert.ok(served.has(route), `${route} is documented but no router registers it`);
    }

    assert.deepEqual([...(documented.get('GET /health') ?? [])], ['operator']);
    assert.equal(
      (await operatorApi({ method: 'GET', path: '/health', headers: {}, query: {}, body: Buffer.alloc(0), requestId: 't' })).statusCode,
      200,
    );
  });

  it('covers the SPEC routes (read from SPEC.md), except the ones named as pending', () => {
    const documented = new Set(documentedOperations().map((o) => routeKey(o.method, o.path)));
    const spec = specRoutes();
    assert.ok(spec.size >= 30, `only ${spec.size} routes parsed from SPEC.md`);
    for (const route of ['DELETE /v1/flows/{}', 'POST /v1/flows/{}/messages', 'GET /health']) assert.ok(spec.has(route), route);
    const missing = [...spec].filter((route) => !documented.has(route));
    assert.deepEqual(missing.sort(), [...PENDING_SPEC_ROUTES].filter((route) => spec.has(route)).sort(), 'SPEC routes not documented');
  });

  it('documents no route the SPEC lacks', () => {
    const spec = specRoutes();
    const extra = documentedOperations()
      .map((o) => routeKey(o.method, o.path))
      .filter((route) => !spec.has(route));
    assert.deepEqual(extra.sort(), [...BEYOND_SPEC_ROUTES].sort());
  });

  it('generates the PUT /v1/connections/{connectionId} body from the zod schema', () => {
    const body = doc.paths['/v1/connections/{connectionId}'].put.requestBody as Json;
    assert.equal(body.required, true);
    const schema = resolve(body.content['application/json'].schema);
    const fields = ['url', 'auth', 'timeoutMs', 'retry', 'threads', 'onError', 'successStatuses', 'offlineAfter', 'probe', 'signingSecret'];
    assert.deepEqual(Object.keys(schema.properties).sort(), [...fields].sort());
    assert.deepEqual(schema.required, ['url']);
    assert.equal(schema.additionalProperties, false);
    assert.equal(schema.properties.timeoutMs.default, 10000);
    const auth = resolve(schema.properties.auth);
    assert.deepEqual(
      (auth.oneOf as Json[]).map((branch) => branch.properties.type.const),
      ['none', 'bearer', 'basic', 'header'],
    );
  });

  it('documents the partner headers with the identifier patterns', () => {
    const parameters = (doc.paths['/v1/flows/{flowId}/messages'].post.parameters as Json[]).map(resolve);
    const byName = new Map(parameters.map((p) => [p.name as string, p]));
    for (const name of ['x-aux-system-msg-id', 'Idempotency-Key', 'x-chain-id']) {
      assert.equal(byName.get(name)?.in, 'header');
      assert.equal(byName.get(name)?.schema.pattern, '^[A-Za-z0-9._:-]{1,128}$', name);
    }
    assert.equal(byName.get('x-correlation-id')?.schema.pattern, '^[\\x21-\\x7e]{1,256}$');
    assert.equal(byName.get('x-expires-at')?.schema.format, 'date-time');
    assert.equal(byName.get('flowId')?.in, 'path');
  });

  it('answers every error with a Problem as application/problem+json, with codes of that status', () => {
    for (const { method, path, operation } of documentedOperations()) {
      for (const [status, raw] of Object.entries(operation.responses as Json)) {
        if (Number(status) < 400) continue;
        const response = resolve(raw as Json);
        const problem = response.content?.['application/problem+json'];
        assert.ok(problem, `${method} ${path} ${status}: no application/problem+json`);
        assert.equal(problem.schema.allOf[0].$ref, '#/components/schemas/Problem');
        const codes = problem.schema.allOf[1].properties.code.enum as ProblemCode[];
        assert.ok(codes.length > 0);
        for (const code of codes) assert.equal(PROBLEM_STATUS[code], Number(status), `${method} ${path}: ${code} under ${status}`);
      }
    }
    const problemSchema = doc.components.schemas.Problem as Json;
    assert.deepEqual(resolve(problemSchema.properties.code).enum, Object.keys(PROBLEM_STATUS));
    for (const code of Object.keys(PROBLEM_STATUS) as ProblemCode[]) {
      assert.equal(responseSchemas.Problem!.safeParse(problemOf(code, 'x')).success, true, code);
    }
  });

  it('secures partner routes with the API key and operator routes with SigV4 or the local token', () => {
    for (const { method, path, tags, operation } of documentedOperations()) {
      const schemes = new Set((operation.security as Json[]).flatMap((s) => Object.keys(s)));
      if (path === '/health') {
        assert.deepEqual(operation.security, []);
        continue;
      }
      assert.equal(schemes.has('partnerBearer') && schemes.has('partnerApiKey'), tags.includes('partner'), `${method} ${path}`);
      assert.equal(schemes.has('operatorSigV4') && schemes.has('operatorToken'), tags.includes('operator'), `${method} ${path}`);
    }
  });
});

// ---------------------------------------------------------------------------
// The response schemas describe what the handlers' views really return.

/** Keys in `value` that `schema` does not declare (zod object shapes, recursively). */
function undocumented(schema: z.ZodMiniType, value: unknown, at: string): string[] {
  const def = (schema as unknown as { _zod: { def: Json } })._zod.def;
  if (value === undefined || value === null) return [];
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
      return undocumented(def.innerType, value, at);
    case 'pipe':
      return undocumented(def.in, value, at);
    case 'array':
      return Array.isArray(value) ? value.flatMap((item, index) => undocumented(def.element, item, `${at}[${index}]`)) : [];
    case 'object':
      return Object.entries(value as Json).flatMap(([name, child]) =>
        name in def.shape ? undocumented(def.shape[name], child, `${at}.${name}`) : child === undefined ? [] : [`${at}.${name}`],
      );
    default:
      return [];
  }
}

function assertDescribes(name: string, value: unknown): void {
  const schema = responseSchemas[name];
  assert.ok(schema, `no response schema ${name}`);
  const parsed = schema.safeParse(JSON.parse(JSON.stringify(value)));
  assert.equal(parsed.success, true, `${name}: ${parsed.success ? '' : JSON.stringify(parsed.error.issues)}`);
  assert.deepEqual(undocumented(schema, JSON.parse(JSON.stringify(value)), name), [], `${name} has undocumented fields`);
}

const AT = '2026-01-31T12:00:00.000Z';

describe('OpenAPI response schemas match the views', () => {
  it('Connection', () => {
    const stored: Required<StoredConnection> = {
      connectionId: 'erp',
      url: 'https://erp.example.com/inbound',
      timeoutMs: 10_000,
      retry: { count: 5, intervalSeconds: 60, backoff: 'exponential', maxIntervalSeconds: 3600 },
      threads: 2,
      onError: 'hold-lane',
      successStatuses: [200, 202],
      offlineAfter: 3,
      probe: { method: 'HEAD', path: '/health' },
      status: 'offline',
      statusReason: '3 consecutive connection errors',
      statusSince: AT,
      lastProbeAt: AT,
      nextProbeAt: AT,
      consecutiveFailures: 3,
      heldBy: 'orders~m1~erp',
      holdUntil: AT,
      parkedLanes: [1],
      createdAt: AT,
      updatedAt: AT,
      manualOffline: true,
      authType: 'bearer',
      signed: true,
      sealedSecrets: 'sealed',
    };
    const view = connectionView(stored, ['orders']);
    assertDescribes('Connection', view);
    assert.equal(JSON.stringify(view).includes('sealed'), false);
  });

  it('Flow', () => {
    const flow: Required<FlowWithCounts> = {
      flowId: 'orders',
      partnerId: 'acme',
      destinations: ['erp', 'wms'],
      onFailure: 'suspend-chain',
      autoRetry: false,
      backoutThreshold: 5,
      expiresAfterSeconds: 3600,
      maxPayloadBytes: 1024,
      retentionDays: 90,
      destinationThreads: { erp: 1, wms: 4 },
      status: 'paused',
      statusReason: 'connection erp offline',
      statusSince: AT,
      internalFailureStreak: 0,
      operatorPaused: false,
      autoPausedBy: ['erp'],
      counts: { accepted: 1, queued: 2, delivered: 3, failed: 4, suspended: 5, inError: 6 },
      createdAt: AT,
      updatedAt: AT,
    };
    assertDescribes('Flow', flowView(flow));
  });

  it('FailedEvent', () => {
    const payload = { key: 'failed/orders/m1/erp', bytes: 12, contentType: 'application/json', sha256: 'a'.repeat(64) };
    const delivery: Required<Delivery> = {
      flowId: 'orders',
      messageId: 'm1',
      connectionId: 'erp',
      lane: 0,
      chainId: 'c1',
      status: 'failed',
      attempts: 6,
      requests: 6,
      requestsBeforeRestart: 4,
      attemptInFlight: 0,
      possibleDuplicate: true,
      nextAttemptAt: AT,
      failureType: 'business',
      lastError: { httpStatus: 422, message: 'HTTP 422', bodyExcerpt: '{"error":"bad sku"}' },
      payloadOverride: payload,
      failedPayload: { ...payload, corrected: true },
      failedAt: AT,
      deliveredAt: AT,
      requeuedAt: AT,
      restarts: 1,
      version: 3,
      heldReceipt: 'receipt',
      heldTicketAt: AT,
      debugNextAttempt: false,
      updatedAt: AT,
    };
    const message: StoredMessage = {
      flowId: 'orders',
      messageId: 'm1',
      partnerId: 'acme',
      contentType: 'application/json',
      bytes: 12,
      sha256: 'b'.repeat(64),
      payload: { kind: 'inline' },
      correlationId: 'corr-1',
      receivedAt: AT,
      enqueue: 'done',
      destinations: [{ connectionId: 'erp', lane: 0 }],
      status: 'failed',
    };
    assertDescribes('FailedEvent', failedEventView(delivery, message, 2));
  });
});
