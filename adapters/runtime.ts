import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Clock } from '../core/clock';
import { systemClock } from '../core/clock';
import type { CredentialSealer, DeliveryQueue, EventPublisher, PayloadStore, ProbeScheduler } from '../core/ports';
import { DeliveryStore } from './aws/delivery-store';
import { buildAwsClients, NotWiredError, type AwsCallRecorder, type AwsClients, type ServiceProtocols } from './aws/clients';
import type { SluiceConfig } from './aws/config';
import { ConnectionStore } from './aws/connection-store';
import { FlowStore } from './aws/flow-store';
import { MessageStore } from './aws/message-store';
import { PartnerStore } from './aws/partner-store';
import type { S3PayloadStore } from './aws/payload-store';
import type { S3Presigner } from './aws/presigner';
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

/**
 * The ports a function builds besides its DynamoDB stores, and the service protocols they
 * call. Each piece lives in its own module under `adapters/aws/wiring/`, so a function's
 * bundle holds exactly the operations of the pieces its entry point imports. A port left
 * out is a stand-in that throws {@link NotWiredError} at its first use.
 */
export interface RuntimeWiring {
  protocols?: ServiceProtocols;
  queue?: PortFactory<DeliveryQueue>;
  /** The payload bucket (claim checks, the failed store, corrections). */
  objects?: PortFactory<S3PayloadStore>;
  presigner?: PortFactory<S3Presigner>;
  sealer?: PortFactory<CredentialSealer>;
  events?: PortFactory<EventPublisher>;
  probes?: PortFactory<ProbeScheduler>;
}

/** Builds one port from the function's clients, its config and the overrides that tune ports. */
export type PortFactory<T> = (clients: AwsClients, config: SluiceConfig, overrides: RuntimeOverrides) => T;

/** One wiring from several pieces; a later piece's port wins. */
export function wire(...pieces: RuntimeWiring[]): RuntimeWiring {
  const protocols: ServiceProtocols = {};
  const all: RuntimeWiring = { protocols };
  for (const piece of pieces) Object.assign(all, piece, { protocols: Object.assign(protocols, piece.protocols) });
  return all;
}

/** A port this function did not wire: any use of it throws (symbols stay readable for inspection). */
function notWired<T extends object>(port: string): T {
  return new Proxy({} as T, {
    get: (_target, property) => {
      if (typeof property === 'symbol' || property === 'then') return undefined;
      throw new NotWiredError(port);
    },
  });
}

/**
 * The runtime of one Lambda function (or of local mode, with every piece wired): the
 * DynamoDB stores always, the other ports as `wiring` provides them.
 */
export function assembleRuntime(
  config: SluiceConfig,
  wiring: RuntimeWiring,
  overrides: RuntimeOverrides = {},
  serviceName = 'sluice',
): Runtime {
  const clients = buildAwsClients(config, wiring.protocols ?? {}, overrides.recorder);
  const port = <T extends object>(name: string, make?: PortFactory<T>): T => (make ? make(clients, config, overrides) : notWired<T>(name));
  const sealer = overrides.sealer ?? port('sealer', wiring.sealer);
  // Ingest reuses recent configuration reads for this long (a warm container then needs no read).
  const cacheMs = (config.configCacheSeconds ?? 5) * 1000;
  const flows = new FlowStore(clients.documents, config.tableName, cacheMs);
  const messages = new MessageStore(clients.documents, config.tableName);
  const objects = port('objects', wiring.objects);
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
    probes: overrides.probes ?? port('probes', wiring.probes),
    payloads: overrides.payloads ?? objects,
    objects,
    presigner: port('presigner', wiring.presigner),
    audit: new AuditStore(clients.documents, config.tableName),
    queue: (overrides.wrapQueue ?? ((queue) => queue))(overrides.queue ?? port('queue', wiring.queue)),
    events: overrides.events ?? port('events', wiring.events),
    sealer,
    inlinePayloadLimitBytes: overrides.inlinePayloadLimitBytes ?? 64 * 1024,
    queueRetentionSeconds: overrides.queueRetentionSeconds ?? DELIVERY_QUEUE.retentionPeriodSeconds,
  };
}

/** Publishes what a request or batch recorded; nothing when it recorded nothing. */
export function flushMetrics(runtime: Runtime): void {
  if (runtime.metrics.hasStoredMetrics()) runtime.metrics.publishStoredMetrics();
}
