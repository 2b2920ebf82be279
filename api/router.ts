import { ProblemError } from '../core/problems';
import { fail, type HttpRequest, type HttpResponse } from './http';

export type RouteParams = Record<string, string>;
export type RouteHandler = (request: HttpRequest, params: RouteParams) => Promise<HttpResponse>;

export interface Route {
  method: string;
  /** Path template with `{name}` segments, e.g. `/v1/flows/{flowId}`. */
  path: string;
  handler: RouteHandler;
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
