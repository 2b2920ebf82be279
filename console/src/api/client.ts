import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type Flow = Schemas['Flow'];
export type Connection = Schemas['Connection'];
export type FailedEvent = Schemas['FailedEvent'];
export type FailureType = Schemas['FailureType'];
export type MessageDetail = Schemas['MessageDetail'];
export type MessageSummary = Schemas['MessageSummary'];
export type MessageStatus = Schemas['MessageStatus'];
export type ConnectionAuth = Schemas['ConnectionAuth'];

/** What the console shows for any failure: the RFC 9457 problem's title and detail. */
export interface Problem {
  title: string;
  detail: string;
  status?: number;
  code?: string;
}

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.title}: ${problem.detail}`);
    this.name = 'ProblemError';
  }
}

const TOKEN_KEY = 'sluice.console.token';

/**
 * The token arrives in the URL fragment (never sent to a server) and is kept for this
 * tab only. Under `sluice console` it is that server's session key, not a gateway
 * credential: the relay signs the gateway calls itself.
 */
export function takeTokenFromFragment(): void {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]!));
  history.replaceState(null, '', `${location.pathname}${location.search}#/`);
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function setToken(value: string): void {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function authHeaders(): Record<string, string> {
  const value = token();
  return value ? { authorization: `Bearer ${value}` } : {};
}

const auth: Middleware = {
  onRequest({ request }) {
    const value = token();
    if (value) request.headers.set('authorization', `Bearer ${value}`);
    return request;
  },
};

/** The typed operator API client (paths and bodies from docs/openapi.json). */
export const api = createClient<paths>({ baseUrl: location.origin });
api.use(auth);

/** Any non-2xx answer as a problem, whatever produced it. */
export function problemOf(status: number, body: unknown, fallbackText = ''): Problem {
  if (body && typeof body === 'object') {
    const value = body as Record<string, unknown>;
    if (typeof value.title === 'string' || typeof value.detail === 'string') {
      return {
        title: typeof value.title === 'string' ? value.title : `HTTP ${status}`,
        detail: typeof value.detail === 'string' ? value.detail : '',
        status,
        ...(typeof value.code === 'string' ? { code: value.code } : {}),
      };
    }
    if (typeof value.message === 'string') return { title: `HTTP ${status}`, detail: value.message, status };
  }
  const text = typeof body === 'string' ? body : fallbackText;
  return { title: `HTTP ${status}`, detail: text.slice(0, 300) || 'The server answered without details.', status };
}

/** Unwraps an openapi-fetch result: the data, or a ProblemError. */
export async function call<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: Awaited<typeof pending>;
  try {
    result = await pending;
  } catch (error) {
    throw new ProblemError({ title: 'Network error', detail: `The console could not reach the gateway (${(error as Error).message}).` });
  }
  if (!result.response.ok || result.error !== undefined) throw new ProblemError(problemOf(result.response.status, result.error));
  return result.data as T;
}

/** The console server's own routes (payload transfer), outside the gateway's API. */
export async function consoleFetch(path: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers as Record<string, string>) } });
  } catch (error) {
    throw new ProblemError({ title: 'Network error', detail: `The console server could not be reached (${(error as Error).message}).` });
  }
  if (!response.ok) {
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: shown as text
    }
    throw new ProblemError(problemOf(response.status, body, text));
  }
  return response;
}
