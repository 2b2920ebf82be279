import { DEFAULT_PROBE_PLAN, nextProbe, type ProbePlan } from '../core/probe-plan';
import type { Connection } from '../core/model';
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

  private name(connectionId: string, delay: number | 'due') {
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
    this.scheduler.cancel(this.name(connectionId, 'due'));
  }

  /**
   * After a restart, schedules again the fast probes of the connections that were down when
   * the gateway stopped: EventBridge Scheduler keeps one-time schedules, this scheduler keeps
   * them in memory only. A probe that fell due while the gateway was stopped runs at once,
   * the later ones at their times. A connection without `nextProbeAt` (set offline by hand)
   * waits for the hourly run, as it would on AWS.
   */
  resumeAfterRestart(connections: Pick<Connection, 'connectionId' | 'status' | 'statusSince' | 'nextProbeAt'>[], now: Date): void {
    for (const { connectionId, status, statusSince, nextProbeAt } of connections) {
      if (status === 'online' || !nextProbeAt) continue;
      // The local scheduler runs on the machine's timers; `now` may be a test's clock.
      const atOffset = (ms: number) => new Date(Date.now() + Math.max(0, ms - now.getTime()));
      if (Date.parse(nextProbeAt) <= now.getTime())
        this.scheduler.once(this.name(connectionId, 'due'), atOffset(0), () => this.probe(connectionId));
      for (const delay of this.plan.fastProbeDelaysSeconds) {
        const at = Date.parse(statusSince) + delay * 1000;
        if (at > now.getTime()) this.scheduler.once(this.name(connectionId, delay), atOffset(at), () => this.probe(connectionId));
      }
    }
  }
}
