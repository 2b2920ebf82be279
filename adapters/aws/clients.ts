import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SluiceConfig } from './config';

/**
 * A Lambda function used a client or port it did not wire. Each function declares the
 * services it calls (functions/<name>/index.ts), so this is a bug in that declaration.
 */
export class NotWiredError extends Error {
  constructor(readonly part: string) {
    super(`${part} is not wired in this function: add it to the function's wiring`);
    this.name = 'NotWiredError';
  }
}

/** Called once per AWS API call; the benchmark's cost model counts calls through it. */
export type AwsCallRecorder = (service: string, operation: string) => void;

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  readonly eventBridge: EventBridgeClient;
  readonly scheduler: SchedulerClient;
  readonly kms: KMSClient;
}

/**
 * The client classes of the services besides DynamoDB (which every function calls).
 * A Lambda function passes only the ones it calls, so its bundle holds no other client:
 * the classes are values, and a value never imported is never bundled.
 */
export interface ClientClasses {
  sqs?: typeof SQSClient;
  s3?: typeof S3Client;
  eventBridge?: typeof EventBridgeClient;
  scheduler?: typeof SchedulerClient;
  kms?: typeof KMSClient;
}

export type OptionalService = keyof ClientClasses;

/** The names the recorder and the tracer know each client by. */
const SERVICE_LABELS: Record<OptionalService, string> = {
  sqs: 'SQS',
  s3: 'S3',
  eventBridge: 'EventBridge',
  scheduler: 'Scheduler',
  kms: 'KMS',
};

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** The part of a client the recorder and the tracer touch. */
export type AnyClient = { middlewareStack: { add: (...args: any[]) => void } };

function recordCalls(client: AnyClient, service: string, recorder: AwsCallRecorder): void {
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      recorder(service, (context.commandName ?? 'Unknown').replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'sluiceCallRecorder' },
  );
}

/** The clients each set was built with, for the tracer (the document client shares DynamoDB's stack). */
const BUILT = new WeakMap<AwsClients, AnyClient[]>();

/** The clients a set actually holds: DynamoDB's and those of the classes it was given. */
export function builtClients(clients: AwsClients): AnyClient[] {
  return BUILT.get(clients) ?? [];
}

/**
 * Builds DynamoDB's clients and one client per class given. Reading a client that was not
 * given throws {@link NotWiredError}: a function that calls a service it did not
 * declare fails loudly at the call, not with a bundle that quietly grew.
 */
export function buildAwsClients(config: SluiceConfig, classes: ClientClasses, recorder?: AwsCallRecorder): AwsClients {
  const local = config.endpoints.dynamodb !== undefined;
  const base = { region: config.region, ...(local ? { credentials: LOCAL_CREDENTIALS } : {}) };
  const dynamodb = new DynamoDBClient({ ...base, endpoint: config.endpoints.dynamodb });
  const documents = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const built: Partial<Record<OptionalService, AnyClient>> = {};
  if (classes.sqs) built.sqs = new classes.sqs({ ...base, endpoint: config.endpoints.sqs });
  if (classes.s3) {
    built.s3 = new classes.s3({
      ...base,
      endpoint: config.endpoints.s3,
      // The emulator serves path-style URLs on loopback; AWS uses virtual-hosted style.
      forcePathStyle: config.endpoints.s3 !== undefined,
    });
  }
  if (classes.eventBridge) built.eventBridge = new classes.eventBridge(base);
  if (classes.scheduler) built.scheduler = new classes.scheduler(base);
  if (classes.kms) built.kms = new classes.kms(base);

  const clients = { dynamodb, documents } as AwsClients;
  for (const service of Object.keys(SERVICE_LABELS) as OptionalService[]) {
    Object.defineProperty(clients, service, {
      enumerable: true,
      get: () => {
        const client = built[service];
        if (!client) throw new NotWiredError(service);
        return client;
      },
    });
  }
  if (recorder) {
    recordCalls(dynamodb, 'DynamoDB', recorder);
    for (const [service, client] of Object.entries(built) as [OptionalService, AnyClient][]) {
      recordCalls(client, SERVICE_LABELS[service], recorder);
    }
  }
  BUILT.set(clients, [dynamodb, ...Object.values(built)]);
  return clients;
}
