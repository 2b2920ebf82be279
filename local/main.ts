import { createServer } from 'node:net';
import { startLocalGateway, type LocalGateway } from './gateway';
import { EmulatorStartError } from './emulators';
import { DataDirError, MEMORY_DATA_DIR, resolveDataDir } from './data-dir';
import { LocalTableMismatchError } from './provision';
import { consoleUrl } from './console';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** `npm start`: the whole gateway on this machine, until Ctrl-C. */

const HOST = '127.0.0.1';
const out = (text: string) => void process.stdout.write(`${text}\n`);

/** Ends `npm start` with a message a new user can act on, and no stack trace. */
function exitWith(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function portFromEnv(): number {
  const raw = process.env.PORT ?? '3000';
  const port = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(port) || port < 1 || port > 65535) {
    exitWith(`PORT must be a port number from 1 to 65535, not "${raw}". For example: PORT=3001 npm start`, 2);
  }
  return port;
}

const portAdvice = (port: number) =>
  `Stop whatever uses it (another \`npm start\`?), or choose another port: PORT=${port === 3000 ? 3001 : 3000} npm start`;

function listenError(error: unknown, port: number): string | undefined {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'EADDRINUSE':
      return `Port ${port} on ${HOST} is already in use. ${portAdvice(port)}`;
    case 'EACCES':
      return `Port ${port} on ${HOST} needs privileges this user does not have. Choose a port above 1023: PORT=3000 npm start`;
    default:
      return undefined;
  }
}

/**
 * Checks the API port before the emulators start, so a busy port is reported at once
 * rather than after DynamoDB Local's JVM has been started for nothing.
 */
function checkPort(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(port, HOST, () => probe.close(() => resolve()));
  });
}

const port = portFromEnv();
const probeIntervalSeconds = Number(process.env.SLUICE_PROBE_INTERVAL_SECONDS ?? 3600);
if (!Number.isFinite(probeIntervalSeconds) || probeIntervalSeconds <= 0) {
  exitWith(`SLUICE_PROBE_INTERVAL_SECONDS must be a positive number of seconds, not "${process.env.SLUICE_PROBE_INTERVAL_SECONDS}".`, 2);
}

try {
  await checkPort(port);
} catch (error) {
  exitWith(listenError(error, port) ?? `Cannot listen on ${HOST}:${port}: ${(error as Error).message}`);
}

// Resolved here, against the directory `npm start` runs in, so the printed path is the one used.
const dataDir = resolveDataDir(process.env.SLUICE_DATA_DIR);

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
let gateway: LocalGateway;
try {
  gateway = await startLocalGateway({
    port,
    probeIntervalSeconds,
    dataDir,
    ...(process.env.SLUICE_OPERATOR_TOKEN ? { operatorToken: process.env.SLUICE_OPERATOR_TOKEN } : {}),
    // DynamoDB Local's JVM takes seconds (more on a busy machine): say what is happening.
    onProgress: (step) => out(`[${elapsed()}] ${step}…`),
  });
} catch (error) {
  const busy = listenError(error, port);
  if (busy) exitWith(busy);
  if (error instanceof DataDirError || error instanceof LocalTableMismatchError) exitWith(error.message);
  if (error instanceof EmulatorStartError) {
    exitWith(
      `Could not start the local emulators: ${error.message}\nLocal mode needs Java 17 or later on the PATH (java -version) for DynamoDB Local.`,
    );
  }
  throw error;
}

const lines = [
  `Sluice is running in local mode (started in ${elapsed()}).`,
  `  Partner + operator API  ${gateway.url}   (GET ${gateway.url}/health)`,
  `  Operator token          ${process.env.SLUICE_OPERATOR_TOKEN ? '(from SLUICE_OPERATOR_TOKEN)' : gateway.operatorToken}`,
  // A token the user chose stays out of the output; they append it themselves.
  `  Operator console        ${
    process.env.SLUICE_OPERATOR_TOKEN
      ? `${consoleUrl(gateway.url, '')}<your SLUICE_OPERATOR_TOKEN>`
      : consoleUrl(gateway.url, gateway.operatorToken)
  }`,
  `  DynamoDB Local          ${gateway.emulators.dynamodbEndpoint}   table ${gateway.resources.tableName}`,
  `  SQS + S3 emulator       ${gateway.emulators.sqsEndpoint}   queue ${gateway.resources.queueUrl}`,
  `                          bucket ${gateway.resources.bucketName}`,
  `  Prober runs every       ${probeIntervalSeconds} s`,
  dataDir === MEMORY_DATA_DIR
    ? `  Data                    in memory only (SLUICE_DATA_DIR=${MEMORY_DATA_DIR}): nothing is kept after Ctrl-C`
    : `  Data kept in            ${gateway.dataDir}   (another: SLUICE_DATA_DIR=<dir>; none: SLUICE_DATA_DIR=${MEMORY_DATA_DIR})`,
  'In another terminal:',
  process.env.SLUICE_OPERATOR_TOKEN
    ? `  export SLUICE_ENDPOINT=${gateway.url} SLUICE_OPERATOR_TOKEN=<the token set here>`
    : `  export SLUICE_ENDPOINT=${gateway.url} SLUICE_OPERATOR_TOKEN=${gateway.operatorToken}`,
  'Press Ctrl-C to stop.',
];
out(lines.join('\n'));

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    out('Stopping Sluice…');
    gateway.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
