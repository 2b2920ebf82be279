import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { seg, UsageError } from '../client';
import { contextOf } from '../context';
import { emit, keyValues, list, table } from '../format';
import { connectionBody, nonNegativeInt, positiveInt, readJsonObject, rfc3339, successStatuses, type ConnectionFlags } from '../settings';

export interface ConnectionView {
  connectionId: string;
  url: string;
  status: string;
  statusReason?: string;
  statusSince?: string;
  lastProbeAt?: string;
  nextProbeAt?: string;
  auth?: { type: string };
  timeoutMs?: number;
  retry?: { count: number; intervalSeconds: number; backoff?: string; maxIntervalSeconds?: number };
  threads?: number;
  onError?: string;
  successStatuses?: number[] | '2xx';
  offlineAfter?: number;
  consecutiveFailures?: number;
  signingSecret?: string;
  flows?: string[];
  updatedAt?: string;
}

export function renderConnection(c: ConnectionView): string {
  return keyValues([
    ['Connection', c.connectionId],
    ['URL', c.url],
    ['Status', c.status],
    ['Reason', c.statusReason],
    ['Since', c.statusSince],
    ['Last probe', c.lastProbeAt],
    ['Next probe', c.nextProbeAt],
    ['Auth', c.auth?.type],
    ['Signed', c.signingSecret ? 'yes' : 'no'],
    ['Timeout', c.timeoutMs !== undefined ? `${c.timeoutMs} ms` : undefined],
    [
      'Retry',
      c.retry
        ? `${c.retry.count} × ${c.retry.intervalSeconds} s${c.retry.backoff === 'exponential' ? ` exponential (max ${c.retry.maxIntervalSeconds} s)` : ''}`
        : undefined,
    ],
    ['Threads', c.threads],
    ['On error', c.onError],
    ['Success', Array.isArray(c.successStatuses) ? c.successStatuses.join(', ') : c.successStatuses],
    ['Offline after', c.offlineAfter],
    ['Failures in a row', c.consecutiveFailures],
    ['Flows', list(c.flows)],
  ]);
}

interface ReauthorizeOptions {
  authType?: string;
  tokenValue?: string;
  username?: string;
  password?: string;
  headerName?: string;
  headerValue?: string;
  authFile?: string;
}

/** The `auth` object from flags or a JSON file (`{ type, … }` or `{ auth: { type, … } }`). */
export async function authFromOptions(options: ReauthorizeOptions): Promise<Record<string, unknown>> {
  if (options.authFile) {
    if (options.authType) throw new UsageError('Use either --auth-file or --auth-type, not both.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(options.authFile, 'utf8'));
    } catch (error) {
      throw new UsageError(`Cannot read --auth-file ${options.authFile}: ${(error as Error).message}`);
    }
    const auth = (parsed as { auth?: unknown })?.auth ?? parsed;
    if (!auth || typeof auth !== 'object' || typeof (auth as { type?: unknown }).type !== 'string') {
      throw new UsageError(`--auth-file ${options.authFile} must hold a JSON object with a "type" (or { "auth": { "type": … } }).`);
    }
    return auth as Record<string, unknown>;
  }
  const need = (value: string | undefined, flag: string) => {
    if (!value) throw new UsageError(`--auth-type ${options.authType} needs ${flag}.`);
    return value;
  };
  switch (options.authType) {
    case 'none':
      return { type: 'none' };
    case 'bearer':
      return { type: 'bearer', token: need(options.tokenValue, '--token-value') };
    case 'basic':
      return { type: 'basic', username: need(options.username, '--username'), password: need(options.password, '--password') };
    case 'header':
      return { type: 'header', headerName: need(options.headerName, '--header-name'), value: need(options.headerValue, '--header-value') };
    default:
      throw new UsageError('Give --auth-type bearer|basic|header|none (with its values) or --auth-file <json>.');
  }
}

