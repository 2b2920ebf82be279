import { DEFAULT_PROBE_PLAN, nextProbe, type ProbePlan } from '../core/probe-plan';
import type { ProbeScheduler } from '../core/ports';
import type { LocalScheduler } from './scheduler';

/** Local mode's fast probes: one-time tasks on the local scheduler, same plan as on AWS. */
export class LocalProbeScheduler implements ProbeScheduler {
  /** Set once the runtime exists (the prober needs the runtime that holds this scheduler). */
  probe: (connectionId: string) => Promise<unknown> = async () => undefined;

  constructor(
    private readonly scheduler: LocalScheduler,
    private readonly plan: ProbePlan = DEFAULT_PROBE_PLAN,
  ) {}

  private name(connectionId: string, delay: number) {
    return `probe:${connectionId}:${delay}`;
  }

  nextProbe(downSince: Date, now: Date): Date {
    return nextProbe(this.plan, downSince, now);
  }

  async connectionDown(connectionId: string, now: Date): Promise<void> {
    for (const delay of this.plan.fastProbeDelaysSeconds) {
      this.scheduler.once(this.name(connectionId, delay), new Date(now.getTime() + delay * 1000), () => this.probe(connectionId));
    }
  }

  async connectionUp(connectionId: string): Promise<void> {
    for (const delay of this.plan.fastProbeDelaysSeconds) this.scheduler.cancel(this.name(connectionId, delay));
  }
}
