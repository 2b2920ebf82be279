import { XRay } from '../../adapters/aws/x-ray';
import { configFromEnvironment } from '../../adapters/aws/config';
import { assembleRuntime, wire } from '../../adapters/runtime';
import { sqsWiring } from '../../adapters/aws/wiring/sqs';
import { kmsWiring } from '../../adapters/aws/wiring/kms';
import { eventBridgeWiring } from '../../adapters/aws/wiring/event-bridge';
import { schedulerWiring } from '../../adapters/aws/wiring/scheduler';
import { instrument } from '../instrument';
import { createProberHandler } from './handler';

const serviceName = 'sluice-prober';
// Only what this function calls (connection secrets (KMS), resume events, probe schedules, re-queueing
// sweeps (SQS); no payloads): its bundle holds no other SDK client.
const runtime = assembleRuntime(configFromEnvironment(), wire(sqsWiring, kmsWiring, eventBridgeWiring, schedulerWiring), {}, serviceName);

export const handler = instrument(runtime, new XRay(serviceName), createProberHandler(runtime));
