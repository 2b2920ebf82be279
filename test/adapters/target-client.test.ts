import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { guardedLookup, sendToTarget } from '../../adapters/http/target-client';
import { UnsafeTargetError, type TargetPolicy } from '../../core/target-url';
import { TestTarget } from '../helpers/target';

const cloud: TargetPolicy = { localMode: false, allowPrivateTargets: false };
const local: TargetPolicy = { localMode: true, allowPrivateTargets: true };

describe('sendToTarget refusals (issue 10 items 2 and 4)', () => {
  let target: TestTarget;
  before(async () => {
    target = await TestTarget.start();
  });
  after(async () => {
    await target.stop();
  });

  it('answers a refused URL with a refused-target outcome, not an exception', async () => {
    for (const url of ['https://169.254.169.254/latest/meta-data/', 'http://erp.example.com/', 'not a url', 'https://localhost./x']) {
      const outcome = await sendToTarget({ url, method: 'POST', headers: {}, body: Buffer.from('x'), timeoutMs: 1000 }, cloud);
      assert.equal(outcome.kind, 'refused-target', url);
    }
  });

  it('refuses IPv4-embedded IPv6 spellings of the loopback target before connecting', async () => {
    const port = new URL(target.url).port;
    for (const host of ['[::ffff:0:127.0.0.1]', '[64:ff9b::127.0.0.1]', '[::127.0.0.1]', '[0:0:0:0:0:0:0:1]']) {
      const outcome = await sendToTarget({ url: `https://${host}:${port}/`, method: 'GET', headers: {}, timeoutMs: 1000 }, cloud);
      assert.equal(outcome.kind, 'refused-target', host);
    }
    assert.equal(target.received.length, 0);
  });

  it('answers a request Node cannot build (a header with a line break) with a refused-target outcome', async () => {
    for (const value of ['Bearer tok\n', 'Bearer t\u00f6k\u2713', 'a\r\nx-injected: 1']) {
      const outcome = await sendToTarget(
        { url: `${target.url}/in`, method: 'POST', headers: { authorization: value }, body: Buffer.from('x'), timeoutMs: 1000 },
        local,
      );
      assert.equal(outcome.kind, 'refused-target', JSON.stringify(value));
    }
    assert.equal(target.received.length, 0);
  });

  it('still delivers where the policy allows it (local mode, loopback)', async () => {
    const outcome = await sendToTarget(
      { url: `${target.url}/in`, method: 'POST', headers: {}, body: Buffer.from('ok'), timeoutMs: 5000 },
      local,
    );
    assert.equal(outcome.kind, 'response');
    assert.equal(target.received.length, 1);
  });
});

describe('the delivery-time DNS check (issue 10 item 4)', () => {
  function resolveWith(addresses: LookupAddress[]) {
    return (_host: string, _options: { all: true }, callback: (error: Error | null, list: LookupAddress[]) => void) =>
      callback(null, addresses);
  }

  function lookup(policy: TargetPolicy, addresses: LookupAddress[]): Promise<{ error?: Error; address?: string }> {
    return new Promise((resolve) =>
      guardedLookup(policy, resolveWith(addresses))('erp.example.com', {}, (error: Error | null, address?: string) =>
        resolve({ ...(error ? { error } : {}), ...(address ? { address } : {}) }),
      ),
    );
  }

  it('refuses names that resolve to long or embedded forms of loopback and link-local', async () => {
    for (const address of ['0:0:0:0:0:0:0:1', '::7f00:1', '::ffff:0:7f00:1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::']) {
      const { error } = await lookup(cloud, [{ address, family: 6 }]);
      assert.ok(error instanceof UnsafeTargetError, address);
    }
  });

  it('refuses when any resolved address is forbidden, and passes public ones through', async () => {
    const mixed = await lookup(cloud, [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ]);
    assert.ok(mixed.error instanceof UnsafeTargetError);
    const fine = await lookup(cloud, [{ address: '93.184.216.34', family: 4 }]);
    assert.equal(fine.address, '93.184.216.34');
  });
});
