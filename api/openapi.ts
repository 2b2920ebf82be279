import { readFileSync } from 'node:fs';
import type { z } from 'zod/mini';
import type { Runtime } from '../adapters/runtime';
import type { ProblemCode } from '../core/problems';
import { operatorApiRoutes } from './apis';
import { convert, convertComponents, ref, type JsonSchema } from './json-schema';
import { partnerApiRoutes } from './partner-api';
import { errorResponses, exampleComponents, type Api } from './problem-docs';
import { connectionComponents } from './resources/connections';
import { failedEventComponents } from './resources/failed-events';
import { flowMessageComponents } from './resources/flow-messages';
import { flowComponents } from './resources/flows';
import { partnerApiComponents } from './resources/partner-schemas';
import { partnerComponents } from './resources/partners';
import type { Components, HeaderDoc, OperationDoc } from './router';
import { PATH_PARAMETERS, sharedComponents } from './view-schemas';

/**
 * The OpenAPI 3.1 description of both APIs, generated from their routes: each route
 * carries its operation's description (`doc`), and the schemas it names are the
 * components its resource exports. `npm run openapi` writes it to docs/openapi.json; a
 * test keeps that file equal to this build. No Lambda bundle imports this file.
 */

export type OpenApiDocument = Record<string, unknown>;

const COMPONENTS: Components[] = [
  sharedComponents,
  partnerApiComponents,
  partnerComponents(),
  connectionComponents(),
  flowComponents(),
  flowMessageComponents(),
  failedEventComponents(),
];

/** Every component of one kind by name; a name given to two schemas, or a schema given two names, is an error. */
function named(kind: 'requests' | 'responses'): Record<string, z.ZodMiniType> {
  const byName: Record<string, z.ZodMiniType> = {};
  const names = new Map<z.ZodMiniType, string>();
  for (const components of COMPONENTS) {
    for (const [name, schema] of Object.entries(components[kind] ?? {})) {
      if (byName[name] && byName[name] !== schema) throw new Error(`openapi: two ${kind} schemas are named ${name}`);
      if (names.has(schema) && names.get(schema) !== name) throw new Error(`openapi: ${name} is also named ${names.get(schema)}`);
      byName[name] = schema;
      names.set(schema, name);
    }
  }
  return byName;
}

const REQUEST_SCHEMAS = named('requests');
/** Response zod schemas by component name: tests check the handlers' views against them. */
export const responseSchemas = named('responses');

/** One operation of the document: a route, or the two routes of a path both APIs serve. */
interface Operation {
  api: Api;
  method: string;
  path: string;
  doc: Omit<OperationDoc, 'responses'>;
  /** By status: the response component names (several: any of them). */
  responses: Record<number, { description: string; schemas: string[] }>;
}

function operationOf(api: Api, method: string, path: string, { responses, ...doc }: OperationDoc): Operation {
  return {
    api,
    method,
    path,
    doc,
    responses: Object.fromEntries(
      Object.entries(responses).map(([status, { description, schema }]) => [status, { description, schemas: schema ? [schema] : [] }]),
    ),
  };
}

/**
 * A path both APIs route (reading a message) is one operation: each API's description in
 * turn, its answers as alternatives, the problems of both. Anything else about it must agree.
 */
function merge(partner: Operation, operator: Operation): Operation {
  const key = `${partner.method} ${partner.path}`;
  const { description: partnerText, errors: partnerErrors, ...partnerRest } = partner.doc;
  const { description: operatorText, errors: operatorErrors, ...operatorRest } = operator.doc;
  if (JSON.stringify(partnerRest) !== JSON.stringify(operatorRest)) {
    throw new Error(`openapi: ${key} is routed by both APIs with docs that differ beyond description, responses and errors`);
  }
  const responses: Operation['responses'] = { ...partner.responses };
  for (const [status, response] of Object.entries(operator.responses)) {
    const other = responses[Number(status)];
    if (other && other.description !== response.description)
      throw new Error(`openapi: ${key} ${status} is described differently by the two APIs`);
    responses[Number(status)] = {
      description: response.description,
      schemas: [...new Set([...(other?.schemas ?? []), ...response.schemas])],
    };
  }
  const description = ['Served by both APIs.', partnerText, operatorText].filter(Boolean).join(' ');
  return {
    api: 'both',
    method: partner.method,
    path: partner.path,
    doc: { ...partnerRest, description, errors: [...new Set([...partnerErrors, ...operatorErrors])] },
    responses,
  };
}

