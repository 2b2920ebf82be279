import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SluiceConfig } from '../adapters/aws/config';
import { LOCAL_CREDENTIALS } from '../adapters/aws/clients';

/**
 * The AWS SDK's own clients on the emulators, for what local mode does in AWS's place
 * (creating the table, queues and bucket, the event source's polling, TTL and lifecycle
 * sweeps) and for tests and the benchmark that look at the emulators directly. The
 * handlers never use these: they call AWS through adapters/aws/protocol, in Lambda and here.
 */
export interface SdkClients {
  dynamodb: DynamoDBClient;
  documents: DynamoDBDocumentClient;
  sqs: SQSClient;
  s3: S3Client;
}

export function sdkClients(config: Pick<SluiceConfig, 'region' | 'endpoints'>): SdkClients {
  const base = { region: config.region, credentials: LOCAL_CREDENTIALS };
  const dynamodb = new DynamoDBClient({ ...base, endpoint: config.endpoints.dynamodb });
  return {
    dynamodb,
    documents: DynamoDBDocumentClient.from(dynamodb, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    }),
    sqs: new SQSClient({ ...base, endpoint: config.endpoints.sqs }),
    // The emulator serves path-style URLs on loopback.
    s3: new S3Client({ ...base, endpoint: config.endpoints.s3, forcePathStyle: true }),
  };
}

/** Closes the clients' connections. */
export function destroySdkClients(clients: SdkClients): void {
  clients.dynamodb.destroy();
  clients.sqs.destroy();
  clients.s3.destroy();
}
