import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { ApiError, errorForStatus, problemFrom, send, seg, UsageError, type SluiceClient } from '../client';
import { contextOf } from '../context';
import { emit, keyValues, table, type Column } from '../format';
import { rfc3339 } from '../settings';

export const FAILURE_TYPES = ['business', 'timeout', 'unavailable', 'expired', 'configuration', 'internal'];

export interface FailedEvent {
  id: string;
  flowId: string;
  messageId: string;
  partnerId?: string;
  connectionId: string;
  status: string;
  type: string;
  suggestedAction?: string;
  error?: { httpStatus?: number; message?: string; bodyExcerpt?: string };
  /** Every request the target was sent, across restarts. */
  attempts?: number;
  attemptsSinceRestart?: number;
  failedAt?: string;
  suspendedCount?: number;
  payload?: { bytes?: number; contentType?: string; sha256?: string; corrected?: boolean };
}

interface DownloadUrl {
  url: string;
  expiresAt?: string;
}

export interface UploadUrl {
  url: string;
  method: string;
  fields?: Record<string, string>;
  /** Not in the SPEC; honoured if the API names headers the presigned PUT was signed with. */
  headers?: Record<string, string>;
  expiresAt?: string;
  maxBytes?: number;
}

interface Filters {
  flow?: string;
  connection?: string;
  type?: string;
}

function errorText(e: FailedEvent): string | undefined {
  if (!e.error) return undefined;
  return [e.error.httpStatus, e.error.message].filter((part) => part !== undefined && part !== '').join(' ');
}

export function renderFailedEvent(e: FailedEvent): string {
  return keyValues([
    ['Failed event', e.id],
    ['Status', e.status],
    ['Type', e.type],
    ['Suggested action', e.suggestedAction],
    ['Flow', e.flowId],
    ['Message', e.messageId],
    ['Partner', e.partnerId],
    ['Connection', e.connectionId],
    [
      'Attempts',
      e.attemptsSinceRestart !== undefined && e.attemptsSinceRestart !== e.attempts
        ? `${e.attempts} (${e.attemptsSinceRestart} since the last restart)`
        : e.attempts,
    ],
    ['Failed at', e.failedAt],
    ['Error', errorText(e)],
    ['Target said', e.error?.bodyExcerpt],
    ['Suspended behind it', e.suspendedCount],
    [
      'Payload',
      e.payload ? `${e.payload.bytes ?? '?'} bytes, ${e.payload.contentType ?? '?'}${e.payload.corrected ? ', corrected' : ''}` : undefined,
    ],
    ['Payload SHA-256', e.payload?.sha256],
  ]);
}

/**
 * The API answers an empty list for a filter that names nothing; an operator who
 * mistyped a flow or connection must hear that it does not exist (exit 4), not "none".
 */
async function assertFiltersExist(client: SluiceClient, options: Filters): Promise<void> {
  await Promise.all([
    options.flow ? client.get(`/v1/flows/${seg(options.flow)}`) : undefined,
    options.connection ? client.get(`/v1/connections/${seg(options.connection)}`) : undefined,
  ]);
}

/** The API's filter query of a listing or a bulk restart. */
function filterQuery(options: Filters): { flowId?: string; connectionId?: string; type?: string } {
  return {
    ...(options.flow ? { flowId: options.flow } : {}),
    ...(options.connection ? { connectionId: options.connection } : {}),
    ...(options.type ? { type: options.type } : {}),
  };
}

const FAILED_EVENT_COLUMNS: Column<FailedEvent>[] = [
  { header: 'ID', value: (e) => e.id },
  { header: 'FLOW', value: (e) => e.flowId },
  { header: 'MESSAGE', value: (e) => e.messageId },
  { header: 'CONNECTION', value: (e) => e.connectionId },
  { header: 'TYPE', value: (e) => e.type },
  { header: 'STATUS', value: (e) => e.status },
  { header: 'ATTEMPTS', value: (e) => e.attempts },
  { header: 'FAILED AT', value: (e) => e.failedAt },
  { header: 'ERROR', value: errorText, max: 60 },
];

/** Bounds on `failedAt` of a bulk restart, both inclusive, as the API applies them. */
interface Window {
  since?: string;
  until?: string;
}

function inWindow(e: FailedEvent, window: Window): boolean {
  if (!window.since && !window.until) return true;
  const at = e.failedAt ? Date.parse(e.failedAt) : NaN;
  if (Number.isNaN(at)) return false;
  return (!window.since || at >= Date.parse(window.since)) && (!window.until || at <= Date.parse(window.until));
}

