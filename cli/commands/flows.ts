import { Command, Option } from 'commander';
import { seg } from '../client';
import { contextOf } from '../context';
import { emit, keyValues, list, table } from '../format';
import { collectIds, flowBody, positiveInt, readJsonObject, type FlowFlags } from '../settings';

export { positiveInt };

export interface FlowView {
  flowId: string;
  partnerId: string;
  destinations: string[];
  status: string;
  statusReason?: string;
  statusSince?: string;
  onFailure?: string;
  autoRetry?: boolean;
  backoutThreshold?: number;
  expiresAfterSeconds?: number;
  maxPayloadBytes?: number;
  retentionDays?: number;
  autoPausedBy?: string[];
  counts?: Record<string, number>;
}

interface LogEntry {
  at: string;
  level: string;
  code: string;
  detail: string;
  messageId?: string;
}

interface MessageItem {
  messageId: string;
  status: string;
  receivedAt: string;
  bytes?: number;
  contentType?: string;
  chainId?: string;
  correlationId?: string;
}

const COUNT_NAMES = ['accepted', 'queued', 'delivered', 'failed', 'suspended', 'inError'] as const;

export const MESSAGE_STATUSES = ['accepted', 'queued', 'retrying', 'paused', 'inError', 'delivered', 'failed', 'suspended', 'discarded'];

function counts(flow: FlowView): string {
  return flow.counts ? COUNT_NAMES.map((name) => `${name} ${flow.counts![name] ?? 0}`).join(', ') : '-';
}

export function renderFlow(f: FlowView): string {
  return keyValues([
    ['Flow', f.flowId],
    ['Status', f.status],
    ['Reason', f.statusReason],
    ['Since', f.statusSince],
    ['Partner', f.partnerId],
    ['Destinations', list(f.destinations)],
    ['Paused by', f.autoPausedBy && f.autoPausedBy.length > 0 ? list(f.autoPausedBy) : undefined],
    ['On failure', f.onFailure],
    ['Auto retry', f.autoRetry === undefined ? undefined : f.autoRetry ? 'yes' : 'no'],
    ['Backout threshold', f.backoutThreshold],
    ['Expires after', f.expiresAfterSeconds !== undefined ? `${f.expiresAfterSeconds} s` : undefined],
    ['Max payload', f.maxPayloadBytes !== undefined ? `${f.maxPayloadBytes} bytes` : undefined],
    ['Retention', f.retentionDays !== undefined ? `${f.retentionDays} days after final` : undefined],
    ['Counts', counts(f)],
  ]);
}

