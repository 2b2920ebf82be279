import { Command } from 'commander';
import { seg } from '../client';
import { contextOf } from '../context';
import { emit, table } from '../format';

interface PartnerView {
  partnerId: string;
  name: string;
  createdAt?: string;
}

/** The key is printed once and never again: say so where the operator will read it. */
const keyNotice = (apiKey: string) =>
  `API key (shown once, store it now; partners send it as "Authorization: Bearer <key>" or "x-api-key"):\n${apiKey}`;

export function partnersCommand(): Command {
  const partners = new Command('partners').alias('partner').description('Senders: create them and rotate their API keys');

  partners
    .command('list')
    .description('List partners (never their keys)')
    .action(async (_options, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.get<{ items: PartnerView[] }>('/v1/partners');
      emit(output, text, () =>
        body.items.length === 0
          ? 'No partners.'
          : table(body.items, [
              { header: 'PARTNER', value: (p) => p.partnerId },
              { header: 'NAME', value: (p) => p.name, max: 60 },
              { header: 'CREATED', value: (p) => p.createdAt },
            ]),
      );
    });

  partners
    .command('create')
    .description('Create a partner and print its API key (shown once)')
    .argument('<partnerId>')
    .option('--name <name>', 'display name (default: the partner id)')
    .addHelpText('after', '\nExample:\n  sluice partners create acme --name "ACME Corp"')
    .action(async (partnerId: string, options: { name?: string }, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.post<PartnerView & { apiKey: string }>('/v1/partners', {
        partnerId,
        name: options.name ?? partnerId,
      });
      emit(output, text, () => `Partner ${body.partnerId} (${body.name}) created.\n${keyNotice(body.apiKey)}`);
    });

  partners
    .command('rotate-key')
    .description('Give a partner a new API key (shown once); the old key stops working at once')
    .argument('<partnerId>')
    .action(async (partnerId: string, _options, command: Command) => {
      const { client, output } = contextOf(command);
      const { body, text } = await client.post<{ apiKey: string }>(`/v1/partners/${seg(partnerId)}/keys`);
      emit(output, text, () => `Partner ${partnerId} has a new key; the old one no longer works.\n${keyNotice(body.apiKey)}`);
    });

  return partners;
}
