import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { ApiError, errorForStatus, problemFrom, send, seg, UsageError, type SluiceClient } from '../client';
import { contextOf } from '../context';
import { emit, keyValues, table } from '../format';

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
  attempts?: number;
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
    ['Attempts', e.attempts],
    ['Failed at', e.failedAt],
    ['Error', errorText(e)],
    ['Target said', e.error?.bodyExcerpt],
    ['Suspended behind it', e.suspendedCount],
    ['Payload', e.payload ? `${e.payload.bytes ?? '?'} bytes, ${e.payload.contentType ?? '?'}${e.payload.corrected ? ', corrected' : ''}` : undefined],
    ['Payload SHA-256', e.payload?.sha256],
  ]);
}

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
        flowId: options.flow,
        connectionId: options.connection,
        type: options.type,
        cursor: options.cursor,
      });
      emit(output, text, () => {
        const rows =
          body.items.length === 0
            ? 'No failed events.'
            : table(body.items, [
                { header: 'ID', value: (e) => e.id },
                { header: 'FLOW', value: (e) => e.flowId },
                { header: 'MESSAGE', value: (e) => e.messageId },
                { header: 'CONNECTION', value: (e) => e.connectionId },
                { header: 'TYPE', value: (e) => e.type },
                { header: 'STATUS', value: (e) => e.status },
                { header: 'ATTEMPTS', value: (e) => e.attempts },
                { header: 'FAILED AT', value: (e) => e.failedAt },
                { header: 'ERROR', value: errorText, max: 60 },
              ]);
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
      else output.out(`Uploaded ${bytes.length} bytes from ${file} (sha256 ${sha256}).\nRun \`sluice failed restart ${id} --sha256 ${sha256}\` to deliver it.`);
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
        new Option('--sha256 <hex>', 'only restart if the uploaded correction has this sha256 (as printed by `upload`)').argParser((value) => {
          if (!/^[a-f0-9]{64}$/.test(value)) throw new InvalidArgumentError('must be a lower-case hex sha256.');
          return value;
        }),
      );
    }
    sub.action(async (id: string, options: { sha256?: string }, command: Command) => {
      const { client, output } = contextOf(command);
      const { text } = await client.post(`/v1/failed-events/${seg(id)}/${action}`, options.sha256 ? { sha256: options.sha256 } : undefined);
      emit(output, text, () => `Failed event ${id} ${done}.`);
    });
  }

  filterOptions(failed.command('restart-all').description('Restart every failed event matching the filters (all of them without filters)'))
    .action(async (options: Filters, command: Command) => {
      const { client, output } = contextOf(command);
      const bar = process.stderr.isTTY
        ? new SingleBar({ stream: process.stderr, format: 'Restarting failed events [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: false })
        : undefined;
      bar?.start(1, 0);
      try {
        const filters = {
          ...(options.flow ? { flowId: options.flow } : {}),
          ...(options.connection ? { connectionId: options.connection } : {}),
          ...(options.type ? { type: options.type } : {}),
        };
        const { body, text } = await client.post<{ restarted: number }>('/v1/failed-events/restart', filters);
        bar?.setTotal(Math.max(body.restarted, 1));
        bar?.update(body.restarted);
        bar?.stop();
        emit(output, text, () => `Restarted ${body.restarted} failed event${body.restarted === 1 ? '' : 's'}.`);
      } catch (error) {
        bar?.stop();
        throw error;
      }
    });

  return failed;
}
