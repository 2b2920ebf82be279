import { useRef, useState } from 'preact/hooks';
import { api, call, consoleFetch, type FailedEvent, type FailureType } from '../api/client';
import {
  Button,
  Definitions,
  Empty,
  Field,
  Notice,
  errorText,
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

const TYPES: FailureType[] = ['business', 'timeout', 'unavailable', 'expired', 'configuration', 'internal'];
const PAGE_SIZE = 50;
/** A dry run reads at most this many pages before it stops counting. */
const DRY_RUN_MAX_PAGES = 40;

interface Filters {
  flowId: string;
  connectionId: string;
  type: FailureType | '';
  /** datetime-local values (the operator's local time). */
  since: string;
  until: string;
}

const NO_FILTERS: Filters = { flowId: '', connectionId: '', type: '', since: '', until: '' };

function query(filters: Filters) {
  return {
    ...(filters.flowId ? { flowId: filters.flowId } : {}),
    ...(filters.connectionId ? { connectionId: filters.connectionId } : {}),
    ...(filters.type ? { type: filters.type } : {}),
  };
}

/** The time window is applied here: the listing filters by flow, connection and type only. */
function inWindow(filters: Filters, event: FailedEvent): boolean {
  const at = Date.parse(event.failedAt);
  if (filters.since && at < new Date(filters.since).getTime()) return false;
  if (filters.until && at > new Date(filters.until).getTime()) return false;
  return true;
}

async function fetchPage(filters: Filters, cursor?: string) {
  return call(api.GET('/v1/failed-events', { params: { query: { ...query(filters), limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } } }));
}

/** Every failed event the filters match (what a bulk restart would touch), for the dry run. */
async function matchAll(filters: Filters): Promise<{ items: FailedEvent[]; complete: boolean }> {
  const items: FailedEvent[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < DRY_RUN_MAX_PAGES; page++) {
    const result = await fetchPage(filters, cursor);
    items.push(...result.items.filter((event) => event.status === 'failed' && inWindow(filters, event)));
    if (!result.cursor) return { items, complete: true };
    cursor = result.cursor;
  }
  return { items, complete: false };
}

function FilterForm({ value, onApply }: { value: Filters; onApply: (filters: Filters) => void }) {
  const [draft, setDraft] = useState(value);
  const options = useAsync(async () => {
    const [flows, connections] = await Promise.all([call(api.GET('/v1/flows')), call(api.GET('/v1/connections'))]);
    return { flows: flows.items.map((f) => f.flowId), connections: connections.items.map((c) => c.connectionId) };
  }, []);
  const set = (name: keyof Filters) => (event: Event) => setDraft({ ...draft, [name]: (event.target as HTMLInputElement).value });
  return (
    <form
      class="form form-inline"
      aria-label="Filter failed events"
      onSubmit={(event) => {
        event.preventDefault();
        onApply(draft);
      }}
    >
      <Field label="Flow" id="filter-flow">
        <select id="filter-flow" value={draft.flowId} onChange={set('flowId')}>
          <option value="">All flows</option>
          {options.data?.flows.map((id) => (
            <option key={id} value={id}>
              {id}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Connection" id="filter-connection">
        <select id="filter-connection" value={draft.connectionId} onChange={set('connectionId')}>
          <option value="">All connections</option>
          {options.data?.connections.map((id) => (
            <option key={id} value={id}>
              {id}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Type" id="filter-type">
        <select id="filter-type" value={draft.type} onChange={set('type')}>
          <option value="">All types</option>
          {TYPES.map((type) => (
            <option key={type} value={type}>
              {type}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Failed after" id="filter-since">
        <input id="filter-since" type="datetime-local" step="1" value={draft.since} onInput={set('since')} />
      </Field>
      <Field label="Failed before" id="filter-until">
        <input id="filter-until" type="datetime-local" step="1" value={draft.until} onInput={set('until')} />
      </Field>
      <div class="form-actions">
        <Button type="submit" variant="primary">
          Apply filters
        </Button>
        <Button
          onClick={() => {
            setDraft(NO_FILTERS);
            onApply(NO_FILTERS);
          }}
        >
          Clear
        </Button>
      </div>
    </form>
  );
}

/**
 * Bulk restart, always previewed first: the dry run lists what matches, and only then
 * can the operator restart exactly those events.
 */
function BulkRestart({ filters, onDone }: { filters: Filters; onDone: () => void }) {
  const [preview, setPreview] = useState<{ items: FailedEvent[]; complete: boolean; filters: Filters } | undefined>();
  const action = useAction();
  const current = preview && JSON.stringify(preview.filters) === JSON.stringify(filters) ? preview : undefined;
  const timeBounded = Boolean(filters.since || filters.until);
  const dryRun = () =>
    action.run('dry-run', async () => {
      const result = await matchAll(filters);
      setPreview({ ...result, filters });
      return undefined;
    });
  const restart = () =>
    action.run('restart', async () => {
      let restarted: number;
      if (timeBounded || !current!.complete) {
        // A time window (or a preview cut short) is restarted event by event: exactly what the dry run listed.
        restarted = 0;
        for (const event of current!.items) {
          await call(api.POST('/v1/failed-events/{id}/restart', { params: { path: { id: event.id } } }));
          restarted++;
        }
      } else {
        const result = await call(api.POST('/v1/failed-events/restart', { body: query(filters) }));
        // 200 { matched } answers only a dry run, which this body never asks for.
        restarted = 'restarted' in result ? result.restarted : 0;
      }
      setPreview(undefined);
      onDone();
      return `Restarted ${restarted} failed event${restarted === 1 ? '' : 's'}.`;
    });
  return (
    <Section title="Bulk restart">
      <p class="hint">
        Restarts every failed event that matches the filters above. Run the dry run first: it changes nothing and shows how many would
        restart.
      </p>
      <div class="button-row">
        <Button onClick={dryRun} busy={action.busy === 'dry-run'}>
          Dry run
        </Button>
        <Button
          variant="primary"
          onClick={restart}
          busy={action.busy === 'restart'}
          disabled={!current || current.items.length === 0}
          aria-describedby="bulk-result"
        >
          {current ? `Restart ${current.items.length} failed event${current.items.length === 1 ? '' : 's'}` : 'Restart (dry run first)'}
        </Button>
      </div>
      <p id="bulk-result" class="bulk-result" role="status">
        {current
          ? `Dry run: ${current.items.length}${current.complete ? '' : '+'} failed event${current.items.length === 1 ? '' : 's'} match${current.items.length === 1 ? 'es' : ''}. Nothing was changed.`
          : ''}
      </p>
      <ProblemAlert problem={action.problem} />
      <Notice text={action.notice} />
    </Section>
  );
}

export function FailedEventsPage() {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [pages, setPages] = useState<{ items: FailedEvent[]; cursor: string | null }>({ items: [], cursor: null });
  const list = useAsync(async () => {
    const first = await fetchPage(filters);
    setPages(first);
    return first;
  }, [filters]);
  const more = useAction();
  const items = pages.items.filter((event) => inWindow(filters, event));
  return (
    <>
      <PageHeader
        title="Failed events"
        subtitle="Deliveries that failed or are held in error: repair the payload, restart, recover or discard."
      />
      <Section title="Filters">
        <FilterForm value={filters} onApply={setFilters} />
      </Section>
      <BulkRestart filters={filters} onDone={() => void list.reload()} />
      <Section title="Events" actions={<Button onClick={() => void list.reload()}>Refresh</Button>}>
        <ProblemAlert problem={list.problem ?? more.problem} />
        {list.data && items.length === 0 ? <Empty>No failed events match.</Empty> : null}
        {items.length > 0 ? (
          <div class="table-wrap">
            <table id="failed-events">
              <thead>
                <tr>
                  <th scope="col">Failed</th>
                  <th scope="col">Message</th>
                  <th scope="col">Flow → connection</th>
                  <th scope="col">Type</th>
                  <th scope="col">Error</th>
                  <th scope="col" class="num">
                    Attempts
                  </th>
                  <th scope="col">Payload</th>
                </tr>
              </thead>
              <tbody>
                {items.map((event) => (
                  <tr key={event.id} data-event={event.id} data-message={event.messageId}>
                    <td>
                      <Time at={event.failedAt} />
                    </td>
                    <th scope="row">
                      <a href={href.failedEvent(event.id)}>{event.messageId}</a>
                      <div class="cell-sub">
                        <StatusBadge status={event.status} />
                      </div>
                    </th>
                    <td>
                      {event.flowId} → {event.connectionId}
                    </td>
                    <td>
                      <span class="chip">{event.type}</span>
                    </td>
                    <td class="cell-error">{errorText(event.error)}</td>
                    <td class="num">{event.attempts}</td>
                    <td>
                      {formatBytes(event.payload.bytes)}
                      {event.payload.corrected ? <span class="chip chip-ok">corrected</span> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        {pages.cursor ? (
          <nav class="pager" aria-label="More failed events">
            <Button
              busy={more.busy === 'more'}
              onClick={() =>
                more.run('more', async () => {
                  const next = await fetchPage(filters, pages.cursor!);
                  setPages({ items: [...pages.items, ...next.items], cursor: next.cursor });
                  return undefined;
                })
              }
            >
              Load more
            </Button>
          </nav>
        ) : null}
      </Section>
    </>
  );
}

function extensionFor(contentType: string): string {
  if (/json/.test(contentType)) return '.json';
  if (/xml/.test(contentType)) return '.xml';
  if (/csv/.test(contentType)) return '.csv';
  if (/^text\//.test(contentType)) return '.txt';
  return '.bin';
}

export function FailedEventPage({ id }: { id: string }) {
  const state = useAsync(() => call(api.GET('/v1/failed-events/{id}', { params: { path: { id } } })), [id]);
  const action = useAction();
  const [uploaded, setUploaded] = useState<{ sha256: string; bytes: number; name: string } | undefined>();
  const [confirmDiscard, setConfirmDiscard] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const event = state.data;
  const path = { params: { path: { id } } };

  const download = () =>
    action.run('download', async () => {
      const response = await consoleFetch(`/console/payloads/${encodeURIComponent(id)}/download`, { method: 'POST' });
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = `${event?.messageId ?? id}${extensionFor(blob.type)}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      return `Downloaded ${formatBytes(blob.size)}${event?.payload.corrected ? ' (the corrected payload)' : ''}.`;
    });

  const upload = (submit: Event) => {
    submit.preventDefault();
    const file = fileInput.current?.files?.[0];
    void action.run('upload', async () => {
      if (!file) throw new Error('Choose the corrected file first.');
      const response = await consoleFetch(`/console/payloads/${encodeURIComponent(id)}/upload`, {
        method: 'PUT',
        headers: { 'content-type': file.type || event?.payload.contentType || 'application/octet-stream', 'x-file-name': file.name },
        body: file,
      });
      const result = (await response.json()) as { sha256: string; bytes: number };
      setUploaded({ ...result, name: file.name });
      await state.reload();
      return `Uploaded ${file.name} (${formatBytes(result.bytes)}). Restart to deliver it.`;
    });
  };

  const restart = () =>
    action.run('restart', async () => {
      // Restart only with the file uploaded here, if one was: a newer upload elsewhere is refused.
      await call(api.POST('/v1/failed-events/{id}/restart', { ...path, ...(uploaded ? { body: { sha256: uploaded.sha256 } } : {}) }));
      setUploaded(undefined);
      await state.reload().catch(() => undefined);
      return 'Restarted: the delivery is queued again.';
    });

  const recover = () =>
    action.run('recover', async () => {
      await call(api.POST('/v1/failed-events/{id}/recover', path));
      await state.reload().catch(() => undefined);
      return 'Recovered: the delivery is queued again.';
    });

  const discard = () =>
    action.run('discard', async () => {
      setConfirmDiscard(false);
      await call(api.POST('/v1/failed-events/{id}/discard', path));
      await state.reload().catch(() => undefined);
      return 'Discarded: it will not be delivered.';
    });

  return (
    <>
      <PageHeader
        title="Failed event"
        subtitle={
          event ? (
            <>
              Message {event.messageId} in flow {event.flowId}
            </>
          ) : (
            id
          )
        }
      >
        {event ? <StatusBadge status={event.status} /> : null}
      </PageHeader>
      <ProblemAlert problem={state.problem} />
      <ProblemAlert problem={action.problem} />
      <Notice text={action.notice} />
      {action.notice && event ? (
        <p>
          <a href={href.message(event.flowId, event.messageId)}>Follow the message’s execution report</a>
        </p>
      ) : null}
      {event ? (
        <>
          <div class="callout" role="note">
            <strong>Suggested action ({event.type}):</strong> {event.suggestedAction}
          </div>
          <Section title="What failed">
            <Definitions
              items={[
                [
                  'Status',
                  <span id="event-status">
                    <StatusBadge status={event.status} />
                  </span>,
                ],
                ['Type', event.type],
                ['Error', errorText(event.error)],
                ['Target said', event.error.bodyExcerpt ? <pre class="excerpt">{event.error.bodyExcerpt}</pre> : undefined],
                ['Attempts', String(event.attempts)],
                ['Failed at', <Time at={event.failedAt} />],
                ['Flow', <a href={href.flow(event.flowId)}>{event.flowId}</a>],
                ['Connection', <a href={href.connection(event.connectionId)}>{event.connectionId}</a>],
                ['Partner', event.partnerId],
                ['Message', <a href={href.message(event.flowId, event.messageId)}>{event.messageId}</a>],
                ['Suspended behind it', String(event.suspendedCount)],
              ]}
            />
          </Section>
          <Section title="Payload">
            <Definitions
              items={[
                ['Size', formatBytes(event.payload.bytes)],
                ['Content type', event.payload.contentType],
                ['SHA-256', <code>{event.payload.sha256}</code>],
                ['Corrected', event.payload.corrected ? <span class="chip chip-ok">corrected payload uploaded</span> : 'no (original)'],
              ]}
            />
            <div class="payload-actions">
              <Button onClick={download} busy={action.busy === 'download'}>
                Download payload
              </Button>
              <form class="form form-inline" onSubmit={upload} aria-label="Upload a corrected payload">
                <Field label="Corrected file" id="corrected-file">
                  <input id="corrected-file" type="file" ref={fileInput} required />
                </Field>
                <div class="form-actions">
                  <Button type="submit" busy={action.busy === 'upload'}>
                    Upload corrected file
                  </Button>
                </div>
              </form>
            </div>
          </Section>
          <Section title="Actions">
            <div class="button-row" role="group" aria-label="Failed event actions">
              <Button variant="primary" onClick={restart} busy={action.busy === 'restart'}>
                {uploaded || event.payload.corrected ? 'Restart with the corrected payload' : 'Restart'}
              </Button>
              <Button onClick={recover} busy={action.busy === 'recover'} disabled={event.status !== 'inError'}>
                Recover
              </Button>
              {confirmDiscard ? (
                <>
                  <Button variant="danger" onClick={discard} busy={action.busy === 'discard'}>
                    Confirm discard
                  </Button>
                  <Button onClick={() => setConfirmDiscard(false)}>Keep it</Button>
                </>
              ) : (
                <Button variant="danger" onClick={() => setConfirmDiscard(true)}>
                  Discard…
                </Button>
              )}
            </div>
            {event.status !== 'inError' ? (
              <p class="hint">Recover applies to deliveries held in error (flows with auto retry off).</p>
            ) : null}
          </Section>
        </>
      ) : null}
    </>
  );
}
