import { configFromEnvironment } from '../../adapters/aws/config';
import { createRuntime } from '../../adapters/runtime';
import { createIngestHandler } from './handler';

export const handler = createIngestHandler(createRuntime(configFromEnvironment(), {}, 'sluice-ingest'));