export function connectionsCommand(): Command {
  const connections = new Command('connections')
    .alias('connection')
    .description('Target application endpoints: status, probes, credentials');

  connections
    .command('list')
    .description('List connections with their status')
    .action(async (_options, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.get<{ items: ConnectionView[] }>('/v1/connections');
      emit(output, text, () =>
        body.items.length === 0
          ? 'No connections.'
          : table(body.items, [
              { header: 'CONNECTION', value: (c) => c.connectionId },
              { header: 'STATUS', value: (c) => c.status },
              { header: 'SINCE', value: (c) => c.statusSince },
              { header: 'AUTH', value: (c) => c.auth?.type },
              { header: 'FLOWS', value: (c) => list(c.flows) },
              { header: 'URL', value: (c) => c.url, max: 60 },
              { header: 'REASON', value: (c) => c.statusReason, max: 60 },
            ]),
      );
    });

  connections
    .command('show')
    .description('Show one connection')
    .argument('<connectionId>')
    .action(async (id: string, _options, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.get<ConnectionView>(`/v1/connections/${seg(id)}`);
      emit(output, text, () => renderConnection(body));
    });

  const actions: [string, string][] = [
    ['online', 'Set a connection online by hand; its flows resume'],
    ['offline', 'Set a connection offline by hand; its flows pause and it is not probed'],
    ['probe', 'Probe a connection now; online again if it answers'],
  ];
  for (const [action, description] of actions) {
    connections
      .command(action)
      .description(description)
      .argument('<connectionId>')
      .action(async (id: string, _options, command: Command) => {
        const { client, output } = contextOf(command);
        const { body, text } = await client.post<ConnectionView>(`/v1/connections/${seg(id)}/${action}`);
        emit(output, text, () => `Connection ${body.connectionId} is ${body.status}${body.statusReason ? ` (${body.statusReason})` : ''}.`);
      });
  }

  connections
    .command('reauthorize')
    .description('Replace the credentials of a connection and probe it at once')
    .argument('<connectionId>')
    .addOption(new Option('--auth-type <type>', 'credential type').choices(['none', 'bearer', 'basic', 'header']))
    .option('--token-value <token>', 'bearer token (with --auth-type bearer)')
    .option('--username <name>', 'user name (with --auth-type basic)')
    .option('--password <password>', 'password (with --auth-type basic)')
    .option('--header-name <name>', 'header name (with --auth-type header)')
    .option('--header-value <value>', 'header value (with --auth-type header)')
    .option('--auth-file <file>', 'JSON file with the auth object; keeps secrets out of the process list')
    .addHelpText(
      'after',
      '\nExamples:\n  sluice connections reauthorize erp --auth-type bearer --token-value "$ERP_TOKEN"\n  sluice connections reauthorize erp --auth-file erp-auth.json   # {"type":"basic","username":"u","password":"p"}',
    )
    .action(async (id: string, options: ReauthorizeOptions, command: Command) => {
      const auth = await authFromOptions(options);
      const { client, output } = contextOf(command);
      const { body, text } = await client.post<ConnectionView>(`/v1/connections/${seg(id)}/reauthorize`, { auth });
      emit(
        output,
        text,
        () =>
          `Connection ${body.connectionId} reauthorized (${auth.type}); it is ${body.status}${body.statusReason ? ` (${body.statusReason})` : ''}.`,
      );
    });

  connections
    .command('replay')
    .description(
      'Deliver again what this connection was sent: its delivered messages received in a time window, in their order, flagged possible-duplicate',
    )
    .argument('<connectionId>')
    .requiredOption('--since <time>', 'messages received at or after this time (RFC 3339)', rfc3339)
    .option('--until <time>', 'messages received before this time (RFC 3339; default: now)', rfc3339)
    .option('--flow <flowId>', 'only this flow (default: every flow that uses the connection)')
    .option('--limit <n>', 'deliveries per API call (at most 1000, the default); the CLI calls again until the window is done', positiveInt)
    .addHelpText(
      'after',
      [
        '',
        'A target restored from a backup lost what it was sent since then: replay that window.',
        'The replayed deliveries go behind what the connection has queued, in their original order',
        'per lane, each attempt with x-sluice-possible-duplicate: true; their reports say "replayed".',
        'A large window takes several API calls; each goes on where the last one stopped.',
        '',
        'Examples:',
        '  sluice connections replay erp --since 2026-01-31T00:00:00Z',
        '  sluice connections replay erp --since 2026-01-31T00:00:00Z --until 2026-01-31T12:00:00Z --flow orders',
      ].join('\n'),
    )
    .action(async (id: string, options: { since: string; until?: string; flow?: string; limit?: number }, command: Command) => {
      const { client, output } = contextOf(command);
      const body = {
        since: options.since,
        ...(options.until ? { until: options.until } : {}),
        ...(options.flow ? { flowId: options.flow } : {}),
        ...(options.limit ? { limit: options.limit } : {}),
      };
      let replayed = 0;
      let until = options.until;
      let cursor: string | undefined;
      do {
        const { body: answer } = await client.post<{ replayed: number; until: string; cursor?: string | null }>(
          `/v1/connections/${seg(id)}/replay`,
          { ...body, ...(cursor ? { cursor } : {}) },
        );
        replayed += answer.replayed;
        until = answer.until;
        cursor = answer.cursor ?? undefined;
        if (cursor && !output.json) output.err(`Replayed ${replayed} so far; going on…`);
      } while (cursor);
      if (output.json) {
        output.out(JSON.stringify({ replayed, until }));
        return;
      }
      const scope = options.flow ? `flow ${options.flow}` : 'every flow that uses it';
      output.out(
        `Replayed ${replayed} deliver${replayed === 1 ? 'y' : 'ies'} to ${id} (${scope}; messages received from ${options.since} until ${until}). ` +
          (replayed > 0
            ? 'They are queued behind what was already waiting and go out flagged possible-duplicate.'
            : 'Nothing delivered in that window.'),
      );
    });

  connections
    .command('put')
    .description('Create a connection, or replace all of its settings (what is left out takes its default, credentials included)')
    .argument('<connectionId>')
    .option('--file <json>', 'the settings as JSON (the PUT /v1/connections/{id} body; "-" reads stdin); flags override it')
    .option('--url <url>', 'target URL deliveries are POSTed to')
    .addOption(new Option('--auth-type <type>', 'credential type (default none)').choices(['none', 'bearer', 'basic', 'header']))
    .option('--token-value <token>', 'bearer token (with --auth-type bearer)')
    .option('--username <name>', 'user name (with --auth-type basic)')
    .option('--password <password>', 'password (with --auth-type basic)')
    .option('--header-name <name>', 'header name (with --auth-type header)')
    .option('--header-value <value>', 'header value (with --auth-type header)')
    .option('--auth-file <file>', 'JSON file with the auth object; keeps secrets out of the process list')
    .option('--timeout-ms <ms>', 'answer timeout per attempt (default 10000)', positiveInt)
    .option('--retry-count <n>', 'retries of a transient failure (default 5)', nonNegativeInt)
    .option('--retry-interval <seconds>', 'seconds between retries (default 60)', nonNegativeInt)
    .addOption(new Option('--backoff <kind>', 'retry interval growth (default fixed)').choices(['fixed', 'exponential']))
    .option('--max-interval <seconds>', 'longest exponential retry interval', positiveInt)
    .option('--threads <n>', 'parallel delivery lanes (default 1)', positiveInt)
    .addOption(new Option('--on-error <policy>', 'what a failing head holds (default hold-all)').choices(['hold-all', 'hold-lane']))
    .option('--success-statuses <list>', '2xx (default) or statuses such as 200,202', successStatuses)
    .option('--offline-after <n>', 'connection errors in a row before it goes offline (default 3)', positiveInt)
    .addOption(new Option('--probe-method <method>', 'probe request method (default GET)').choices(['GET', 'HEAD', 'POST']))
    .option('--probe-path <path>', "probe path on the connection's own origin (default: the URL's path)")
    .option('--signing-secret <whsec>', 'sign deliveries (Standard Webhooks), e.g. whsec_…')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  sluice connections put erp --url http://127.0.0.1:4000/orders --retry-count 3 --retry-interval 5',
        '  sluice connections put erp --file erp.json --auth-file erp-auth.json',
        '  sluice connections put erp --file erp.json --threads 4   # the file, with one setting changed',
      ].join('\n'),
    )
    .action(async (id: string, options: ConnectionFlags & ReauthorizeOptions & { file?: string }, command: Command) => {
      const file = options.file ? await readJsonObject(options.file) : {};
      const auth = options.authType || options.authFile ? await authFromOptions(options) : undefined;
      const body = connectionBody(file, options, auth);
      const { client, output } = contextOf(command);
      const { body: saved, text } = await client.put<ConnectionView>(`/v1/connections/${seg(id)}`, body);
      emit(output, text, () => `Connection ${saved.connectionId} saved.\n\n${renderConnection(saved)}`);
    });

  return connections;
}
