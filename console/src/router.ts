import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'dashboard' }
  | { page: 'flow'; flowId: string }
  | { page: 'message'; flowId: string; messageId: string }
  | { page: 'connection'; connectionId: string }
  | { page: 'failed' }
  | { page: 'failed-event'; id: string }
  | { page: 'search' }
  | { page: 'not-found'; path: string };

const seg = encodeURIComponent;

/** Hash routes: the console is static files, so deep links need no server routing. */
export const href = {
  dashboard: () => '#/',
  flow: (flowId: string) => `#/flows/${seg(flowId)}`,
  message: (flowId: string, messageId: string) => `#/flows/${seg(flowId)}/messages/${seg(messageId)}`,
  connection: (connectionId: string) => `#/connections/${seg(connectionId)}`,
  failed: () => '#/failed',
  failedEvent: (id: string) => `#/failed/${seg(id)}`,
  search: () => '#/search',
};

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const parts = path
    .split('/')
    .filter(Boolean)
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
  if (parts.length === 0) return { page: 'dashboard' };
  if (parts[0] === 'flows' && parts.length === 2) return { page: 'flow', flowId: parts[1]! };
  if (parts[0] === 'flows' && parts.length === 4 && parts[2] === 'messages')
    return { page: 'message', flowId: parts[1]!, messageId: parts[3]! };
  if (parts[0] === 'connections' && parts.length === 2) return { page: 'connection', connectionId: parts[1]! };
  if (parts[0] === 'failed' && parts.length === 1) return { page: 'failed' };
  if (parts[0] === 'failed' && parts.length === 2) return { page: 'failed-event', id: parts[1]! };
  if (parts[0] === 'search' && parts.length === 1) return { page: 'search' };
  return { page: 'not-found', path };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
