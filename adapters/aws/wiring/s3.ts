import { S3Client } from '@aws-sdk/client-s3';
import type { RuntimeWiring } from '../../runtime';
import { S3PayloadStore } from '../payload-store';

/** The payload bucket: claim checks, the failed store and corrections. */
export const s3Wiring: RuntimeWiring = {
  clients: { s3: S3Client },
  objects: (clients, config) => new S3PayloadStore(clients.s3, config.bucketName),
};
