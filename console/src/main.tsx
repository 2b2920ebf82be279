import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { clearToken, setToken, takeTokenFromFragment, token } from './api/client';
import { Button, Field } from './components';
import { ConnectionPage } from './pages/Connection';
import { Dashboard } from './pages/Dashboard';
import { FailedEventPage, FailedEventsPage } from './pages/FailedEvents';
import { FlowPage } from './pages/Flow';
import { MessagePage, SearchPage } from './pages/Message';
import { href, parseRoute, useRoute, type Route } from './router';
import { loadSnapshotSync, type Snapshot } from './snapshot';
import './styles.css';

const NAV: { label: string; href: string; pages: Route['page'][] }[] = [
  { label: 'Dashboard', href: href.dashboard(), pages: ['dashboard', 'flow', 'connection', 'message'] },
  { label: 'Failed events', href: href.failed(), pages: ['failed', 'failed-event'] },
  { label: 'Find a message', href: href.search(), pages: ['search'] },
];

function SignIn() {
  const [value, setValue] = useState('');
  return (
    <main id="main" class="main narrow">
      <h1>Sign in</h1>
      <p>
        Open the address that <code>npm start</code> or <code>sluice console</code> printed (it carries the token after <code>#token=</code>
        ), or paste the operator token here.
      </p>
      <form
        class="form"
        onSubmit={(event) => {
          event.preventDefault();
          setToken(value.trim());
          location.hash = '#/';
          location.reload();
        }}
      >
        <Field label="Operator token" id="token">
          <input
            id="token"
            type="password"
            required
            autoComplete="off"
            value={value}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          />
        </Field>
        <div class="form-actions">
          <Button type="submit" variant="primary">
            Sign in
          </Button>
        </div>
      </form>
    </main>
  );
}

function Page({ route, snapshot }: { route: Route; snapshot: Snapshot | undefined }) {
  switch (route.page) {
    case 'dashboard':
      return <Dashboard initial={snapshot} />;
    case 'flow':
      return <FlowPage key={route.flowId} flowId={route.flowId} />;
    case 'message':
      return <MessagePage key={`${route.flowId}/${route.messageId}`} flowId={route.flowId} messageId={route.messageId} />;
    case 'connection':
      return <ConnectionPage key={route.connectionId} connectionId={route.connectionId} />;
    case 'failed':
      return <FailedEventsPage />;
    case 'failed-event':
      return <FailedEventPage key={route.id} id={route.id} />;
    case 'search':
      return <SearchPage />;
    default:
      return (
        <div class="card">
          <h1>Not found</h1>
          <p>
            The console has no page <code>{route.path}</code>. <a href={href.dashboard()}>Back to the dashboard</a>.
          </p>
        </div>
      );
  }
}

function App({ snapshot }: { snapshot: Snapshot | undefined }) {
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // Move focus to the new page's heading so keyboard and screen-reader users land on it.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route]);
  return (
    <>
      {/* biome-ignore lint/a11y/useValidAnchor: a skip link is an in-page anchor; the handler only moves focus past the router */}
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={href.dashboard()}>
          <span class="brand-mark" aria-hidden="true">
            ≋
          </span>{' '}
          Sluice <span class="brand-sub">operator console</span>
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.href}>
                <a href={item.href} aria-current={item.pages.includes(route.page) ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          class="signout"
          onClick={() => {
            clearToken();
            location.hash = '#/';
            location.reload();
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" class="main" ref={main} tabIndex={-1}>
        <Page route={route} snapshot={snapshot} />
      </main>
    </>
  );
}

takeTokenFromFragment();
const root = document.getElementById('app')!;
if (!token()) {
  render(<SignIn />, root);
} else {
  const snapshot = parseRoute(location.hash).page === 'dashboard' ? loadSnapshotSync() : undefined;
  render(<App snapshot={snapshot} />, root);
}
