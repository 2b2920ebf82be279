import { configFromEnvironment } from '../../adapters/aws/config';
import { createRuntime } from '../../adapters/runtime';
import { createOperatorHandler } from './handler';

export const handler = createOperatorHandler(createRuntime(configFromEnvironment(), {}, 'sluice-operator'));
