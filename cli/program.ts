import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ApiError, CliError } from './client';
import { connectionsCommand } from './commands/connections';
import { consoleCommand } from './commands/console';
import { failedCommand } from './commands/failed';
import { flowsCommand, positiveInt } from './commands/flows';
import { messagesCommand } from './commands/messages';
import { partnersCommand } from './commands/partners';
import { bindIO } from './context';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from './exit-codes';
import { processIO, type IO } from './format';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:3000';

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(io: IO = processIO): Command {
  const program = new Command('sluice')
    .description('Operate a Sluice gateway: partners, connections, flows, messages and failed events.')
    .addOption(
      new Option('--endpoint <url>', 'operator API base URL (with the stage on AWS)').env('SLUICE_ENDPOINT').default(DEFAULT_ENDPOINT),
    )
    .addOption(new Option('--token <token>', 'local mode operator bearer token').env('SLUICE_OPERATOR_TOKEN'))
    .option('--aws', 'sign requests with SigV4 (IAM, service execute-api); the default when no token is given')
    .addOption(new Option('--region <region>', 'AWS region for SigV4 (default: AWS_REGION or the endpoint host)'))
    .addOption(new Option('--timeout <ms>', 'per-request timeout in milliseconds').argParser(positiveInt).default(30_000))
    .option('--json', "machine output: print the API's JSON exactly")
    .version(packageVersion(), '-V, --version')
    .addHelpText('after', `\n${EXIT_CODES_HELP}`);
  bindIO(program, io);
  for (const command of [partnersCommand(), connectionsCommand(), flowsCommand(), messagesCommand(), failedCommand(), consoleCommand()]) {
    program.addCommand(command);
  }
  // Commander's own errors (unknown command, missing argument…) exit 2, not 1.
  const configure = (command: Command) => {
    command
      .exitOverride()
      .showHelpAfterError('(run with --help for usage)')
      .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) });
    command.commands.forEach(configure);
  };
  configure(program);
  return program;
}

function printError(io: IO, error: CliError, json: boolean): void {
  if (error instanceof ApiError) {
    if (json) io.stderr(`${JSON.stringify(error.problem)}\n`);
    else io.stderr(`Error: ${error.message} (code: ${error.problem.code}, HTTP ${error.problem.status})\n`);
  } else {
    io.stderr(json ? `${JSON.stringify({ error: error.name, detail: error.message })}\n` : `Error: ${error.message}\n`);
  }
}

/** Runs the CLI and returns the exit code (it never calls process.exit). */
export async function run(argv: string[], io: IO = processIO): Promise<ExitCode> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; commander has already printed its message.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      printError(io, error, program.opts().json === true);
      return error.exitCode;
    }
    io.stderr(`Unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT.apiError;
  }
}
