import { Tracer } from '@aws-lambda-powertools/tracer';
import { configFromEnvironment } from '../../adapters/aws/config';
import { createRuntime } from '../../adapters/runtime';
import { instrument } from '../instrument';
import { createAggregatorHandler } from './handler';

const serviceName = 'sluice-aggregator';
const runtime = createRuntime(configFromEnvironment(), {}, serviceName);

export const handler = instrument(runtime, new Tracer({ serviceName }), createAggregatorHandler(runtime));
