import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Clock } from '../core/clock';
import { systemClock } from '../core/clock';
import {
  RecurringProbeOnly,
  type CredentialSealer,
  type DeliveryQueue,
  type EventPublisher,
  type PayloadStore,
  type ProbeScheduler,
} from '../core/ports';
import { DeliveryStore } from './aws/delivery-store';
import { EventBridgeProbeScheduler } from './aws/probe-scheduler';
import { createAwsClients, type AwsCallRecorder, type AwsClients } from './aws/clients';
import type { SluiceConfig } from './aws/config';
import { ConnectionStore } from './aws/connection-store';
import { KmsCredentialSealer, LocalCredentialSealer } from './aws/credential-sealer';
import { SqsDeliveryQueue } from './aws/delivery-queue';
import { EventBridgePublisher, InMemoryEventPublisher } from './aws/event-publisher';
import { FlowStore } from './aws/flow-store';
import { MessageStore } from './aws/message-store';
import { PartnerStore } from './aws/partner-store';
import { S3PayloadStore } from './aws/payload-store';
import { S3Presigner } from './aws/presigner';
import { AuditStore } from './aws/audit-store';
import { LaneStore } from './aws/lane-store';
import { DELIVERY_QUEUE } from './aws/definitions';

/** Everything a handler works with, wired once per Lambda container or local process. */
export interface Runtime {
  config: SluiceConfig;
  clients: AwsClients;
  clock: Clock;
  logger: Logger;
  /** CloudWatch metrics (EMF); disabled in local mode through POWERTOOLS_METRICS_DISABLED. */
  metrics: Metrics;
  partners: PartnerStore;
  connections: ConnectionStore;
  flows: FlowStore;
  messages: MessageStore;
  deliveries: DeliveryStore;
  /** Lanes whose work is parked in the table (SPEC semantics 15). */
  lanes: LaneStore;
  payloads: PayloadStore;
  /** The payload bucket by key (head, bounded reads, deletes) for the operator's repair workflow. */
  objects: S3PayloadStore;
  /** Presigned download and upload URLs on the payload bucket. */
  presigner: S3Presigner;
  /** The operator audit trail. */
  audit: AuditStore;
  probes: ProbeScheduler;
  queue: DeliveryQueue;
  events: EventPublisher;
  sealer: CredentialSealer;
  /** Payloads up to this size stay inline in the message record. @default 65536 */
  inlinePayloadLimitBytes: number;
  /** How long the queue keeps a message: lanes are parked before their tickets reach it. @default DELIVERY_QUEUE.retentionPeriodSeconds */
  queueRetentionSeconds: number;
}

/** Test and local-mode substitutions; everything else is built from the config. */
export interface RuntimeOverrides {
  clock?: Clock;
  logger?: Logger;
  events?: EventPublisher;
  sealer?: CredentialSealer;
  queue?: DeliveryQueue;
  /** Wraps the real queue, e.g. to inject send failures in tests. */
  wrapQueue?: (queue: DeliveryQueue) => DeliveryQueue;
  payloads?: PayloadStore;
  recorder?: AwsCallRecorder;
  probes?: ProbeScheduler;
  /** Seconds between recurring probes. @default 3600 */
  probeIntervalSeconds?: number;
  inlinePayloadLimitBytes?: number;
  queueRetentionSeconds?: number;
}

export function createRuntime(config: SluiceConfig, overrides: RuntimeOverrides = {}, serviceName = 'sluice'): Runtime {
  const clients = createAwsClients(config, overrides.recorder);
  const sealer =
    overrides.sealer ??
    (config.credentialsKeyId ? new KmsCredentialSealer(clients.kms, config.credentialsKeyId) : new LocalCredentialSealer());
  const events =
    overrides.events ??
    (config.eventBusName ? new EventBridgePublisher(clients.eventBridge, config.eventBusName) : new InMemoryEventPublisher());
  // Ingest reuses recent configuration reads for this long (a warm container then needs no read).
  const cacheMs = (config.configCacheSeconds ?? 5) * 1000;
  const flows = new FlowStore(clients.documents, config.tableName, cacheMs);
  const messages = new MessageStore(clients.documents, config.tableName);
  const objects = new S3PayloadStore(clients.s3, config.bucketName);
  return {
    config,
    clients,
    clock: overrides.clock ?? systemClock,
    logger: overrides.logger ?? new Logger({ serviceName }),
    metrics: new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Sluice', serviceName }),
    partners: new PartnerStore(clients.documents, config.tableName, cacheMs),
    connections: new ConnectionStore(clients.documents, config.tableName, sealer, cacheMs),
    flows,
    messages,
    deliveries: new DeliveryStore(clients.documents, config.tableName, flows, messages),
    lanes: new LaneStore(clients.documents, config.tableName),
    probes:
      overrides.probes ??
      (config.scheduler
        ? new EventBridgeProbeScheduler(clients.scheduler, config.scheduler)
        : new RecurringProbeOnly(overrides.probeIntervalSeconds ?? 3600)),
    payloads: overrides.payloads ?? objects,
    objects,
    presigner: S3Presigner.forConfig(config),
    audit: new AuditStore(clients.documents, config.tableName),
    queue: (overrides.wrapQueue ?? ((queue) => queue))(overrides.queue ?? new SqsDeliveryQueue(clients.sqs, config.queueUrl)),
    events,
    sealer,
    inlinePayloadLimitBytes: overrides.inlinePayloadLimitBytes ?? 64 * 1024,
    queueRetentionSeconds: overrides.queueRetentionSeconds ?? DELIVERY_QUEUE.retentionPeriodSeconds,
  };
}

/** Publishes what a request or batch recorded; nothing when it recorded nothing. */
export function flushMetrics(runtime: Runtime): void {
  if (runtime.metrics.hasStoredMetrics()) runtime.metrics.publishStoredMetrics();
}
