import type { Command } from 'commander';
import { SluiceClient } from './client';
import { outputTo, processIO, type IO, type Output } from './format';

export interface GlobalOptions {
  endpoint: string;
  token?: string;
  aws?: boolean;
  region?: string;
  json?: boolean;
  timeout?: number;
}

export interface Context {
  client: SluiceClient;
  output: Output;
}

const ios = new WeakMap<Command, IO>();

/** Sets where a program (and all its subcommands) writes. */
export function bindIO(program: Command, io: IO): void {
  ios.set(program, io);
}

export function ioOf(command: Command): IO {
  let root = command;
  while (root.parent) root = root.parent;
  return ios.get(root) ?? processIO;
}

/** The API client and output mode from the global options, wherever they were typed. */
export function contextOf(command: Command): Context {
  const options = command.optsWithGlobals<GlobalOptions>();
  const client = new SluiceClient({
    endpoint: options.endpoint,
    ...(options.token ? { token: options.token } : {}),
    ...(options.aws ? { aws: true } : {}),
    ...(options.region ? { region: options.region } : {}),
    ...(options.timeout ? { timeoutMs: options.timeout } : {}),
  });
  return { client, output: outputTo(ioOf(command), options.json === true) };
}
