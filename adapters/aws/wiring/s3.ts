import { s3Service } from '../protocol/s3';
import type { RuntimeWiring } from '../../runtime';
import { S3PayloadStore } from '../payload-store';

/** The payload bucket: claim checks, the failed store and corrections. */
export const s3Wiring: RuntimeWiring = {
  protocols: { s3: s3Service },
  objects: (clients, config) => new S3PayloadStore(clients.s3, config.bucketName),
};
