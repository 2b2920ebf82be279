import type { Runtime } from '../../adapters/runtime';
import { runProber, type ProberEvent, type ProbeResult } from '../../services/prober';

/** Invoked by the hourly schedule (`{ kind: 'hourly' }`) and by one-time probe schedules. */
export function createProberHandler(runtime: Runtime): (event?: Partial<ProberEvent>) => Promise<{ probed: ProbeResult[] }> {
  return async (event) => {
    const kind = event?.kind === 'probe' ? 'probe' : 'hourly';
    const probed = await runProber(runtime, { kind, ...(event?.connectionIds ? { connectionIds: event.connectionIds } : {}) });
    return { probed };
  };
}
