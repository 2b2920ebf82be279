import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { S3Client } from '@aws-sdk/client-s3';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { KMSClient } from '@aws-sdk/client-kms';
import type { SluiceConfig } from './config';

/** Called once per AWS API call; the benchmark's cost model counts calls through it. */
export type AwsCallRecorder = (service: string, operation: string) => void;

export interface AwsClients {
  dynamodb: DynamoDBClient;
  documents: DynamoDBDocumentClient;
  sqs: SQSClient;
  s3: S3Client;
  eventBridge: EventBridgeClient;
  scheduler: SchedulerClient;
  kms: KMSClient;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

type AnyClient = { middlewareStack: { add: (...args: any[]) => void } };

function recordCalls(client: AnyClient, service: string, recorder: AwsCallRecorder): void {
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      recorder(service, (context.commandName ?? 'Unknown').replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'sluiceCallRecorder' },
  );
}

export function createAwsClients(config: SluiceConfig, recorder?: AwsCallRecorder): AwsClients {
  const local = config.endpoints.dynamodb !== undefined;
  const base = { region: config.region, ...(local ? { credentials: LOCAL_CREDENTIALS } : {}) };
  const dynamodb = new DynamoDBClient({ ...base, endpoint: config.endpoints.dynamodb });
  const documents = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const sqs = new SQSClient({ ...base, endpoint: config.endpoints.sqs });
  const s3 = new S3Client({
    ...base,
    endpoint: config.endpoints.s3,
    // The emulator serves path-style URLs on loopback; AWS uses virtual-hosted style.
    forcePathStyle: config.endpoints.s3 !== undefined,
  });
  const clients: AwsClients = {
    dynamodb,
    documents,
    sqs,
    s3,
    eventBridge: new EventBridgeClient(base),
    scheduler: new SchedulerClient(base),
    kms: new KMSClient(base),
  };
  if (recorder) {
    recordCalls(dynamodb, 'DynamoDB', recorder);
    recordCalls(sqs, 'SQS', recorder);
    recordCalls(s3, 'S3', recorder);
    recordCalls(clients.eventBridge, 'EventBridge', recorder);
    recordCalls(clients.scheduler, 'Scheduler', recorder);
    recordCalls(clients.kms, 'KMS', recorder);
  }
  return clients;
}
