import { XRay } from '../../adapters/aws/x-ray';
import { configFromEnvironment } from '../../adapters/aws/config';
import { assembleRuntime, wire } from '../../adapters/runtime';
import { sqsWiring } from '../../adapters/aws/wiring/sqs';
import { s3Wiring } from '../../adapters/aws/wiring/s3';
import { kmsWiring } from '../../adapters/aws/wiring/kms';
import { eventBridgeWiring } from '../../adapters/aws/wiring/event-bridge';
import { schedulerWiring } from '../../adapters/aws/wiring/scheduler';
import { instrument } from '../instrument';
import { createDelivererHandler } from './handler';

const serviceName = 'sluice-deliverer';
// Only what this function calls (tickets (SQS), claim checks and the failed store (S3), connection
// secrets (KMS), pause events and probe schedules): its bundle holds no other SDK client.
const runtime = assembleRuntime(
  configFromEnvironment(),
  wire(sqsWiring, s3Wiring, kmsWiring, eventBridgeWiring, schedulerWiring),
  {},
  serviceName,
);

export const handler = instrument(runtime, new XRay(serviceName), createDelivererHandler(runtime));
