import { XRay } from '../../adapters/aws/x-ray';
import { configFromEnvironment } from '../../adapters/aws/config';
import { assembleRuntime, wire } from '../../adapters/runtime';
import { sqsWiring } from '../../adapters/aws/wiring/sqs';
import { s3Wiring } from '../../adapters/aws/wiring/s3';
import { presignerWiring } from '../../adapters/aws/wiring/presigner';
import { kmsWiring } from '../../adapters/aws/wiring/kms';
import { eventBridgeWiring } from '../../adapters/aws/wiring/event-bridge';
import { schedulerWiring } from '../../adapters/aws/wiring/scheduler';
import { instrument } from '../instrument';
import { createOperatorHandler } from './handler';

const serviceName = 'sluice-operator';
// Only what this function calls (every service: repair (S3, presigned URLs), connection secrets (KMS),
// probes (Scheduler), events): its bundle holds no other SDK client.
const runtime = assembleRuntime(
  configFromEnvironment(),
  wire(sqsWiring, s3Wiring, presignerWiring, kmsWiring, eventBridgeWiring, schedulerWiring),
  {},
  serviceName,
);

export const handler = instrument(runtime, new XRay(serviceName), createOperatorHandler(runtime));
