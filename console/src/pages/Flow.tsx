import { useState } from 'preact/hooks';
import { api, call, type MessageStatus } from '../api/client';
import {
  Button,
  Definitions,
  Empty,
  Field,
  Notice,
  PageHeader,
  ProblemAlert,
  Section,
  StatusBadge,
  Time,
  formatBytes,
  useAction,
  useAsync,
} from '../components';
import { href } from '../router';

const ACTIONS = [
  { name: 'pause', label: 'Pause', done: 'Paused: messages are accepted and held until the flow is resumed.' },
  { name: 'resume', label: 'Resume', done: 'Resumed: held messages are delivered in order.' },
  { name: 'disable', label: 'Disable', done: 'Disabled: partners are refused until it is enabled.' },
  { name: 'enable', label: 'Enable', done: 'Enabled.' },
  { name: 'start', label: 'Start', done: 'Started.' },
] as const;

const STATUSES: MessageStatus[] = ['accepted', 'queued', 'retrying', 'paused', 'inError', 'delivered', 'failed', 'suspended', 'discarded'];
const PAGE_SIZE = 20;

function Messages({ flowId }: { flowId: string }) {
  const [status, setStatus] = useState<MessageStatus | ''>('');
  // Cursors of the pages before the current one, so "Previous" works without the API going backwards.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const page = useAsync(
    () =>
      call(
        api.GET('/v1/flows/{flowId}/messages', {
          params: { path: { flowId }, query: { limit: PAGE_SIZE, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) } },
        }),
      ),
    [flowId, status, cursor],
  );
  return (
    <Section
      title="Messages"
      actions={
        <div class="inline-form">
          <Field label="Message status" id="message-status">
            <select
              id="message-status"
              value={status}
              onChange={(e) => {
                setStatus((e.target as HTMLSelectElement).value as MessageStatus | '');
                setCursors([undefined]);
              }}
            >
              <option value="">All statuses</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </Field>
        </div>
      }
    >
      <ProblemAlert problem={page.problem} />
      {page.data && page.data.items.length === 0 ? <Empty>No messages{status ? ` in status ${status}` : ''}.</Empty> : null}
      {page.data && page.data.items.length > 0 ? (
        <div class="table-wrap">
          <table id="messages">
            <thead>
              <tr>
                <th scope="col">Message (GUID)</th>
                <th scope="col">Status</th>
                <th scope="col">Received</th>
                <th scope="col">Size</th>
                <th scope="col">Chain</th>
              </tr>
            </thead>
            <tbody>
              {page.data.items.map((message) => (
                <tr key={message.messageId}>
                  <th scope="row">
                    <a href={href.message(flowId, message.messageId)}>{message.messageId}</a>
                  </th>
                  <td>
                    <StatusBadge status={message.status} />
                  </td>
                  <td>
                    <Time at={message.receivedAt} />
                  </td>
                  <td>{formatBytes(message.bytes)}</td>
                  <td>{message.chainId ?? <span class="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <nav class="pager" aria-label="Message pages">
        <Button disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </Button>
        <span class="muted">Page {cursors.length}</span>
        <Button disabled={!page.data?.cursor} onClick={() => setCursors([...cursors, page.data!.cursor!])}>
          Next page
        </Button>
      </nav>
    </Section>
  );
}

function FlowLog({ flowId }: { flowId: string }) {
  const log = useAsync(() => call(api.GET('/v1/flows/{flowId}/log', { params: { path: { flowId } } })), [flowId]);
  return (
    <Section title="Flow log" actions={<Button onClick={() => void log.reload()}>Refresh log</Button>}>
      <ProblemAlert problem={log.problem} />
      {log.data && log.data.entries.length === 0 ? <Empty>Nothing logged yet.</Empty> : null}
      {log.data && log.data.entries.length > 0 ? (
        <div class="table-wrap">
          <table id="flow-log">
            <thead>
              <tr>
                <th scope="col">At</th>
                <th scope="col">Level</th>
                <th scope="col">Code</th>
                <th scope="col">Detail</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {log.data.entries.map((entry, index) => (
                <tr key={index}>
                  <td>
                    <Time at={entry.at} />
                  </td>
                  <td>
                    <StatusBadge status={entry.level} />
                  </td>
                  <td>
                    <code>{entry.code}</code>
                  </td>
                  <td>{entry.detail}</td>
                  <td>
                    {entry.messageId ? <a href={href.message(flowId, entry.messageId)}>{entry.messageId}</a> : <span class="muted">—</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Section>
  );
}

export function FlowPage({ flowId }: { flowId: string }) {
  const state = useAsync(() => call(api.GET('/v1/flows/{flowId}', { params: { path: { flowId } } })), [flowId]);
  const action = useAction();
  const flow = state.data;
  const act = (name: (typeof ACTIONS)[number]['name'], done: string) =>
    action.run(name, async () => {
      await call(api.POST(`/v1/flows/{flowId}/${name}`, { params: { path: { flowId } } }));
      await state.reload();
      return done;
    });
  return (
    <>
      <PageHeader title={`Flow ${flowId}`} subtitle={flow ? `Partner ${flow.partnerId} → ${flow.destinations.join(', ')}` : undefined}>
        {flow ? <StatusBadge status={flow.status} /> : null}
      </PageHeader>
      <ProblemAlert problem={state.problem} />
      {flow ? (
        <>
          <Section
            title="Status"
            actions={
              <div class="button-row" role="group" aria-label="Flow actions">
                {ACTIONS.map((a) => (
                  <Button
                    key={a.name}
                    variant={a.name === 'disable' ? 'danger' : 'secondary'}
                    busy={action.busy === a.name}
                    onClick={() => act(a.name, a.done)}
                  >
                    {a.label}
                  </Button>
                ))}
              </div>
            }
          >
            <ProblemAlert problem={action.problem} />
            <Notice text={action.notice} />
            <Definitions
              items={[
                [
                  'Status',
                  <span id="flow-status">
                    <StatusBadge status={flow.status} />
                  </span>,
                ],
                ['Reason', flow.statusReason],
                ['Since', <Time at={flow.statusSince} />],
                [
                  'Destinations',
                  <span class="link-list">
                    {flow.destinations.map((id) => (
                      <a key={id} href={href.connection(id)}>
                        {id}
                      </a>
                    ))}
                  </span>,
                ],
                ['On failure', flow.onFailure],
                ['Auto retry', flow.autoRetry ? 'yes' : 'no'],
                ['Max payload', formatBytes(flow.maxPayloadBytes)],
                ['Retention', `${flow.retentionDays} days after final`],
              ]}
            />
            <div class="tiles tiles-compact">
              {(['accepted', 'queued', 'delivered', 'failed', 'suspended', 'inError'] as const).map((name) => (
                <div class="tile" key={name}>
                  <span class="tile-value">{flow.counts[name]}</span>
                  <span class="tile-label">{name === 'inError' ? 'in error' : name}</span>
                </div>
              ))}
            </div>
          </Section>
          <Messages flowId={flowId} />
          <FlowLog flowId={flowId} />
        </>
      ) : null}
    </>
  );
}
