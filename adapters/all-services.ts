import type { SluiceConfig } from './aws/config';
import { buildAwsClients, type AwsCallRecorder, type AwsClients } from './aws/clients';
import { eventBridgeWiring } from './aws/wiring/event-bridge';
import { kmsWiring } from './aws/wiring/kms';
import { presignerWiring } from './aws/wiring/presigner';
import { s3Wiring } from './aws/wiring/s3';
import { schedulerWiring } from './aws/wiring/scheduler';
import { sqsWiring } from './aws/wiring/sqs';
import { assembleRuntime, wire, type Runtime, type RuntimeOverrides } from './runtime';

/**
 * Every service wired: local mode, the benchmark and tests, which run all functions in
 * one process. Lambda entry points never import this module (each wires its own pieces).
 */
export const ALL_SERVICES = wire(sqsWiring, s3Wiring, presignerWiring, kmsWiring, eventBridgeWiring, schedulerWiring);

export function createRuntime(config: SluiceConfig, overrides: RuntimeOverrides = {}, serviceName = 'sluice'): Runtime {
  return assembleRuntime(config, ALL_SERVICES, overrides, serviceName);
}

export function createAwsClients(config: SluiceConfig, recorder?: AwsCallRecorder): AwsClients {
  return buildAwsClients(config, ALL_SERVICES.protocols ?? {}, recorder);
}