/** The routes of both APIs, as operations. Route factories only capture the runtime, so none is needed. */
function operations(): Operation[] {
  const runtime = {} as Runtime;
  const byRoute = new Map<string, Operation>();
  for (const [api, routes] of [
    ['partner', partnerApiRoutes(runtime)],
    ['operator', operatorApiRoutes(runtime)],
  ] as const) {
    for (const { method, path, doc } of routes) {
      const key = `${method} ${path}`;
      const operation = operationOf(api, method, path, doc);
      const other = byRoute.get(key);
      if (other?.api === api) throw new Error(`openapi: the ${api} API routes ${key} twice`);
      byRoute.set(key, other ? merge(other, operation) : operation);
    }
  }
  return [...byRoute.values()];
}

/** Every authenticated route can answer these: bad credentials, IAM denial, throttling, an internal error. */
const AUTHENTICATED_ROUTE_ERRORS: ProblemCode[] = ['unauthenticated', 'forbidden', 'throttled', 'internal'];

function problemCodes(operation: Operation): ProblemCode[] {
  return [
    ...operation.doc.errors,
    // Every operator JSON body is size-limited (MAX_OPERATOR_BODY_BYTES).
    ...(operation.api === 'operator' && operation.doc.body ? (['payload-too-large'] as const) : []),
    // A path parameter that is not valid percent-encoded UTF-8 is refused before any handler.
    ...(operation.path.includes('{') ? (['invalid-path'] as const) : []),
    ...(operation.doc.public ? [] : AUTHENTICATED_ROUTE_ERRORS),
  ];
}

function security(operation: Operation): Record<string, string[]>[] {
  if (operation.doc.public) return [];
  const partner: Record<string, string[]>[] = [{ partnerBearer: [] }, { partnerApiKey: [] }];
  const operator: Record<string, string[]>[] = [{ operatorSigV4: [] }, { operatorToken: [] }];
  if (operation.api === 'partner') return partner;
  if (operation.api === 'operator') return operator;
  return [...partner, ...operator];
}

const SERVERS = {
  partner: {
    url: 'https://{partnerApiId}.execute-api.{region}.amazonaws.com/prod',
    description: 'Partner API on AWS (stack output PartnerApiUrl). Auth: partner API key.',
    variables: { partnerApiId: { default: 'partner-api-id' }, region: { default: 'us-east-1' } },
  },
  operator: {
    url: 'https://{operatorApiId}.execute-api.{region}.amazonaws.com/prod',
    description: 'Operator API on AWS (stack output OperatorApiUrl). Auth: IAM SigV4 (service execute-api).',
    variables: { operatorApiId: { default: 'operator-api-id' }, region: { default: 'us-east-1' } },
  },
  local: {
    url: 'http://127.0.0.1:{port}',
    description: 'Local mode (`npm start`): both APIs on one port. Operator auth: `Authorization: Bearer $SLUICE_OPERATOR_TOKEN`.',
    variables: { port: { default: '3000' } },
  },
};

function servers(api: Api) {
  if (api === 'partner') return [SERVERS.partner, SERVERS.local];
  if (api === 'operator') return [SERVERS.operator, SERVERS.local];
  return [SERVERS.partner, SERVERS.operator, SERVERS.local];
}

function pathParameters(path: string): JsonSchema[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => {
    if (!PATH_PARAMETERS[name!]) throw new Error(`openapi: no schema for path parameter {${name}} in ${path}`);
    return { $ref: `#/components/parameters/${name}` };
  });
}

function queryParameters(query: z.ZodMiniObject): JsonSchema[] {
  const schema = convert(query) as { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(schema.properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: schema.required?.includes(name) ?? false,
    schema: property,
  }));
}

const headerParameter = ({ name, description, schema, example }: HeaderDoc): JsonSchema => ({
  name,
  in: 'header',
  required: false,
  description,
  schema,
  ...(example ? { example } : {}),
});

/** `components.parameters`: every path parameter, and every header an operation documents. */
function parameterComponents(operations: Operation[]): Record<string, JsonSchema> {
  const parameters: Record<string, JsonSchema> = {};
  for (const [name, { schema, description }] of Object.entries(PATH_PARAMETERS)) {
    parameters[name] = { name, in: 'path', required: true, description, schema: convert(schema) };
  }
  for (const header of operations.flatMap((operation) => operation.doc.headers ?? [])) {
    const parameter = headerParameter(header);
    if (parameters[header.name] && JSON.stringify(parameters[header.name]) !== JSON.stringify(parameter)) {
      throw new Error(`openapi: header ${header.name} is documented twice, differently`);
    }
    parameters[header.name] = parameter;
  }
  return parameters;
}

