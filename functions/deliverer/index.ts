import { configFromEnvironment } from '../../adapters/aws/config';
import { createRuntime } from '../../adapters/runtime';
import { createDelivererHandler } from './handler';

export const handler = createDelivererHandler(createRuntime(configFromEnvironment(), {}, 'sluice-deliverer'));
