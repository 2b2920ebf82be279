import { startLocalGateway } from './gateway';
import { consoleUrl } from './console';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** `npm start`: the whole gateway on this machine, until Ctrl-C. */
const port = Number(process.env.PORT ?? 3000);
const probeIntervalSeconds = Number(process.env.SLUICE_PROBE_INTERVAL_SECONDS ?? 3600);
const gateway = await startLocalGateway({
  port,
  probeIntervalSeconds,
  ...(process.env.SLUICE_OPERATOR_TOKEN ? { operatorToken: process.env.SLUICE_OPERATOR_TOKEN } : {}),
});

const lines = [
  'Sluice is running in local mode.',
  `  Partner + operator API  ${gateway.url}   (GET ${gateway.url}/health)`,
  `  Operator token          ${process.env.SLUICE_OPERATOR_TOKEN ? '(from SLUICE_OPERATOR_TOKEN)' : gateway.operatorToken}`,
  `  Operator console        ${consoleUrl(gateway.url, gateway.operatorToken)}`,
  `  DynamoDB Local          ${gateway.emulators.dynamodbEndpoint}   table ${gateway.resources.tableName}`,
  `  SQS + S3 emulator       ${gateway.emulators.sqsEndpoint}   queue ${gateway.resources.queueUrl}`,
  `                          bucket ${gateway.resources.bucketName}`,
  `  Prober runs every       ${probeIntervalSeconds} s`,
  'Press Ctrl-C to stop.',
];
process.stdout.write(`${lines.join('\n')}\n`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('Stopping Sluice…\n');
    gateway.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
