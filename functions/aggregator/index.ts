import { XRay } from '../../adapters/aws/x-ray';
import { configFromEnvironment } from '../../adapters/aws/config';
import { assembleRuntime, wire } from '../../adapters/runtime';
import { s3Wiring } from '../../adapters/aws/wiring/s3';
import { instrument } from '../instrument';
import { createAggregatorHandler } from './handler';

const serviceName = 'sluice-aggregator';
// Only what this function calls (counts and listings from the stream, and the retention tags on a
// final message's payload objects (S3)): its bundle holds no other SDK client.
const runtime = assembleRuntime(configFromEnvironment(), wire(s3Wiring), {}, serviceName);

export const handler = instrument(runtime, new XRay(serviceName), createAggregatorHandler(runtime));
