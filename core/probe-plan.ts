/**
 * When connections that are down get probed: a few fast one-time probes after the
 * outage starts (the seed systems took up to 90 minutes to notice a recovery), then
 * the recurring probe.
 */
export interface ProbePlan {
  /** Seconds after going down at which one-time probes run. @default [60, 300, 900] */
  fastProbeDelaysSeconds: number[];
  /** Seconds between recurring probes. @default 3600 */
  intervalSeconds: number;
}

export const DEFAULT_PROBE_PLAN: ProbePlan = { fastProbeDelaysSeconds: [60, 300, 900], intervalSeconds: 3600 };

/** The next probe after `now` for a connection down since `downSince`. */
export function nextProbe(plan: ProbePlan, downSince: Date, now: Date): Date {
  for (const delay of plan.fastProbeDelaysSeconds) {
    const at = downSince.getTime() + delay * 1000;
    if (at > now.getTime()) return new Date(at);
  }
  return new Date(now.getTime() + plan.intervalSeconds * 1000);
}
