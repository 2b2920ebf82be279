import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { modelledWaitMs, sequentialWaves, type CallSpan } from '../../bench/round-trips';
import { CpuMeter, type CpuAccount } from '../../bench/cpu-meter';
import { AsyncLocalStorage } from 'node:async_hooks';

const span = (service: string, start: number, end: number): CallSpan => ({ service, operation: 'X', start, end });

describe('sequential AWS round trips', () => {
  it('calls that overlap in time are one round trip; calls one after the other are one each', () => {
    const waves = sequentialWaves([
      span('DynamoDB', 0, 10), // partner lookup
      span('DynamoDB', 11, 20), // flow, side by side with…
      span('DynamoDB', 12, 18), // …the connection
      span('DynamoDB', 21, 30), // the transaction
      span('SQS', 31, 45), // the send
    ]);
    assert.equal(waves.length, 4);
    assert.deepEqual(
      waves.map((w) => w.length),
      [1, 2, 1, 1],
    );
  });

  it('a call that starts exactly when the previous one ended is sequential', () => {
    assert.equal(sequentialWaves([span('DynamoDB', 0, 5), span('DynamoDB', 5, 9)]).length, 2);
    assert.equal(sequentialWaves([]).length, 0);
  });

  it('a chain overlapping link by link is one wave (each call started before the wave ended)', () => {
    assert.equal(sequentialWaves([span('S3', 0, 10), span('S3', 9, 20), span('S3', 19, 30)]).length, 1);
  });

  it('each wave waits as long as its slowest call in the model', () => {
    const model = { callMs: { DynamoDB: 5, SQS: 10 }, defaultCallMs: 7 };
    const waves = sequentialWaves([span('DynamoDB', 0, 1), span('SQS', 0.5, 2), span('DynamoDB', 3, 4), span('Other', 5, 6)]);
    assert.equal(modelledWaitMs(waves, model), 10 + 5 + 7);
  });
});

describe('CPU meter', () => {
  it('charges CPU to the invocation whose callbacks ran it, not to one interleaved with it', async () => {
    const scope = new AsyncLocalStorage<CpuAccount>();
    const meter = new CpuMeter(() => scope.getStore());
    const busy: CpuAccount = { cpuMs: 0 };
    const idle: CpuAccount = { cpuMs: 0 };
    /** Spends `ms` of this process's CPU time (not wall time: the machine may be loaded). */
    const burn = (ms: number) => {
      const until = process.cpuUsage().user + ms * 1000;
      while (process.cpuUsage().user < until);
    };
    meter.start();
    const overhead = await meter.calibrate(5_000);
    // A sanity bound on the calibration (a slice is microseconds of bookkeeping), not a speed target.
    assert.ok(overhead >= 0 && overhead < 1, `overhead ${overhead} ms per slice`);
    try {
      await Promise.all([
        meter.runSync(busy, () =>
          scope.run(busy, async () => {
            for (let i = 0; i < 6; i++) {
              burn(5);
              await new Promise((resolve) => setImmediate(resolve));
            }
          }),
        ),
        meter.runSync(idle, () =>
          scope.run(idle, async () => {
            for (let i = 0; i < 6; i++) await new Promise((resolve) => setImmediate(resolve));
          }),
        ),
      ]);
    } finally {
      meter.stop();
    }
    assert.ok(busy.cpuMs >= 25, `busy invocation charged ${busy.cpuMs} ms for 30 ms of CPU`);
    assert.ok(meter.netCpuMs(busy) >= 25 && meter.netCpuMs(busy) <= busy.cpuMs);
    assert.ok(idle.cpuMs < busy.cpuMs / 3, `idle invocation charged ${idle.cpuMs} ms against ${busy.cpuMs} ms`);
  });
});
