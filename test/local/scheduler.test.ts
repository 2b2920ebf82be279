import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalScheduler, type LocalSchedulerOptions } from '../../local/scheduler';
import { deferred, waitFor } from '../helpers/emulator-wait';

const schedulers: LocalScheduler[] = [];
function scheduler(options?: LocalSchedulerOptions): LocalScheduler {
  const s = new LocalScheduler(options);
  schedulers.push(s);
  return s;
}

// The scheduler's timers are unref'd (as in local mode, where the HTTP server keeps the process
// alive), so tests await scheduled work through waitFor, whose own timer keeps the loop running.
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
});

describe('LocalScheduler', () => {
  test('a recurring task repeats and never overlaps itself', async () => {
    const s = scheduler();
    let active = 0;
    let maxActive = 0;
    const starts: number[] = [];
    s.every('probe', 20, async () => {
      starts.push(Date.now());
      active++;
      maxActive = Math.max(maxActive, active);
      // Each run lasts longer than the interval: the next one must wait for it.
      await new Promise((resolve) => setTimeout(resolve, 45));
      active--;
    });
    await waitFor(() => starts.length >= 4, { what: 'four runs' });
    await s.stop();
    assert.equal(maxActive, 1);
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i] - starts[i - 1] >= 40, 'a run started before the previous ended');
    assert.equal(active, 0, 'stop() waited for the run in progress');
  });

  test('a one-time task runs once at its time and is forgotten', async () => {
    const s = scheduler();
    const ran: number[] = [];
    const at = new Date(Date.now() + 30);
    s.once('probe-c1', at, () => {
      ran.push(Date.now());
    });
    assert.equal(s.has('probe-c1'), true);
    await waitFor(() => ran.length === 1, { what: 'the one-time run' });
    assert.ok(ran[0] >= at.getTime() - 2, 'ran before its time');
    assert.equal(s.has('probe-c1'), false);
    assert.deepEqual(s.names(), []);
    // A later one-time task runs too, proving the first did not run again meanwhile.
    const later = deferred();
    s.once('marker', new Date(Date.now() + 40), () => later.resolve());
    await waitFor(() => later.settled, { what: 'later' });
    assert.equal(ran.length, 1);
  });

  test('a one-time task in the past runs at once', async () => {
    const s = scheduler();
    const done = deferred();
    s.once('overdue', new Date(Date.now() - 60_000), () => done.resolve());
    await waitFor(() => done.settled, { what: 'done' });
    assert.equal(s.has('overdue'), false);
  });

  test('cancel removes a schedule before it runs', async () => {
    const s = scheduler();
    let cancelledRuns = 0;
    let recurringRuns = 0;
    s.once('cancelled', new Date(Date.now() + 20), () => cancelledRuns++);
    s.every('cancelled-recurring', 20, () => recurringRuns++);
    assert.equal(s.cancel('cancelled'), true);
    assert.equal(s.cancel('cancelled'), false);
    assert.equal(s.has('cancelled'), false);
    await waitFor(() => recurringRuns >= 1, { what: 'one recurring run' });
    assert.equal(s.cancel('cancelled-recurring'), true);
    const runsAtCancel = recurringRuns;
    const marker = deferred();
    s.once('marker', new Date(Date.now() + 70), () => marker.resolve());
    await waitFor(() => marker.settled, { what: 'marker' });
    assert.equal(cancelledRuns, 0);
    assert.equal(recurringRuns, runsAtCancel);
  });

  test('registering an existing name replaces the schedule', async () => {
    const s = scheduler();
    const calls: string[] = [];
    s.once('probe', new Date(Date.now() + 20), () => calls.push('old'));
    s.once('probe', new Date(Date.now() + 20), () => calls.push('new'));
    await waitFor(() => calls.length > 0, { what: 'a run' });
    const marker = deferred();
    s.once('marker', new Date(Date.now() + 40), () => marker.resolve());
    await waitFor(() => marker.settled, { what: 'marker' });
    assert.deepEqual(calls, ['new']);
  });

  test('task errors go to onError and the schedule keeps running', async () => {
    const errors: Array<{ error: unknown; name: string }> = [];
    const s = scheduler({ onError: (error, name) => errors.push({ error, name }) });
    let runs = 0;
    s.every('flaky', 20, async () => {
      runs++;
      throw new Error(`run ${runs}`);
    });
    s.once('sync-throw', new Date(), () => {
      throw new Error('sync');
    });
    await waitFor(() => runs >= 3 && errors.length >= 4, { what: 'three failing runs' });
    assert.ok(errors.some((e) => e.name === 'sync-throw' && (e.error as Error).message === 'sync'));
    assert.ok(errors.filter((e) => e.name === 'flaky').length >= 3);
    assert.equal(s.has('flaky'), true);
  });

  test('stop() clears schedules and waits for a running task', async () => {
    const s = scheduler();
    const started = deferred();
    const release = deferred();
    let finished = false;
    s.every('slow', 20, async () => {
      started.resolve();
      await release.promise;
      finished = true;
    });
    s.once('later', new Date(Date.now() + 60_000), () => assert.fail('must not run'));
    await waitFor(() => started.settled, { what: 'started' });
    let stopped = false;
    const stopping = s.stop().then(() => {
      stopped = true;
    });
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopped, false, 'stop() resolved while a task was running');
    assert.deepEqual(s.names(), []);
    release.resolve();
    await stopping;
    assert.equal(finished, true);
    assert.equal(s.has('slow'), false, 'the recurring schedule was not re-armed after stop');
    s.once('after-stop', new Date(), () => assert.fail('must not run'));
    assert.equal(s.has('after-stop'), false);
  });
});