function schemaRef(name: string, schemas: Record<string, unknown>, what: string): JsonSchema {
  if (!(name in schemas)) throw new Error(`openapi: ${what} names schema ${name}, which no module's Components exports`);
  return ref(name);
}

function operationObject(operation: Operation, sharedResponses: Record<string, JsonSchema>): JsonSchema {
  const { doc } = operation;
  const what = `${operation.method} ${operation.path}`;
  const parameters = [
    ...pathParameters(operation.path),
    ...(doc.query ? queryParameters(doc.query) : []),
    ...(doc.headers ?? []).map((header) => ({ $ref: `#/components/parameters/${header.name}` })),
  ];
  const responses: Record<string, JsonSchema> = {};
  for (const [status, { description, schemas }] of Object.entries(operation.responses)) {
    const refs = schemas.map((name) => schemaRef(name, responseSchemas, what));
    const schema = refs.length > 1 ? { anyOf: refs } : refs[0];
    responses[status] = { description, ...(schema ? { content: { 'application/json': { schema } } } : {}) };
  }
  Object.assign(responses, errorResponses(operation.api, problemCodes(operation), sharedResponses));
  let requestBody: JsonSchema | undefined;
  if (doc.body) {
    const { schema, required, description } = doc.body;
    requestBody = {
      required,
      ...(description ? { description } : {}),
      content: schema ? { 'application/json': { schema: schemaRef(schema, REQUEST_SCHEMAS, what) } } : { '*/*': { schema: {} } },
    };
  }
  return {
    tags: operation.api === 'both' ? ['partner', 'operator'] : [operation.api],
    operationId: doc.operationId,
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    servers: servers(operation.api),
    security: security(operation),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b))),
  };
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const METHOD_ORDER = ['GET', 'PUT', 'POST', 'DELETE'];
const byName = ([a]: [string, unknown], [b]: [string, unknown]) => a.localeCompare(b);

export function buildOpenApiDocument(): OpenApiDocument {
  const requestSchemas = convertComponents(REQUEST_SCHEMAS, 'input');
  const responseSchemaObjects = convertComponents(responseSchemas, 'output');
  for (const name of Object.keys(requestSchemas)) {
    if (name in responseSchemaObjects) throw new Error(`openapi: schema name ${name} is both a request and a response schema`);
  }
  const schemas = Object.fromEntries(Object.entries({ ...requestSchemas, ...responseSchemaObjects }).sort(byName));

  const all = operations().sort((a, b) => a.path.localeCompare(b.path) || METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method));
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const sharedResponses: Record<string, JsonSchema> = {};
  for (const operation of all) {
    (paths[operation.path] ??= {})[operation.method.toLowerCase()] = operationObject(operation, sharedResponses);
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Sluice',
      version: packageVersion(),
      summary: 'Serverless guaranteed-delivery gateway: partner and operator APIs.',
      description:
        "Partners post messages to the partner API with an API key; Sluice accepts each exactly once (by its GUID) and delivers it in order, with retries, to the flow's connections. " +
        'Operators manage partners, connections, flows and failed events through the operator API (IAM SigV4 on AWS, a bearer token locally). ' +
        'Every error is RFC 9457 `application/problem+json` with a `code`. A method a path does not take is 405 `method-not-allowed` with `Allow`. ' +
        'A human reference is in docs/api.md.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [SERVERS.partner, SERVERS.operator, SERVERS.local],
    tags: [
      {
        name: 'partner',
        description: 'Partner API: post messages and read their status. Auth: API key (`Authorization: Bearer <apiKey>` or `x-api-key`).',
      },
      {
        name: 'operator',
        description:
          'Operator API: partners, connections, flows, messages, failed events. Auth: IAM SigV4 on AWS; `Authorization: Bearer <operatorToken>` locally.',
      },
    ],
    paths,
    components: {
      schemas,
      responses: Object.fromEntries(Object.entries(sharedResponses).sort(byName)),
      parameters: parameterComponents(all),
      examples: exampleComponents(),
      securitySchemes: {
        partnerBearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Partner API key as `Authorization: Bearer <apiKey>`.',
        },
        partnerApiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-api-key',
          description: 'Partner API key as `x-api-key: <apiKey>`.',
        },
        operatorSigV4: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description:
            'AWS: requests signed with Signature Version 4 (service `execute-api`) by an IAM principal allowed to invoke the operator API.',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
        operatorToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'Local mode: `Authorization: Bearer <operatorToken>` (`SLUICE_OPERATOR_TOKEN`, or the random token printed at start).',
        },
      },
    },
  };
}

/** The committed form of the document: two-space indentation and a trailing newline. */
export function renderOpenApiJson(document: OpenApiDocument = buildOpenApiDocument()): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
