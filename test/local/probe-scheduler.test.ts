import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalProbeScheduler } from '../../local/probe-scheduler';
import { LocalScheduler } from '../../local/scheduler';
import { waitFor } from '../helpers/emulator-wait';

describe('local fast probes after a restart', () => {
  const scheduler = new LocalScheduler();
  after(() => scheduler.stop());

  it('runs at once a probe that fell due while stopped, schedules the later ones, and leaves online and hand-set connections alone', async () => {
    const probes = new LocalProbeScheduler(scheduler, { fastProbeDelaysSeconds: [60, 300, 900], intervalSeconds: 3600 });
    const probed: string[] = [];
    probes.probe = async (connectionId) => probed.push(connectionId);
    const now = new Date();
    const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000).toISOString();

    probes.resumeAfterRestart(
      [
        // Down two minutes ago: its 60 s probe passed while the gateway was stopped.
        { connectionId: 'erp', status: 'offline', statusSince: ago(120), nextProbeAt: ago(60) },
        // Down ten seconds ago: every fast probe is still ahead.
        { connectionId: 'crm', status: 'unauthorized', statusSince: ago(10), nextProbeAt: ago(-50) },
        { connectionId: 'wms', status: 'online', statusSince: ago(500) },
        // Set offline by hand: no probe until the hourly run.
        { connectionId: 'tms', status: 'offline', statusSince: ago(120) },
      ],
      now,
    );

    await waitFor(() => probed.includes('erp'), { what: 'the probe that fell due' });
    assert.deepEqual(probed, ['erp']);
    assert.deepEqual(scheduler.names().sort(), ['probe:crm:300', 'probe:crm:60', 'probe:crm:900', 'probe:erp:300', 'probe:erp:900']);

    await probes.connectionUp('crm');
    assert.deepEqual(scheduler.names().sort(), ['probe:erp:300', 'probe:erp:900']);
  });
});
