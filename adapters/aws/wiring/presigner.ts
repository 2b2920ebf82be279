import type { RuntimeWiring } from '../../runtime';
import { S3Presigner } from '../presigner';

/** Presigned download and upload URLs on the payload bucket (the operator's repair workflow). */
export const presignerWiring: RuntimeWiring = {
  presigner: (_clients, config) => S3Presigner.forConfig(config),
};
