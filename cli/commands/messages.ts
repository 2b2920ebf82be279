import { Command } from 'commander';
import { seg } from '../client';
import { contextOf } from '../context';
import { emit, keyValues, table } from '../format';

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
    { header: 'LAST ERROR', value: (d) => (d.lastError ? [d.lastError.httpStatus, d.lastError.message].filter(Boolean).join(' ') : undefined), max: 80 },
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
  return messages;
}
