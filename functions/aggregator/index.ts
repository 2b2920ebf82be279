import { Tracer } from '@aws-lambda-powertools/tracer';
import { configFromEnvironment } from '../../adapters/aws/config';
import { assembleRuntime, wire } from '../../adapters/runtime';
import { instrument } from '../instrument';
import { createAggregatorHandler } from './handler';

const serviceName = 'sluice-aggregator';
// Only what this function calls (DynamoDB only: counts and listings from the stream): its bundle holds
// no other SDK client.
const runtime = assembleRuntime(configFromEnvironment(), wire(), {}, serviceName);

export const handler = instrument(runtime, new Tracer({ serviceName }), createAggregatorHandler(runtime));
