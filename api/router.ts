import type { z } from 'zod/mini';
import { ProblemError, type ProblemCode } from '../core/problems';
import { fail, type HttpRequest, type HttpResponse } from './http';

export type RouteParams = Record<string, string>;
export type RouteHandler = (request: HttpRequest, params: RouteParams) => Promise<HttpResponse>;

export interface Route {
  method: string;
  /** Path template with `{name}` segments, e.g. `/v1/flows/{flowId}`. */
  path: string;
  handler: RouteHandler;
}

/**
 * What the OpenAPI document says of a route, kept on the route (api/openapi.ts walks the
 * routes of both APIs). Schemas are named, not imported: the partner routes are bundled
 * into the ingest function, which carries no zod. Each name is a component of a
 * resource's `...Components()` (its views' schemas, beside the views).
 */
export interface OperationDoc {
  operationId: string;
  summary: string;
  description?: string;
  /** No authentication (the health check): no security scheme and no authentication problems. */
  public?: boolean;
  /** Header parameters; each becomes a shared component under its name. */
  headers?: HeaderDoc[];
  /** The query validator the handler uses: one parameter per field. */
  query?: z.ZodMiniObject;
  /** A JSON body of a request component; without `schema`, any bytes of any content type (a partner's payload). */
  body?: { schema?: string; required: boolean; description?: string };
  /** By status: what the answer means and the response component it carries, if any. */
  responses: Record<number, { description: string; schema?: string }>;
  /**
   * The problems this route answers. Those of every authenticated route (`unauthenticated`,
   * `forbidden`, `throttled`, `internal`), of a path parameter that cannot be decoded and of an
   * oversized operator body are added by the generator.
   */
  errors: ProblemCode[];
}

export interface HeaderDoc {
  name: string;
  description: string;
  /** JSON Schema, written out: it is built from core/identifiers patterns, not from zod. */
  schema: Record<string, unknown>;
  example?: string;
}

/** A route with its OpenAPI description: every route of both APIs is one. */
export interface DocumentedRoute extends Route {
  doc: OperationDoc;
}

/**
 * OpenAPI components by name: requests as the handlers validate them (JSON Schema of the
 * input) and views as the handlers return them (of the output).
 */
export interface Components {
  requests?: Record<string, z.ZodMiniType>;
  responses?: Record<string, z.ZodMiniType>;
}

interface CompiledRoute extends Route {
  pattern: RegExp;
  names: string[];
}

export interface RouteMatch {
  route: Route;
  params: RouteParams;
}

/** A path parameter that is not valid percent-encoded UTF-8 (`%ZZ`, `%E0%A4%A`). */
export class InvalidPathError extends ProblemError {
  constructor(segment: string) {
    super('invalid-path', `The path segment "${segment.slice(0, 64)}" is not valid percent-encoded UTF-8.`);
  }
}

/** Decodes one path parameter; a malformed escape is a client error, never an exception. */
export function decodePathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidPathError(raw);
  }
}

/**
 * Maps method + path to a handler. Unknown paths are `not-found`; a known path with
 * another method is `method-not-allowed` with `Allow`; a path parameter that cannot
 * be decoded is `invalid-path`.
 */
export class Router {
  private readonly routes: CompiledRoute[];

  constructor(routes: Route[]) {
    this.routes = routes.map((route) => {
      const names: string[] = [];
      const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      return { ...route, names, pattern: new RegExp(`^${source}$`) };
    });
  }

  /** The methods routed for a path (for `Allow`); empty when the path is unknown. */
  allowedMethods(path: string): string[] {
    return [...new Set(this.routes.filter((route) => route.pattern.test(path)).map((route) => route.method))].sort();
  }

  /** Whether a route exists for method and path: decides nothing else and never throws. */
  matches(method: string, path: string): boolean {
    return this.routes.some((route) => route.method === method && route.pattern.test(path));
  }

  /** Finds the route; throws `InvalidPathError` when a parameter cannot be decoded. */
  match(method: string, path: string): RouteMatch | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const found = route.pattern.exec(path);
      if (!found) continue;
      const params: RouteParams = {};
      route.names.forEach((name, index) => {
        params[name] = decodePathSegment(found[index + 1]!);
      });
      return { route, params };
    }
    return undefined;
  }

  async handle(request: HttpRequest): Promise<HttpResponse> {
    const found = this.match(request.method, request.path);
    if (found) return found.route.handler(request, found.params);
    const allowed = this.allowedMethods(request.path);
    if (allowed.length > 0) {
      throw new ProblemError(
        'method-not-allowed',
        `${request.method} is not supported on ${request.path}; use ${allowed.join(', ')}.`,
        {},
        { allow: allowed.join(', ') },
      );
    }
    return fail('not-found', `No route for ${request.method} ${request.path}.`);
  }
}