export function flowsCommand(): Command {
  const flows = new Command('flows').alias('flow').description('Routes from a partner to connections: status, actions, log, messages');

  flows
    .command('list')
    .description('List flows with their status and counts')
    .action(async (_options, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.get<{ items: FlowView[] }>('/v1/flows');
      emit(output, text, () =>
        body.items.length === 0
          ? 'No flows.'
          : table(body.items, [
              { header: 'FLOW', value: (f) => f.flowId },
              { header: 'STATUS', value: (f) => f.status },
              { header: 'PARTNER', value: (f) => f.partnerId },
              { header: 'DESTINATIONS', value: (f) => list(f.destinations) },
              { header: 'QUEUED', value: (f) => f.counts?.queued },
              { header: 'DELIVERED', value: (f) => f.counts?.delivered },
              { header: 'FAILED', value: (f) => f.counts?.failed },
              { header: 'REASON', value: (f) => f.statusReason, max: 60 },
            ]),
      );
    });

  flows
    .command('show')
    .description('Show one flow')
    .argument('<flowId>')
    .action(async (id: string, _options, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.get<FlowView>(`/v1/flows/${seg(id)}`);
      emit(output, text, () => renderFlow(body));
    });

  const actions: [string, string][] = [
    ['pause', 'Pause delivery; messages are still accepted and queued'],
    ['resume', 'Resume delivery of a paused flow (keeps the flow log)'],
    ['disable', 'Reject new messages (409 flow-disabled)'],
    ['enable', 'Accept messages again (clears the flow log)'],
    ['start', 'Start a flow stopped after internal failures'],
  ];
  for (const [action, description] of actions) {
    flows
      .command(action)
      .description(description)
      .argument('<flowId>')
      .action(async (id: string, _options, command: Command) => {
        const { client, output } = contextOf(command);
        const { body, text } = await client.post<FlowView>(`/v1/flows/${seg(id)}/${action}`);
        emit(output, text, () => `Flow ${body.flowId} is ${body.status}${body.statusReason ? ` (${body.statusReason})` : ''}.`);
      });
  }

  flows
    .command('log')
    .description("Show the flow's own log: rejections before acceptance and state changes")
    .argument('<flowId>')
    .action(async (id: string, _options, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.get<{ entries: LogEntry[] }>(`/v1/flows/${seg(id)}/log`);
      emit(output, text, () =>
        body.entries.length === 0
          ? `Flow ${id} has no log entries.`
          : table(body.entries, [
              { header: 'AT', value: (e) => e.at },
              { header: 'LEVEL', value: (e) => e.level },
              { header: 'CODE', value: (e) => e.code },
              { header: 'MESSAGE', value: (e) => e.messageId },
              { header: 'DETAIL', value: (e) => e.detail, max: 100 },
            ]),
      );
    });

  flows
    .command('put')
    .description('Create a flow, or replace all of its settings (what is left out takes its default)')
    .argument('<flowId>')
    .option('--file <json>', 'the settings as JSON (the PUT /v1/flows/{id} body; "-" reads stdin); flags override it')
    .option('--partner <partnerId>', 'the partner that posts to this flow')
    .option('--destination <connectionId>', 'a connection to deliver to; repeat it, or separate with commas', collectIds)
    .addOption(new Option('--on-failure <policy>', 'after a failed delivery (default continue)').choices(['continue', 'suspend-chain']))
    .option('--auto-retry', 'retry transient failures (the default)')
    .option('--no-auto-retry', 'hold a transient failure in error until `sluice failed recover`')
    .option('--backout-threshold <n>', 'internal failures in a row before the flow stops (default 5)', positiveInt)
    .option('--expires-after <seconds>', 'messages expire this long after they are received', positiveInt)
    .option('--max-payload-bytes <n>', 'largest accepted payload (default 4 MiB)', positiveInt)
    .option(
      '--retention-days <n>',
      'days a message is kept once delivered or discarded (default 30; failed ones until acted on)',
      positiveInt,
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  sluice flows put orders --partner acme --destination erp',
        '  sluice flows put orders --file orders.json --destination erp,crm',
      ].join('\n'),
    )
    .action(async (id: string, options: FlowFlags & { file?: string }, command: Command) => {
      const file = options.file ? await readJsonObject(options.file) : {};
      const body = flowBody(file, options);
      const { client, output } = contextOf(command);
      const { body: saved, text } = await client.put<FlowView>(`/v1/flows/${seg(id)}`, body);
      emit(output, text, () => `Flow ${saved.flowId} saved.\n\n${renderFlow(saved)}`);
    });

  flows
    .command('messages')
    .description(
      "List a flow's messages, oldest first (the order they were received); --cursor pages on to newer ones. " +
        'With --status, each page is filtered, so a page may hold fewer than --limit messages while more follow.',
    )
    .argument('<flowId>')
    .addOption(new Option('--status <status>', 'only messages in this status').choices(MESSAGE_STATUSES))
    .option('--limit <n>', 'page size (1-100)', positiveInt)
    .option('--cursor <cursor>', 'the next page, from a previous listing')
    .action(async (id: string, options: { status?: string; limit?: number; cursor?: string }, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.get<{ items: MessageItem[]; cursor?: string | null }>(`/v1/flows/${seg(id)}/messages`, {
        status: options.status,
        limit: options.limit,
        cursor: options.cursor,
      });
      emit(output, text, () => {
        const rows =
          body.items.length === 0
            ? `No messages${options.status ? ` in status ${options.status}` : ''}.`
            : table(body.items, [
                { header: 'MESSAGE', value: (m) => m.messageId },
                { header: 'STATUS', value: (m) => m.status },
                { header: 'RECEIVED', value: (m) => m.receivedAt },
                { header: 'BYTES', value: (m) => m.bytes },
                { header: 'CONTENT TYPE', value: (m) => m.contentType },
                { header: 'CHAIN', value: (m) => m.chainId },
              ]);
        return body.cursor ? `${rows}\n\nMore: --cursor ${body.cursor}` : rows;
      });
    });

  return flows;
}
