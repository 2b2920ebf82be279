import { join } from 'node:path';
import { isPartnerRequest, operatorTokenMatches } from '../api/apis';
import type { SluiceConfig } from '../adapters/aws/config';
import type { Runtime, RuntimeOverrides } from '../adapters/runtime';
import { createRuntime } from '../adapters/all-services';
import { InMemoryEventPublisher } from '../adapters/aws/event-publisher';
import { LocalCredentialSealer } from '../adapters/aws/credential-sealer';
import { createIngestHandler } from '../functions/ingest/handler';
import { createOperatorHandler } from '../functions/operator/handler';
import { COUNTS_STREAM, LOCAL_RESOURCE_NAMES } from '../adapters/aws/definitions';
import { startEmulators, type Emulators } from './emulators';
import { DataDirError, MEMORY_DATA_DIR, openDataDir } from './data-dir';
import { provisionLocalResources, type LocalResourceNames, type ProvisionedResources } from './provision';
import { startLocalApiServer, type LocalApiServer } from './server';
import { withConsole } from './console';
import { LocalEventSourcePoller, type SqsBatchHandler } from './poller';
import { reconcileSweep } from '../services/parking';
import { LocalStreamPoller } from './stream-poller';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { createAggregatorHandler } from '../functions/aggregator/handler';
import { LocalScheduler } from './scheduler';
import { LocalProbeScheduler } from './probe-scheduler';
import { createProberHandler } from '../functions/prober/handler';
import { DEFAULT_PROBE_PLAN } from '../core/probe-plan';
import { createDelivererHandler } from '../functions/deliverer/handler';
import type { DelivererOptions } from '../services/deliverer';
import { sweepExpired, type SweepResult } from './retention-sweeper';
import { destroySdkClients, sdkClients, type SdkClients } from './sdk-clients';

/** How often local mode deletes what retention let go of (AWS does it on its own). */
const RETENTION_SWEEP_MS = 3600 * 1000;

export interface LocalGatewayOptions {
  /** API port. @default 3000 (0 picks a free port) */
  port?: number;
  /** @default a random 256-bit token, kept in the data directory (when there is one) and reused */
  operatorToken?: string;
  /** Seconds between prober runs. @default 3600 */
  probeIntervalSeconds?: number;
  /** Seconds after a connection goes down at which fast one-time probes run. @default [60, 300, 900] */
  fastProbeDelaysSeconds?: number[];
  /** Substitutions for tests (clock, queue, event sink…). */
  overrides?: RuntimeOverrides;
  /** Run the local event-source poller feeding the deliverer. @default true */
  deliver?: boolean;
  /** Deliverer hooks for tests. */
  deliverer?: DelivererOptions;
  /** Concurrent poller loops (like concurrent Lambda batches). @default 4 */
  pollerConcurrency?: number;
  /** Records per deliverer batch (the stack's `deliveryBatchSize`). @default 10 */
  pollerBatchSize?: number;
  /** Run the local stream poller feeding the counts aggregator. @default true */
  aggregate?: boolean;
  /**
   * The stream poller's batching window: counts and listings trail the records by about this.
   * The bench sets AWS's (COUNTS_STREAM) to count the aggregator's writes as AWS would. @default 1000
   */
  aggregatorWindowMs?: number;
  /** Told each start-up step as it begins (`npm start` prints them). @default none */
  onProgress?: (step: string) => void;
  /**
   * Emulators that are already running (shared by several gateways, as in a test run).
   * The gateway uses them and leaves them running when it stops. @default its own, started and stopped with it
   */
  emulators?: Emulators;
  /** Table, queue and bucket names; gateways sharing emulators need their own. @default LOCAL_RESOURCE_NAMES */
  resourceNames?: LocalResourceNames;
  /**
   * Where the state is kept across restarts: a directory (relative ones against the
   * working directory), or `memory` to keep nothing. The directory holds DynamoDB
   * Local's database, the S3 objects, and the generated operator token, cursor secret
   * and credentials key; one gateway at a time may use it. With `emulators` given, only
   * the secrets are kept there: the emulators' owner decides where their data lives.
   * @default 'memory' (`npm start` defaults to `.sluice`)
   */
  dataDir?: string;
  /**
   * Runs once after the resources exist and before the API listens and the poller
   * starts, so that work it queues again from the recorded state (deliveries whose queue
   * message did not survive the restart) goes ahead of anything accepted afterwards.
   * A failure fails the start. @default the reconcile sweep, told that the queue is new
   * (the emulator keeps no queue across a restart): every delivery that was queued,
   * retrying or held is queued again in acceptance order per lane (services/parking.ts)
   */
  reconcile?: (context: { runtime: Runtime; resources: ProvisionedResources }) => Promise<void>;
  /** Wraps the deliverer's handler (tests: a queue that drops what it keeps too long). @default none */
  wrapDeliverer?: (handler: SqsBatchHandler) => SqsBatchHandler;
}

