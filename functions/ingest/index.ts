import { Tracer } from '@aws-lambda-powertools/tracer';
import { configFromEnvironment } from '../../adapters/aws/config';
import { createRuntime } from '../../adapters/runtime';
import { instrument } from '../instrument';
import { createIngestHandler } from './handler';

const serviceName = 'sluice-ingest';
const runtime = createRuntime(configFromEnvironment(), {}, serviceName);

export const handler = instrument(runtime, new Tracer({ serviceName }), createIngestHandler(runtime));
