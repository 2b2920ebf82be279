import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { CliError, seg, SluiceClient, UsageError } from '../client';
import { contextOf, type GlobalOptions } from '../context';
import { EXIT } from '../exit-codes';
import { emit, keyValues, table } from '../format';

/** Messages per request of the batch endpoint. */
const BATCH_LIMIT = 100;

interface BatchResult {
  messageId?: string;
  status?: string;
  duplicate?: boolean;
  receivedAt?: string;
  error?: { code: string; status: number; detail: string };
}

/**
 * The messages of a file: `{ "messages": [...] }`, a JSON array, or JSON lines (one
 * message object per line), each as the batch endpoint takes it.
 */
export function parseMessageFile(text: string, file: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new UsageError(`${file} holds no messages.`);
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (Array.isArray(parsed)) return parsed;
    if (parsed && typeof parsed === 'object' && Array.isArray((parsed as { messages?: unknown }).messages))
      return (parsed as { messages: unknown[] }).messages;
    if (parsed && typeof parsed === 'object') return [parsed];
  } catch {
    // Not one JSON document: JSON lines.
  }
  return trimmed.split('\n').flatMap((line, index) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line) as unknown];
    } catch (error) {
      throw new UsageError(`${file} line ${index + 1} is not JSON: ${(error as Error).message}`);
    }
  });
}

interface MessageDetail {
  messageId: string;
  flowId: string;
  partnerId?: string;
  status: string;
  receivedAt: string;
  contentType?: string;
  bytes?: number;
  sha256?: string;
  correlationId?: string;
  chainId?: string;
  expiresAt?: string;
  deliveries: {
    connectionId: string;
    lane?: number;
    status: string;
    attempts: number;
    failureType?: string;
    lastError?: { httpStatus?: number; message?: string };
    nextAttemptAt?: string;
    deliveredAt?: string;
  }[];
  report?: { at: string; event: string; level?: string; detail?: string; attempt?: number; httpStatus?: number; durationMs?: number }[];
}

export function renderMessage(m: MessageDetail): string {
  const head = keyValues([
    ['Message', m.messageId],
    ['Flow', m.flowId],
    ['Partner', m.partnerId],
    ['Status', m.status],
    ['Received', m.receivedAt],
    ['Content type', m.contentType],
    ['Bytes', m.bytes],
    ['SHA-256', m.sha256],
    ['Correlation id', m.correlationId],
    ['Chain', m.chainId],
    ['Expires', m.expiresAt],
  ]);
  const deliveries = table(m.deliveries, [
    { header: 'CONNECTION', value: (d) => d.connectionId },
    { header: 'LANE', value: (d) => d.lane },
    { header: 'STATUS', value: (d) => d.status },
    { header: 'ATTEMPTS', value: (d) => d.attempts },
    { header: 'TYPE', value: (d) => d.failureType },
    {
      header: 'LAST ERROR',
      value: (d) => (d.lastError ? [d.lastError.httpStatus, d.lastError.message].filter(Boolean).join(' ') : undefined),
      max: 80,
    },
  ]);
  const report = table(m.report ?? [], [
    { header: 'AT', value: (e) => e.at },
    { header: 'EVENT', value: (e) => e.event },
    { header: 'LEVEL', value: (e) => e.level },
    { header: 'ATTEMPT', value: (e) => e.attempt },
    { header: 'HTTP', value: (e) => e.httpStatus },
    { header: 'MS', value: (e) => e.durationMs },
    { header: 'DETAIL', value: (e) => e.detail, max: 100 },
  ]);
  return `${head}\n\nDeliveries\n${deliveries}\n\nExecution report\n${report}`;
}

export function messagesCommand(): Command {
  const messages = new Command('messages').alias('message').description('One message: its deliveries and execution report');
  messages
    .command('show')
    .description('Show a message with its deliveries and execution report')
    .argument('<flowId>')
    .argument('<messageId>')
    .action(async (flowId: string, messageId: string, _options, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.get<MessageDetail>(`/v1/flows/${seg(flowId)}/messages/${seg(messageId)}`);
      emit(output, text, () => renderMessage(body));
    });
  messages
    .command('post-batch')
    .description(
      'Post a file of messages to a flow through the partner API, 100 per request, in file order ' +
        '({ "messages": [...] }, a JSON array, or JSON lines of { id, payload, encoding?, contentType?, chainId?, correlationId?, expiresAt? })',
    )
    .requiredOption('--flow <flowId>', 'the flow to post to')
    .requiredOption('--file <path>', 'the messages file')
    .option('--api-key <key>', "the partner's API key (default: $SLUICE_API_KEY)")
    .option('--partner-endpoint <url>', 'the partner API (default: --endpoint, as in local mode)')
    .action(async (options: { flow: string; file: string; apiKey?: string; partnerEndpoint?: string }, command: Command) => {
      const { output } = contextOf(command);
      const globals = command.optsWithGlobals<GlobalOptions>();
      const apiKey = options.apiKey ?? process.env.SLUICE_API_KEY;
      if (!apiKey) throw new UsageError('A partner API key is needed: --api-key or SLUICE_API_KEY.');
      let text: string;
      try {
        text = await readFile(options.file, 'utf8');
      } catch (error) {
        throw new UsageError(`Cannot read ${options.file}: ${(error as Error).message}`);
      }
      const all = parseMessageFile(text, options.file);
      // Partner keys are bearer tokens too: the same client, never SigV4.
      const client = new SluiceClient({
        endpoint: options.partnerEndpoint ?? globals.endpoint,
        token: apiKey,
        ...(globals.timeout ? { timeoutMs: globals.timeout } : {}),
      });
      const results: BatchResult[] = [];
      for (let i = 0; i < all.length; i += BATCH_LIMIT) {
        const { body } = await client.post<{ results: BatchResult[] }>(`/v1/flows/${seg(options.flow)}/batches`, {
          messages: all.slice(i, i + BATCH_LIMIT),
        });
        results.push(...body.results);
      }
      emit(output, JSON.stringify({ flowId: options.flow, results }), () =>
        table(results, [
          { header: 'MESSAGE', value: (r) => r.messageId },
          { header: 'RESULT', value: (r) => (r.error ? r.error.code : r.duplicate ? `duplicate (${r.status})` : r.status) },
          { header: 'DETAIL', value: (r) => r.error?.detail ?? r.receivedAt, max: 100 },
        ]),
      );
      const rejected = results.filter((r) => r.error).length;
      if (rejected > 0) throw new CliError(`${rejected} of ${results.length} messages were not accepted.`, EXIT.apiError);
    });
  return messages;
}