export interface LocalGateway {
  url: string;
  operatorToken: string;
  runtime: Runtime;
  /** The AWS SDK's clients on the same emulators, for local mode's own plumbing and for looking at what the handlers stored. */
  sdk: SdkClients;
  emulators: Emulators;
  resources: ProvisionedResources;
  /** Absolute path of the data directory; undefined in memory mode. */
  dataDir: string | undefined;
  poller?: LocalEventSourcePoller;
  /** Feeds the table's stream to the counts aggregator, as the stream event source mapping does on AWS. */
  streamPoller?: LocalStreamPoller;
  /** Runs the prober now, as the hourly schedule would. */
  probeNow(): Promise<unknown>;
  /** Deletes expired records and payloads now, as the hourly sweep would (`now`: the runtime's clock by default). */
  sweepRetention(now?: Date): Promise<SweepResult>;
  stop(): Promise<void>;
}

/** Everything `npm start` runs: emulators, resources, APIs, poller and scheduler. */
export async function startLocalGateway(options: LocalGatewayOptions = {}): Promise<LocalGateway> {
  // CloudWatch metrics mean nothing here; the same code emits them on AWS.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const progress = options.onProgress ?? (() => undefined);
  const dataDir = await openDataDir(options.dataDir ?? MEMORY_DATA_DIR);
  const stops: (() => Promise<void>)[] = [() => dataDir.close()];
  // Ctrl-C reaches DynamoDB Local's JVM (same process group) as it reaches us: once stopping,
  // a poller that finds the emulator gone is not an error worth showing.
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const step of stops.reverse()) await step().catch(() => undefined);
  };
  try {
    if (!options.emulators) progress('Starting DynamoDB Local (Java) and the SQS/S3 emulator');
    const emulators = options.emulators ?? (await startEmulators(dataDir.path ? { dataDir: dataDir.path } : {}));
    if (!options.emulators) stops.push(() => emulators.stop());
    const names = options.resourceNames ?? LOCAL_RESOURCE_NAMES;
    const endpoints = { dynamodb: emulators.dynamodbEndpoint, sqs: emulators.sqsEndpoint, s3: emulators.s3Endpoint };
    const bootstrap: SluiceConfig = {
      region: 'us-east-1',
      tableName: names.tableName,
      queueUrl: '',
      bucketName: names.bucketName,
      localMode: true,
      allowPrivateTargets: true,
      // Kept with the data, so a cursor from before a restart still pages on.
      cursorSecret: await dataDir.secret('cursor-secret'),
      endpoints,
    };
    progress('Creating the table, queue and bucket');
    const sdk = sdkClients(bootstrap);
    stops.push(async () => destroySdkClients(sdk));
    const resources = await provisionLocalResources(sdk, names);
    const config: SluiceConfig = { ...bootstrap, queueUrl: resources.queueUrl };
    const intervalSeconds = options.probeIntervalSeconds ?? DEFAULT_PROBE_PLAN.intervalSeconds;
    const scheduler = new LocalScheduler({ unref: true });
    stops.push(() => scheduler.stop());
    const probes = new LocalProbeScheduler(scheduler, {
      intervalSeconds,
      fastProbeDelaysSeconds: options.fastProbeDelaysSeconds ?? DEFAULT_PROBE_PLAN.fastProbeDelaysSeconds,
    });
    // The key that seals connection credentials is kept too, or they could not be opened after a restart.
    const credentialsKey = Buffer.from(await dataDir.secret('credentials-key'), 'base64url');
    if (credentialsKey.length !== 32) {
      throw new DataDirError(`The credentials key in ${dataDir.path} is not 32 bytes of base64url; restore it from a backup`);
    }
    const sealer = new LocalCredentialSealer(credentialsKey);
    const runtime = createRuntime(config, { probes, sealer, ...options.overrides }, 'sluice-local');
    const prober = createProberHandler(runtime);
    probes.probe = (connectionId) => prober({ kind: 'probe', connectionIds: [connectionId] });
    // DynamoDB Local never applies TTL and the emulator no lifecycle rules: local mode deletes expired data itself.
    const sweepRetention = (now?: Date) => sweepExpired(runtime, sdk, now);
    scheduler.every('retention-sweep', RETENTION_SWEEP_MS, () => sweepRetention());
    const operatorToken = options.operatorToken ?? (await dataDir.secret('operator-token'));
    let streamPoller: LocalStreamPoller | undefined;
    if (options.aggregate ?? true) {
      const streams = new DynamoDBStreamsClient({
        region: config.region,
        endpoint: emulators.dynamodbEndpoint,
        credentials: await sdk.dynamodb.config.credentials(),
      });
      streamPoller = new LocalStreamPoller({
        streams,
        streamArn: resources.streamArn,
        handler: createAggregatorHandler(runtime),
        region: config.region,
        intervalMs: options.aggregatorWindowMs ?? 1000,
        batchSize: COUNTS_STREAM.batchSize,
        // A kept table's stream is read on from where the last run stopped, never twice.
        ...(dataDir.path ? { checkpointFile: join(dataDir.path, 'stream-checkpoint.json') } : {}),
        onError: (error) => {
          if (!stopping) runtime.logger.error('local stream poller', { error: error as Error });
        },
      });
      const started = streamPoller;
      stops.push(async () => {
        await started.stop();
        streams.destroy();
      });
      // The reconcile walks the flows' message listings, which the stream feeds: catch up first.
      await streamPoller.drain();
    }
    progress('Queuing again what was queued, retrying or held when the gateway last stopped');
    await (options.reconcile ?? (({ runtime: r }) => reconcileSweep(r, { queueReplaced: true }).then(() => undefined)))({
      runtime,
      resources,
    });
    // Only now: the hourly run's own reconcile sweep must not start while this one still rebuilds the queue.
    scheduler.every('hourly-probe', intervalSeconds * 1000, () => prober({ kind: 'hourly' }));
    probes.resumeAfterRestart(await runtime.connections.list(), runtime.clock.now());
    // Operational events: logged as they happen and listed at GET /local/events (AWS: the event bus).
    const sink = runtime.events instanceof InMemoryEventPublisher ? runtime.events : undefined;
    sink?.subscribe((event) => runtime.logger.info('operational event', { event }));
    const operatorHandler = createOperatorHandler(runtime, { operatorToken });
    progress(`Starting the API on port ${options.port ?? 3000}`);
    const server: LocalApiServer = await startLocalApiServer({
      port: options.port ?? 3000,
      partnerHandler: createIngestHandler(runtime),
      operatorHandler: withConsole(
        async (event, context) => {
          if (event.httpMethod === 'GET' && event.path === '/local/events' && sink) {
            const authorized = operatorTokenMatches(
              { headers: Object.fromEntries(Object.entries(event.headers).map(([k, v]) => [k.toLowerCase(), v])) } as never,
              operatorToken,
            );
            if (authorized) {
              return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events: sink.events }) };
            }
          }
          return operatorHandler(event, context);
        },
        () => server.url,
      ),
      isPartnerRequest: (method, path, headers) => isPartnerRequest({ method, path, headers }, operatorToken),
      onError: (error) => runtime.logger.error('local API server: request failed', { error: error as Error }),
    });
    stops.push(() => server.close());
    let poller: LocalEventSourcePoller | undefined;
    if (options.deliver ?? true) {
      poller = new LocalEventSourcePoller({
        sqs: sdk.sqs,
        queueUrl: resources.queueUrl,
        handler: (options.wrapDeliverer ?? ((handler) => handler))(createDelivererHandler(runtime, options.deliverer)),
        concurrency: options.pollerConcurrency ?? 4,
        batchSize: options.pollerBatchSize ?? 10,
        onError: (error) => runtime.logger.error('local event source poller', { error: error as Error }),
      });
      poller.start();
      const started = poller;
      stops.push(() => started.stop());
    }
    streamPoller?.start();
    // What expired while local mode was stopped goes now, not an hour from now.
    const firstSweep = sweepRetention().then(
      () => undefined,
      (error: unknown) => runtime.logger.error('retention sweep', { error: error as Error }),
    );
    stops.push(() => firstSweep);
    return {
      url: server.url,
      operatorToken,
      runtime,
      sdk,
      emulators,
      resources,
      dataDir: dataDir.path,
      poller,
      streamPoller,
      probeNow: () => prober({ kind: 'hourly' }),
      sweepRetention,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
