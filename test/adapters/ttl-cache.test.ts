import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TtlCache } from '../../adapters/aws/ttl-cache';

describe('TtlCache (ingest configuration reads)', () => {
  it('reuses a value until its time is up, then reads again', async () => {
    let now = 0;
    let reads = 0;
    const cache = new TtlCache<string>(5000, 10, () => now);
    const load = async () => `v${++reads}`;
    assert.equal(await cache.get('k', load), 'v1');
    now = 4999;
    assert.equal(await cache.get('k', load), 'v1');
    now = 5000;
    assert.equal(await cache.get('k', load), 'v2');
    assert.equal(reads, 2);
  });

  it('reads once for concurrent misses', async () => {
    let reads = 0;
    const cache = new TtlCache<number>(1000);
    const values = await Promise.all(Array.from({ length: 5 }, () => cache.get('k', async () => ++reads)));
    assert.deepEqual(values, [1, 1, 1, 1, 1]);
  });

  it('never keeps a failed read or a value it is told not to keep (an unknown API key)', async () => {
    const cache = new TtlCache<string | undefined>(1000);
    await assert.rejects(cache.get('k', async () => Promise.reject(new Error('throttled'))));
    assert.equal(await cache.get('k', async () => 'ok'), 'ok');
    let reads = 0;
    const unknown = async () => {
      reads += 1;
      return undefined;
    };
    await cache.get('bad', unknown, (v) => v !== undefined);
    await new Promise((resolve) => setImmediate(resolve));
    await cache.get('bad', unknown, (v) => v !== undefined);
    assert.equal(reads, 2);
  });

  it('drops an entry on delete and everything on clear; a zero TTL never caches', async () => {
    let reads = 0;
    const cache = new TtlCache<number>(1000);
    const load = async () => ++reads;
    await cache.get('a', load);
    cache.delete('a');
    assert.equal(await cache.get('a', load), 2);
    cache.clear();
    assert.equal(await cache.get('a', load), 3);
    const never = new TtlCache<number>(0);
    await never.get('a', load);
    assert.equal(await never.get('a', load), 5);
  });
});
