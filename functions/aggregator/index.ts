import { configFromEnvironment } from '../../adapters/aws/config';
import { createRuntime } from '../../adapters/runtime';
import { createAggregatorHandler } from './handler';

export const handler = createAggregatorHandler(createRuntime(configFromEnvironment(), {}, 'sluice-aggregator'));
