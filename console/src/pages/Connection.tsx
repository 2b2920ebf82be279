import { useState } from 'preact/hooks';
import { api, call, type Connection as ConnectionModel, type ConnectionAuth } from '../api/client';
import {
  Button,
  Definitions,
  Field,
  Notice,
  PageHeader,
  ProblemAlert,
  Section,
  StatusBadge,
  Time,
  useAction,
  useAsync,
} from '../components';
import { href } from '../router';

type AuthType = ConnectionAuth['type'];

function ReauthorizeForm({
  connectionId,
  current,
  onDone,
}: {
  connectionId: string;
  current: AuthType;
  onDone: (c: ConnectionModel) => void;
}) {
  const [type, setType] = useState<AuthType>(current);
  const [fields, setFields] = useState({ token: '', username: '', password: '', headerName: '', value: '' });
  const action = useAction();
  const set = (name: keyof typeof fields) => (event: Event) => setFields({ ...fields, [name]: (event.target as HTMLInputElement).value });
  const auth = (): ConnectionAuth => {
    switch (type) {
      case 'bearer':
        return { type, token: fields.token };
      case 'basic':
        return { type, username: fields.username, password: fields.password };
      case 'header':
        return { type, headerName: fields.headerName, value: fields.value };
      default:
        return { type: 'none' };
    }
  };
  const submit = (event: Event) => {
    event.preventDefault();
    void action.run('reauthorize', async () => {
      const connection = await call(
        api.POST('/v1/connections/{connectionId}/reauthorize', { params: { path: { connectionId } }, body: { auth: auth() } }),
      );
      onDone(connection);
      // Clear the secret from the page once the gateway has it.
      setFields({ token: '', username: '', password: '', headerName: fields.headerName, value: '' });
      return `Credentials replaced and probed: the connection is ${connection.status}.`;
    });
  };
  return (
    <form class="form" onSubmit={submit} aria-describedby="reauthorize-help">
      <p id="reauthorize-help" class="hint">
        New credentials replace the stored ones (they are never shown again), then the gateway probes the connection.
      </p>
      <Field label="Authentication" id="auth-type">
        <select id="auth-type" value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value as AuthType)}>
          <option value="bearer">Bearer token</option>
          <option value="basic">Basic (user name and password)</option>
          <option value="header">Custom header</option>
          <option value="none">None</option>
        </select>
      </Field>
      {type === 'bearer' ? (
        <Field label="Token" id="auth-token">
          <input id="auth-token" type="password" autoComplete="off" required value={fields.token} onInput={set('token')} />
        </Field>
      ) : null}
      {type === 'basic' ? (
        <>
          <Field label="User name" id="auth-username">
            <input id="auth-username" autoComplete="off" required value={fields.username} onInput={set('username')} />
          </Field>
          <Field label="Password" id="auth-password">
            <input id="auth-password" type="password" autoComplete="off" required value={fields.password} onInput={set('password')} />
          </Field>
        </>
      ) : null}
      {type === 'header' ? (
        <>
          <Field label="Header name" id="auth-header-name">
            <input id="auth-header-name" autoComplete="off" required value={fields.headerName} onInput={set('headerName')} />
          </Field>
          <Field label="Header value" id="auth-header-value">
            <input id="auth-header-value" type="password" autoComplete="off" required value={fields.value} onInput={set('value')} />
          </Field>
        </>
      ) : null}
      <div class="form-actions">
        <Button type="submit" variant="primary" busy={action.busy === 'reauthorize'}>
          Reauthorize
        </Button>
      </div>
      <ProblemAlert problem={action.problem} />
      <Notice text={action.notice} />
    </form>
  );
}

/** A datetime-local value (the operator's local time) as the API takes it. */
function instant(local: string): string {
  return new Date(local).toISOString();
}

/**
 * Replay (SPEC semantics 17): the connection's delivered messages of a time window go out
 * again, behind what is queued, flagged possible-duplicate. A large window takes several
 * calls; each goes on from the cursor of the last one.
 */
