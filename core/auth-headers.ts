import type { ConnectionAuth } from './model';

/** The request headers that carry a connection's credentials (deliveries and probes alike). */
export function authHeaders(auth: ConnectionAuth): Record<string, string> {
  switch (auth.type) {
    case 'none':
      return {};
    case 'bearer':
      return { authorization: `Bearer ${auth.token}` };
    case 'basic':
      return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
    case 'header':
      return { [auth.headerName.toLowerCase()]: auth.value };
  }
}
