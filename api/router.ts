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

/** Maps method + path to a handler; unknown paths are `not-found` problems. */
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

  match(method: string, path: string): { route: Route; params: RouteParams } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const found = route.pattern.exec(path);
      if (!found) continue;
      const params: RouteParams = {};
      route.names.forEach((name, index) => {
        params[name] = decodeURIComponent(found[index + 1]!);
      });
      return { route, params };
    }
    return undefined;
  }

  async handle(request: HttpRequest): Promise<HttpResponse> {
    const found = this.match(request.method, request.path);
    if (!found) return fail('not-found', `No route for ${request.method} ${request.path}.`);
    return found.route.handler(request, found.params);
  }
}