function ReplayForm({ connectionId, flows }: { connectionId: string; flows: string[] }) {
  const [form, setForm] = useState({ since: '', until: '', flowId: '' });
  const action = useAction();
  const set = (name: keyof typeof form) => (event: Event) =>
    setForm({ ...form, [name]: (event.target as HTMLInputElement | HTMLSelectElement).value });
  const submit = (event: Event) => {
    event.preventDefault();
    void action.run('replay', async () => {
      const body = {
        since: instant(form.since),
        ...(form.until ? { until: instant(form.until) } : {}),
        ...(form.flowId ? { flowId: form.flowId } : {}),
      };
      let replayed = 0;
      let until = body.until;
      let cursor: string | undefined;
      do {
        const result = await call(
          api.POST('/v1/connections/{connectionId}/replay', {
            params: { path: { connectionId } },
            body: { ...body, ...(cursor ? { cursor } : {}) },
          }),
        );
        replayed += result.replayed;
        until = result.until;
        cursor = result.cursor ?? undefined;
      } while (cursor);
      const what = `${replayed} deliver${replayed === 1 ? 'y' : 'ies'} of messages received from ${new Date(body.since).toLocaleString()} until ${new Date(until!).toLocaleString()}`;
      return replayed === 0
        ? `Nothing to replay: no delivered messages in that window.`
        : `Replayed ${what}. They go out behind what is queued, flagged possible-duplicate.`;
    });
  };
  return (
    <form class="form" onSubmit={submit} aria-describedby="replay-help">
      <p id="replay-help" class="hint">
        For a target restored from a backup: every message this connection was delivered, received in the window, is sent again in its
        original order, after what is already queued, flagged <code>x-sluice-possible-duplicate</code>. Messages that are not delivered are
        left as they are.
      </p>
      <Field label="Received from" id="replay-since">
        <input id="replay-since" type="datetime-local" step="1" required value={form.since} onInput={set('since')} />
      </Field>
      <Field label="Received before" id="replay-until" hint="Empty: until now.">
        <input id="replay-until" type="datetime-local" step="1" value={form.until} onInput={set('until')} />
      </Field>
      <Field label="Flow" id="replay-flow">
        <select id="replay-flow" value={form.flowId} onChange={set('flowId')}>
          <option value="">Every flow that uses it</option>
          {flows.map((flowId) => (
            <option key={flowId} value={flowId}>
              {flowId}
            </option>
          ))}
        </select>
      </Field>
      <div class="form-actions">
        <Button type="submit" variant="primary" busy={action.busy === 'replay'}>
          Replay
        </Button>
      </div>
      <ProblemAlert problem={action.problem} />
      <Notice text={action.notice} />
    </form>
  );
}

export function ConnectionPage({ connectionId }: { connectionId: string }) {
  const state = useAsync(() => call(api.GET('/v1/connections/{connectionId}', { params: { path: { connectionId } } })), [connectionId]);
  const action = useAction();
  const connection = state.data;
  const act = (name: 'offline' | 'online' | 'probe', done: (c: ConnectionModel) => string) =>
    action.run(name, async () => {
      const path = `/v1/connections/{connectionId}/${name}` as const;
      const updated = await call(api.POST(path, { params: { path: { connectionId } } }));
      state.setData(updated);
      return done(updated);
    });
  return (
    <>
      <PageHeader title={`Connection ${connectionId}`} subtitle={connection ? connection.url : undefined}>
        {connection ? <StatusBadge status={connection.status} /> : null}
      </PageHeader>
      <ProblemAlert problem={state.problem} />
      {connection ? (
        <>
          <Section
            title="Status"
            actions={
              <div class="button-row">
                <Button
                  onClick={() => act('offline', () => 'Taken offline: deliveries are held until it is back online.')}
                  busy={action.busy === 'offline'}
                >
                  Take offline
                </Button>
                <Button onClick={() => act('online', (c) => `Set online (${c.status}).`)} busy={action.busy === 'online'}>
                  Bring online
                </Button>
                <Button
                  variant="primary"
                  onClick={() => act('probe', (c) => `Probed: ${c.status}${c.statusReason ? ` (${c.statusReason})` : ''}.`)}
                  busy={action.busy === 'probe'}
                >
                  Probe now
                </Button>
              </div>
            }
          >
            <ProblemAlert problem={action.problem} />
            <Notice text={action.notice} />
            <Definitions
              items={[
                ['Status', <StatusBadge status={connection.status} />],
                ['Reason', connection.statusReason],
                ['Since', <Time at={connection.statusSince} />],
                ['Last probe', <Time at={connection.lastProbeAt} empty="never" />],
                ['Next probe', <Time at={connection.nextProbeAt} empty="not scheduled" />],
                ['Consecutive failures', String(connection.consecutiveFailures)],
                ['Set offline by hand', connection.manualOffline ? 'yes' : 'no'],
              ]}
            />
          </Section>
          <Section title="Reauthorize">
            <ReauthorizeForm connectionId={connectionId} current={connection.auth.type} onDone={state.setData} />
          </Section>
          <Section title="Settings">
            <Definitions
              items={[
                ['URL', <code>{connection.url}</code>],
                ['Authentication', connection.auth.type],
                ['Timeout', `${connection.timeoutMs} ms`],
                [
                  'Retries',
                  `${connection.retry.count} every ${connection.retry.intervalSeconds} s (${connection.retry.backoff ?? 'fixed'})`,
                ],
                ['Lanes', String(connection.threads)],
                ['On error', connection.onError],
                [
                  'Success statuses',
                  Array.isArray(connection.successStatuses) ? connection.successStatuses.join(', ') : connection.successStatuses,
                ],
                ['Offline after', `${connection.offlineAfter} failures`],
                ['Probe', `${connection.probe.method} ${connection.probe.path ?? '/'}`],
                [
                  'Flows',
                  connection.flows.length > 0 ? (
                    <span class="link-list">
                      {connection.flows.map((flowId) => (
                        <a key={flowId} href={href.flow(flowId)}>
                          {flowId}
                        </a>
                      ))}
                    </span>
                  ) : (
                    'none'
                  ),
                ],
              ]}
            />
          </Section>
          <Section title="Replay">
            <ReplayForm connectionId={connectionId} flows={connection.flows} />
          </Section>
        </>
      ) : null}
    </>
  );
}