/** Every failed event a bulk restart with these filters would restart: status `failed`, all pages. */
async function restartable(client: SluiceClient, options: Filters & Window): Promise<FailedEvent[]> {
  const events: FailedEvent[] = [];
  let cursor: string | undefined;
  do {
    const { body } = await client.get<{ items: FailedEvent[]; cursor?: string | null }>('/v1/failed-events', {
      ...filterQuery(options),
      limit: 100,
      cursor,
    });
    events.push(...body.items.filter((e) => e.status === 'failed' && inWindow(e, options)));
    cursor = body.cursor ?? undefined;
  } while (cursor);
  return events;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function filterOptions(command: Command): Command {
  return command
    .option('--flow <flowId>', 'only this flow')
    .option('--connection <connectionId>', 'only this connection')
    .addOption(new Option('--type <type>', 'only this failure type').choices(FAILURE_TYPES));
}

async function readLocalFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new UsageError(`Cannot read ${file}: ${(error as Error).message}`);
  }
}

/** Sends the file to a presigned URL: POST form (fields first, file last) or PUT of the bytes. */
export async function uploadTo(target: UploadUrl, bytes: Buffer, fileName: string): Promise<void> {
  let response: Response;
  if (target.method.toUpperCase() === 'POST') {
    const form = new FormData();
    for (const [name, value] of Object.entries(target.fields ?? {})) form.append(name, value);
    const contentType = Object.entries(target.fields ?? {}).find(([name]) => name.toLowerCase() === 'content-type')?.[1];
    form.append('file', new Blob([bytes], { type: contentType ?? 'application/octet-stream' }), fileName);
    response = await send(target.url, { method: 'POST', body: form });
  } else {
    response = await send(target.url, { method: target.method.toUpperCase(), headers: { ...target.headers }, body: bytes });
  }
  if (!response.ok) {
    const problem = problemFrom(response.status, await response.text().catch(() => ''), response.headers.get('content-type') ?? '');
    throw new ApiError({ ...problem, detail: `Upload rejected: ${problem.detail}` });
  }
}

async function download(client: SluiceClient, id: string): Promise<{ bytes: Buffer; link: DownloadUrl }> {
  const { body: link } = await client.post<DownloadUrl>(`/v1/failed-events/${seg(id)}/download-url`);
  const response = await send(link.url, { method: 'GET' });
  if (!response.ok) {
    const problem = problemFrom(response.status, await response.text().catch(() => ''), response.headers.get('content-type') ?? '');
    throw errorForStatus({ ...problem, detail: `Download failed: ${problem.detail}` });
  }
  return { bytes: Buffer.from(await response.arrayBuffer()), link };
}

