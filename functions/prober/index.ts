import { configFromEnvironment } from '../../adapters/aws/config';
import { createRuntime } from '../../adapters/runtime';
import { createProberHandler } from './handler';

export const handler = createProberHandler(createRuntime(configFromEnvironment(), {}, 'sluice-prober'));
