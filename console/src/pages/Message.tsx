import { useState } from 'preact/hooks';
import { api, call, ProblemError, type MessageDetail } from '../api/client';
import {
  Button,
  Definitions,
  Empty,
  Field,
  PageHeader,
  errorText,
  ProblemAlert,
  Section,
  StatusBadge,
  Time,
  formatBytes,
  toProblem,
  useAsync,
} from '../components';
import { href } from '../router';
import type { Problem } from '../api/client';

function Timeline({ report }: { report: MessageDetail['report'] }) {
  if (report.length === 0) return <Empty>No events recorded.</Empty>;
  return (
    <ol class="timeline" id="report">
      {report.map((entry, index) => (
        <li key={index} class={`timeline-item timeline-${entry.level}`} data-event={entry.event}>
          <span class="timeline-marker" aria-hidden="true" />
          <div class="timeline-body">
            <div class="timeline-head">
              <strong>{entry.event}</strong>
              {entry.attempt !== undefined ? <span class="chip">attempt {entry.attempt}</span> : null}
              {entry.httpStatus !== undefined ? <span class="chip">HTTP {entry.httpStatus}</span> : null}
              {entry.durationMs !== undefined ? <span class="chip">{entry.durationMs} ms</span> : null}
              {entry.connectionId ? <span class="chip">→ {entry.connectionId}</span> : null}
              {entry.level !== 'info' ? <StatusBadge status={entry.level} /> : null}
              <Time at={entry.at} />
            </div>
            {entry.detail ? <p class="timeline-detail">{entry.detail}</p> : null}
          </div>
        </li>
      ))}
    </ol>
  );
}

export function MessageView({ message }: { message: MessageDetail }) {
  return (
    <>
      <Section title="Message">
        <Definitions
          items={[
            ['Status', <StatusBadge status={message.status} />],
            ['Flow', <a href={href.flow(message.flowId)}>{message.flowId}</a>],
            ['Partner', message.partnerId],
            ['Received', <Time at={message.receivedAt} />],
            ['Payload', `${formatBytes(message.bytes)}, ${message.contentType}`],
            ['SHA-256', <code>{message.sha256}</code>],
            ['Correlation id', <code>{message.correlationId}</code>],
            ['Chain', message.chainId],
            ['Expires', message.expiresAt ? <Time at={message.expiresAt} /> : undefined],
            ['Kept until', message.retainedUntil ? <Time at={message.retainedUntil} /> : undefined],
          ]}
        />
      </Section>
      <Section title="Deliveries">
        <div class="table-wrap">
          <table id="deliveries">
            <thead>
              <tr>
                <th scope="col">Connection</th>
                <th scope="col">Lane</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col">Last error</th>
                <th scope="col">Next attempt / delivered</th>
              </tr>
            </thead>
            <tbody>
              {message.deliveries.map((delivery) => (
                <tr key={delivery.connectionId}>
                  <th scope="row">
                    <a href={href.connection(delivery.connectionId)}>{delivery.connectionId}</a>
                  </th>
                  <td>{delivery.lane}</td>
                  <td>
                    <StatusBadge status={delivery.status} />
                    {delivery.failureType ? <span class="chip">{delivery.failureType}</span> : null}
                  </td>
                  <td class="num">{delivery.attempts}</td>
                  <td>{delivery.lastError ? errorText(delivery.lastError) : <span class="muted">—</span>}</td>
                  <td>{delivery.deliveredAt ? <Time at={delivery.deliveredAt} /> : <Time at={delivery.nextAttemptAt} />}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>
      <Section title="Execution report">
        <Timeline report={message.report} />
      </Section>
    </>
  );
}

function loadMessage(flowId: string, messageId: string) {
  return call(api.GET('/v1/flows/{flowId}/messages/{messageId}', { params: { path: { flowId, messageId } } })) as Promise<MessageDetail>;
}

export function MessagePage({ flowId, messageId }: { flowId: string; messageId: string }) {
  const state = useAsync(() => loadMessage(flowId, messageId), [flowId, messageId]);
  return (
    <>
      <PageHeader
        title={`Message ${messageId}`}
        subtitle={
          <>
            in flow <a href={href.flow(flowId)}>{flowId}</a>
          </>
        }
      >
        <Button onClick={() => void state.reload()}>Refresh</Button>
      </PageHeader>
      <ProblemAlert problem={state.problem} />
      {state.data ? <MessageView message={state.data} /> : null}
    </>
  );
}

/** Finds a message by its GUID, in one flow or in every flow (GUIDs are unique per flow). */
export function SearchPage() {
  const flows = useAsync(() => call(api.GET('/v1/flows')), []);
  const [flowId, setFlowId] = useState('');
  const [guid, setGuid] = useState('');
  const [busy, setBusy] = useState(false);
  const [found, setFound] = useState<MessageDetail[] | undefined>();
  const [problem, setProblem] = useState<Problem | undefined>();
  const search = async (event: Event) => {
    event.preventDefault();
    const id = guid.trim();
    if (!id) return;
    setBusy(true);
    setProblem(undefined);
    setFound(undefined);
    try {
      const candidates = flowId ? [flowId] : (flows.data?.items ?? []).map((flow) => flow.flowId);
      const results = await Promise.all(
        candidates.map((candidate) =>
          loadMessage(candidate, id).catch((error) => {
            if (error instanceof ProblemError && error.problem.status === 404) return undefined;
            throw error;
          }),
        ),
      );
      setFound(results.filter((m): m is MessageDetail => m !== undefined));
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <PageHeader title="Find a message" subtitle="By the GUID the partner sent (x-aux-system-msg-id)." />
      <Section title="Search">
        <form class="form form-inline" onSubmit={search} role="search">
          <Field label="Message GUID" id="search-guid">
            <input
              id="search-guid"
              required
              value={guid}
              onInput={(e) => setGuid((e.target as HTMLInputElement).value)}
              placeholder="e.g. order-4711"
            />
          </Field>
          <Field label="Flow" id="search-flow">
            <select id="search-flow" value={flowId} onChange={(e) => setFlowId((e.target as HTMLSelectElement).value)}>
              <option value="">All flows</option>
              {(flows.data?.items ?? []).map((flow) => (
                <option key={flow.flowId} value={flow.flowId}>
                  {flow.flowId}
                </option>
              ))}
            </select>
          </Field>
          <div class="form-actions">
            <Button type="submit" variant="primary" busy={busy}>
              Search
            </Button>
          </div>
        </form>
        <ProblemAlert problem={problem ?? flows.problem} />
        {found && found.length === 0 ? (
          <Empty>
            No message with GUID {guid.trim()}
            {flowId ? ` in flow ${flowId}` : ' in any flow'}.
          </Empty>
        ) : null}
      </Section>
      {found?.map((message) => (
        <div key={`${message.flowId}/${message.messageId}`}>
          <h2 class="result-heading">
            <a href={href.message(message.flowId, message.messageId)}>
              {message.flowId} / {message.messageId}
            </a>
          </h2>
          <MessageView message={message} />
        </div>
      ))}
    </>
  );
}
