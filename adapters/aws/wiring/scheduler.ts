import { schedulerService } from '../protocol/scheduler';
import { RecurringProbeOnly } from '../../../core/ports';
import type { RuntimeWiring } from '../../runtime';
import { EventBridgeProbeScheduler } from '../probe-scheduler';

/** One-time probe schedules (EventBridge Scheduler); without a scheduler, the recurring probe only. */
export const schedulerWiring: RuntimeWiring = {
  protocols: { scheduler: schedulerService },
  probes: (clients, config, overrides) =>
    config.scheduler
      ? new EventBridgeProbeScheduler(clients.scheduler, config.scheduler)
      : new RecurringProbeOnly(overrides.probeIntervalSeconds ?? 3600),
};
