import { XRay } from '../../adapters/aws/x-ray';
import { configFromEnvironment } from '../../adapters/aws/config';
import { assembleRuntime, wire } from '../../adapters/runtime';
import { sqsWiring } from '../../adapters/aws/wiring/sqs';
import { s3Wiring } from '../../adapters/aws/wiring/s3';
import { instrument } from '../instrument';
import { createIngestHandler } from './handler';

const serviceName = 'sluice-ingest';
// Only what this function calls (records messages in DynamoDB, queues them on SQS and keeps large
// payloads in S3): its bundle holds no other SDK client.
const runtime = assembleRuntime(configFromEnvironment(), wire(sqsWiring, s3Wiring), {}, serviceName);

export const handler = instrument(runtime, new XRay(serviceName), createIngestHandler(runtime));