export function failedCommand(): Command {
  const failed = new Command('failed').description('Failed event manager: inspect, download, correct, upload, restart');

  filterOptions(failed.command('list').description('List failed events'))
    .option('--cursor <cursor>', 'the next page, from a previous listing')
    .action(async (options: Filters & { cursor?: string }, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.get<{ items: FailedEvent[]; cursor?: string | null }>('/v1/failed-events', {
        ...filterQuery(options),
        cursor: options.cursor,
      });
      if (body.items.length === 0 && !options.cursor) await assertFiltersExist(client, options);
      emit(output, text, () => {
        const rows = body.items.length === 0 ? 'No failed events.' : table(body.items, FAILED_EVENT_COLUMNS);
        return body.cursor ? `${rows}\n\nMore: --cursor ${body.cursor}` : rows;
      });
    });

  failed
    .command('show')
    .description('Show a failed event with its suggested action')
    .argument('<id>')
    .action(async (id: string, _options, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.get<FailedEvent>(`/v1/failed-events/${seg(id)}`);
      emit(output, text, () => renderFailedEvent(body));
    });

  failed
    .command('download')
    .description('Download the payload (the corrected one once uploaded) to a file ("-" for stdout)')
    .argument('<id>')
    .argument('<file>')
    .action(async (id: string, file: string, _options, command: Command) => {
      const { client, output } = contextOf(command);
      const { bytes } = await download(client, id);
      if (file === '-') {
        output.bytes(bytes);
        return;
      }
      await writeFile(file, bytes);
      if (output.json) output.out(JSON.stringify({ id, file, bytes: bytes.length }));
      else output.out(`Wrote ${bytes.length} bytes to ${file}.`);
    });

  failed
    .command('upload')
    .description('Upload a corrected payload; `restart` then delivers it')
    .argument('<id>')
    .argument('<file>')
    .action(async (id: string, file: string, _options, command: Command) => {
      const { client, output } = contextOf(command);
      const bytes = await readLocalFile(file);
      const { body: target } = await client.post<UploadUrl>(`/v1/failed-events/${seg(id)}/upload-url`);
      if (target.maxBytes !== undefined && bytes.length > target.maxBytes) {
        throw new ApiError({
          status: 413,
          code: 'payload-too-large',
          detail: `${file} is ${bytes.length} bytes; the upload limit for this failed event is ${target.maxBytes} bytes. Nothing was uploaded.`,
        });
      }
      await uploadTo(target, bytes, file.split(/[\\/]/).pop() || 'payload');
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (output.json) output.out(JSON.stringify({ id, file, bytes: bytes.length, sha256 }));
      else
        output.out(
          `Uploaded ${bytes.length} bytes from ${file} (sha256 ${sha256}).\nRun \`sluice failed restart ${id} --sha256 ${sha256}\` to deliver it.`,
        );
    });

  const actions: [string, string, string][] = [
    ['restart', 'Re-queue for delivery (with the corrected payload if one was uploaded); releases a suspended chain', 'restarted'],
    ['recover', 'Recover an inError delivery (flows with autoRetry: false)', 'recovered'],
    ['discard', 'Give up on it for good; releases a suspended chain', 'discarded'],
  ];
  for (const [action, description, done] of actions) {
    const sub = failed.command(action).description(description).argument('<id>');
    if (action === 'restart') {
      sub.addOption(
        new Option('--sha256 <hex>', 'only restart if the uploaded correction has this sha256 (as printed by `upload`)').argParser(
          (value) => {
            if (!/^[a-f0-9]{64}$/.test(value)) throw new InvalidArgumentError('must be a lower-case hex sha256.');
            return value;
          },
        ),
      );
    }
    sub.action(async (id: string, options: { sha256?: string }, command: Command) => {
      const { client, output } = contextOf(command);
      const { text } = await client.post(`/v1/failed-events/${seg(id)}/${action}`, options.sha256 ? { sha256: options.sha256 } : undefined);
      emit(output, text, () => `Failed event ${id} ${done}.`);
    });
  }

  filterOptions(
    failed
      .command('restart-all')
      .description('Restart every failed event matching the filters; --dry-run first shows which ones')
      .option('--since <time>', 'only events that failed at or after this time (RFC 3339)', rfc3339)
      .option('--until <time>', 'only events that failed at or before this time (RFC 3339)', rfc3339)
      .option('--all', 'with no filter: restart every failed event of every flow')
      .option('--dry-run', 'list what would be restarted and change nothing'),
  )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  sluice failed restart-all --connection erp --type unavailable --dry-run',
        '  sluice failed restart-all --connection erp --type unavailable',
        '  sluice failed restart-all --since 2026-01-31T08:00:00Z --until 2026-01-31T09:00:00Z --dry-run',
        '  sluice failed restart-all --all',
      ].join('\n'),
    )
    .action(async (options: Filters & Window & { all?: boolean; dryRun?: boolean }, command: Command) => {
      const filtered = Boolean(options.flow || options.connection || options.type || options.since || options.until);
      if (!filtered && !options.all && !options.dryRun) {
        throw new UsageError(
          'restart-all with no filter restarts every failed event of every flow. Narrow it with --flow, --connection, --type, --since or --until, or confirm with --all (see it first with --dry-run).',
        );
      }
      if (options.since && options.until && Date.parse(options.since) > Date.parse(options.until)) {
        throw new UsageError('--since must not be after --until.');
      }
      const window = { ...(options.since ? { since: options.since } : {}), ...(options.until ? { until: options.until } : {}) };
      const { client, output } = contextOf(command);
      if (options.dryRun) {
        const events = await restartable(client, options);
        if (events.length === 0) await assertFiltersExist(client, options);
        if (output.json) {
          output.out(JSON.stringify({ matched: events.length, items: events }));
          return;
        }
        output.out(
          events.length === 0
            ? 'Would restart no failed events. Nothing was changed.'
            : `${table(events, FAILED_EVENT_COLUMNS)}\n\nWould restart ${plural(events.length, 'failed event')}. Nothing was changed; run again without --dry-run to restart them.`,
        );
        return;
      }
      const bar = process.stderr.isTTY
        ? new SingleBar({
            stream: process.stderr,
            format: 'Restarting failed events [{bar}] {value}/{total}',
            hideCursor: true,
            clearOnComplete: false,
          })
        : undefined;
      bar?.start(1, 0);
      try {
        const { body, text } = await client.post<{ restarted: number; skipped?: number }>('/v1/failed-events/restart', {
          ...filterQuery(options),
          ...window,
        });
        bar?.setTotal(Math.max(body.restarted, 1));
        bar?.update(body.restarted);
        bar?.stop();
        if (body.restarted === 0 && !body.skipped) await assertFiltersExist(client, options);
        emit(output, text, () => {
          const skipped = body.skipped
            ? ` Skipped ${plural(body.skipped, 'failed event')} whose uploaded correction was refused (empty or over the size limit; the upload was removed): upload again, then restart.`
            : '';
          return `Restarted ${plural(body.restarted, 'failed event')}.${skipped}`;
        });
      } catch (error) {
        bar?.stop();
        throw error;
      }
    });

  return failed;
}
