import { useEffect, useState } from 'preact/hooks';
import { api, call, type Connection, type Flow } from '../api/client';
import { Empty, PageHeader, ProblemAlert, Section, StatusBadge, Time, useAsync } from '../components';
import { href } from '../router';
import type { Snapshot } from '../snapshot';

/** How often the dashboard refreshes itself. */
export const DASHBOARD_REFRESH_MS = 5000;

async function loadDashboard(): Promise<Snapshot> {
  const [flows, connections] = await Promise.all([call(api.GET('/v1/flows')), call(api.GET('/v1/connections'))]);
  return { flows: flows.items, connections: connections.items, at: new Date() };
}

const COUNTS = ['accepted', 'queued', 'delivered', 'failed', 'suspended', 'inError'] as const;

function FlowsTable({ flows }: { flows: Flow[] }) {
  if (flows.length === 0) return <Empty>No flows yet. Create one with PUT /v1/flows/&#123;flowId&#125;.</Empty>;
  return (
    <div class="table-wrap">
      <table id="flows">
        <caption class="visually-hidden">Flows with their status and message counts</caption>
        <thead>
          <tr>
            <th scope="col">Flow</th>
            <th scope="col">Partner</th>
            <th scope="col">Status</th>
            {COUNTS.map((name) => (
              <th scope="col" class="num" key={name}>
                {name === 'inError' ? 'in error' : name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {flows.map((flow) => (
            <tr key={flow.flowId} data-flow={flow.flowId}>
              <th scope="row">
                <a href={href.flow(flow.flowId)}>{flow.flowId}</a>
              </th>
              <td>{flow.partnerId}</td>
              <td>
                <StatusBadge status={flow.status} />
                {flow.statusReason ? <div class="cell-sub">{flow.statusReason}</div> : null}
              </td>
              {COUNTS.map((name) => (
                <td class={`num${(name === 'failed' || name === 'inError') && flow.counts[name] > 0 ? ' num-bad' : ''}`} key={name}>
                  {flow.counts[name]}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ConnectionsTable({ connections }: { connections: Connection[] }) {
  if (connections.length === 0) return <Empty>No connections yet. Create one with PUT /v1/connections/&#123;connectionId&#125;.</Empty>;
  return (
    <div class="table-wrap">
      <table id="connections">
        <caption class="visually-hidden">Connections with their status and probes</caption>
        <thead>
          <tr>
            <th scope="col">Connection</th>
            <th scope="col">Status</th>
            <th scope="col">Since</th>
            <th scope="col">Last probe</th>
            <th scope="col">Next probe</th>
            <th scope="col">Flows</th>
          </tr>
        </thead>
        <tbody>
          {connections.map((connection) => (
            <tr key={connection.connectionId} data-connection={connection.connectionId}>
              <th scope="row">
                <a href={href.connection(connection.connectionId)}>{connection.connectionId}</a>
                <div class="cell-sub cell-url" title={connection.url}>
                  {connection.url}
                </div>
              </th>
              <td>
                <StatusBadge status={connection.status} />
                {connection.statusReason ? <div class="cell-sub">{connection.statusReason}</div> : null}
              </td>
              <td>
                <Time at={connection.statusSince} />
              </td>
              <td>
                <Time at={connection.lastProbeAt} empty="never" />
              </td>
              <td>
                <Time at={connection.nextProbeAt} empty="not scheduled" />
              </td>
              <td>{connection.flows.length > 0 ? connection.flows.join(', ') : <span class="muted">none</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Dashboard({ initial }: { initial?: Snapshot }) {
  const state = useAsync(loadDashboard, [], initial);
  const [paused, setPaused] = useState(false);
  useEffect(() => {
    if (paused) return;
    const timer = setInterval(() => void state.reload(), DASHBOARD_REFRESH_MS);
    return () => clearInterval(timer);
  }, [paused, state.reload]);
  const data = state.data;
  const failed = data?.flows.reduce((sum, flow) => sum + flow.counts.failed + flow.counts.inError, 0) ?? 0;
  const down = data?.connections.filter((c) => c.status !== 'online').length ?? 0;
  return (
    <>
      <PageHeader
        title="Dashboard"
        subtitle={
          <span aria-live="polite">
            {data ? (
              <>
                Updated <Time at={data.at.toISOString()} />
                {paused ? ' · auto-refresh paused' : ` · refreshes every ${DASHBOARD_REFRESH_MS / 1000} s`}
              </>
            ) : (
              'Loading…'
            )}
          </span>
        }
      >
        <button type="button" class="button button-secondary" aria-pressed={paused ? 'true' : 'false'} onClick={() => setPaused(!paused)}>
          {paused ? 'Resume auto-refresh' : 'Pause auto-refresh'}
        </button>
        <button type="button" class="button button-secondary" onClick={() => void state.reload()}>
          Refresh now
        </button>
      </PageHeader>
      <ProblemAlert problem={state.problem} />
      {data ? (
        <>
          <div class="tiles">
            <div class="tile">
              <span class="tile-value">{data.flows.length}</span>
              <span class="tile-label">flows</span>
            </div>
            <div class="tile">
              <span class="tile-value">{data.connections.length}</span>
              <span class="tile-label">connections</span>
            </div>
            <div class={`tile${down > 0 ? ' tile-bad' : ''}`}>
              <span class="tile-value">{down}</span>
              <span class="tile-label">connections not online</span>
            </div>
            <a class={`tile${failed > 0 ? ' tile-bad' : ''}`} href={href.failed()}>
              <span class="tile-value">{failed}</span>
              <span class="tile-label">failed or in error</span>
            </a>
          </div>
          <Section title="Flows">
            <FlowsTable flows={data.flows} />
          </Section>
          <Section title="Connections">
            <ConnectionsTable connections={data.connections} />
          </Section>
        </>
      ) : null}
    </>
  );
}
