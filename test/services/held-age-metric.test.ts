import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Runtime } from '../../adapters/runtime';
import { HELD_DELIVERY_AGE_METRIC, runProber } from '../../services/prober';
import { captureOutput, TestGateway } from '../helpers/gateway';
import { TargetPool } from '../helpers/target';
import { waitFor } from '../helpers/emulator-wait';

const DAY_SECONDS = 86_400;

/** Values of the held-age metric in the EMF lines the prober wrote, with their namespace and service. */
function heldAges(output: string): { value: number; namespace: string; service: unknown }[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes(HELD_DELIVERY_AGE_METRIC))
    .map((line) => JSON.parse(line))
    .filter((emf) => emf._aws?.CloudWatchMetrics?.[0]?.Metrics?.some((m: { Name: string }) => m.Name === HELD_DELIVERY_AGE_METRIC))
    .map((emf) => ({ value: emf[HELD_DELIVERY_AGE_METRIC], namespace: emf._aws.CloudWatchMetrics[0].Namespace, service: emf.service }));
}

describe('the prober publishes the age of the oldest held delivery (the long-hold alarm does not trust SQS ages)', () => {
  let gw: TestGateway;
  const targets = new TargetPool();
  // The test's clock: real time plus whatever the test fast-forwards.
  let offsetMs = 0;

  before(async () => {
    gw = await TestGateway.start({ fastProbeDelaysSeconds: [], overrides: { clock: { now: () => new Date(Date.now() + offsetMs) } } });
  });

  after(async () => {
    await gw?.stop();
    await targets.stopAll();
  });

  /** The gateway's runtime with CloudWatch metrics on (local mode turns them off), as the prober function has them. */
  function withMetrics(): Runtime {
    const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    try {
      return { ...gw.runtime, metrics: new Metrics({ namespace: 'Sluice', serviceName: 'sluice-prober' }) };
    } finally {
      process.env.POWERTOOLS_METRICS_DISABLED = disabled;
    }
  }

  it('reports a lane held for three days as three days old, and 0 once it is delivered', async () => {
    const key = await gw.partner('acme');
    const t = await targets.start();
    await t.down();
    await gw.connection('erp', { url: t.url, offlineAfter: 1, retry: { count: 3, intervalSeconds: 0 }, timeoutMs: 500 });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
    for (const id of ['H-1', 'H-2', 'H-3']) assert.equal((await gw.post('orders', key, id, id)).status, 202);
    await waitFor(async () => (await gw.runtime.deliveries.held('erp')).length > 0, { what: 'the lane held in flight', timeoutMs: 30_000 });

    // Three days later, the target still down: the held head's queue message has been received
    // many times, so SQS would not count it in ApproximateAgeOfOldestMessage.
    offsetMs = 3 * DAY_SECONDS * 1000;
    const held = await captureOutput(() => runProber(withMetrics(), { kind: 'hourly' }));
    const [published, ...more] = heldAges(held.output);
    assert.ok(published, `no ${HELD_DELIVERY_AGE_METRIC} in the prober's output:\n${held.output}`);
    assert.equal(more.length, 0);
    assert.equal(published.namespace, 'Sluice');
    assert.equal(published.service, 'sluice-prober');
    assert.ok(published.value >= 3 * DAY_SECONDS, `age ${published.value} s`);
    assert.ok(published.value < 3 * DAY_SECONDS + 600, `age ${published.value} s`);

    // The target answers again: the probe brings the connection back and the lane drains.
    await t.up();
    await captureOutput(() => runProber(gw.runtime, { kind: 'hourly' }));
    await t.waitForDelivered(3, 30_000);
    await waitFor(async () => (await gw.runtime.deliveries.held('erp')).length === 0, { what: 'nothing held' });
    const after = await captureOutput(() => runProber(withMetrics(), { kind: 'hourly' }));
    assert.deepEqual(
      heldAges(after.output).map((m) => m.value),
      [0],
    );
  });
});
