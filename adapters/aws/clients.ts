import { AwsClient, type AwsClientOptions, type CallArgs, type CallContext, type CallResult } from './protocol/client';
import { dynamodbService } from './protocol/dynamodb';
import { DocumentClient } from './protocol/dynamodb-documents';
import type { ServiceProtocol } from './protocol/operation';
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
  readonly dynamodb: AwsClient;
  readonly documents: DocumentClient;
  readonly sqs: AwsClient;
  readonly s3: AwsClient;
  readonly eventBridge: AwsClient;
  readonly scheduler: AwsClient;
  readonly kms: AwsClient;
}

/**
 * The protocols of the services besides DynamoDB (which every function calls). A Lambda
 * function passes only the ones it calls, so its bundle holds no other service's
 * operations: a module never imported is never bundled.
 */
export interface ServiceProtocols {
  sqs?: ServiceProtocol;
  s3?: ServiceProtocol;
  eventBridge?: ServiceProtocol;
  scheduler?: ServiceProtocol;
  kms?: ServiceProtocol;
}

export type OptionalService = keyof ServiceProtocols;

const OPTIONAL_SERVICES: OptionalService[] = ['sqs', 's3', 'eventBridge', 'scheduler', 'kms'];

/** What every client on local mode's emulators signs with (they check no signature). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** The emulator endpoint of a service in local mode (fauxqs serves SQS and S3; DynamoDB Local the table). */
function endpointOf(config: SluiceConfig, service: OptionalService | 'dynamodb'): string | undefined {
  if (service === 'dynamodb' || service === 'sqs' || service === 's3') return config.endpoints[service];
  return undefined;
}

/**
 * Where a service's client sends and what it signs with: an emulator and the local
 * credentials when the config names emulators (local mode), else AWS and the execution
 * role's credentials from the environment.
 */
export function awsClientOptions(config: SluiceConfig, service: OptionalService | 'dynamodb'): AwsClientOptions {
  const local = Object.values(config.endpoints).some((endpoint) => endpoint !== undefined);
  return { region: config.region, endpoint: endpointOf(config, service), ...(local ? { credentials: LOCAL_CREDENTIALS } : {}) };
}

function recordCalls(client: AwsClient, recorder: AwsCallRecorder): void {
  client.middlewareStack.add(
    ((next: (args: CallArgs) => Promise<CallResult>, context: CallContext) => async (args: CallArgs) => {
      recorder(client.service.label, context.commandName.replace(/Command$/, ''));
      return next(args);
    }) as never,
    { step: 'initialize', name: 'sluiceCallRecorder' } as never,
  );
}

/** The clients each set was built with, for the tracer (the document client shares DynamoDB's). */
const BUILT = new WeakMap<AwsClients, AwsClient[]>();

/** The clients a set actually holds: DynamoDB's and those of the protocols it was given. */
export function builtClients(clients: AwsClients): AwsClient[] {
  return BUILT.get(clients) ?? [];
}

/**
 * Builds DynamoDB's clients and one client per protocol given. Reading a client that was
 * not given throws {@link NotWiredError}: a function that calls a service it did not
 * declare fails loudly at the call, not with a bundle that quietly grew.
 */
export function buildAwsClients(config: SluiceConfig, protocols: ServiceProtocols, recorder?: AwsCallRecorder): AwsClients {
  const options = (service: OptionalService | 'dynamodb') => awsClientOptions(config, service);
  const dynamodb = new AwsClient(dynamodbService, options('dynamodb'));
  const documents = new DocumentClient(dynamodb);
  const built: Partial<Record<OptionalService, AwsClient>> = {};
  for (const service of OPTIONAL_SERVICES) {
    const protocol = protocols[service];
    if (protocol) built[service] = new AwsClient(protocol, options(service));
  }

  const clients = { dynamodb, documents } as AwsClients;
  for (const service of OPTIONAL_SERVICES) {
    Object.defineProperty(clients, service, {
      enumerable: true,
      get: () => {
        const client = built[service];
        if (!client) throw new NotWiredError(service);
        return client;
      },
    });
  }
  const all = [dynamodb, ...Object.values(built)];
  if (recorder) for (const client of all) recordCalls(client, recorder);
  BUILT.set(clients, all);
  return clients;
}
