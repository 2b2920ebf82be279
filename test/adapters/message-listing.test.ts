import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestGateway } from '../helpers/gateway';

/** `2026-03-01T10:00:00.0ssZ`: ms after a fixed instant, as listing entries spell receivedAt. */
const t = (ms: number) => new Date(Date.parse('2026-03-01T10:00:00.000Z') + ms).toISOString();

describe('MessageStore.listing: a flow listing read lazily, in acceptance order', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await TestGateway.start();
  });

  after(async () => {
    await gw?.stop();
  });

  it('merges overlapping pages, drops an entry listed twice, keeps to [from, until), a page at a time', async () => {
    const messages = gw.runtime.messages;
    const page = (entries: [number, string][]) =>
      messages.addListingPage(
        'ledger',
        entries.map(([ms, messageId]) => ({ receivedAt: t(ms), messageId })),
      );
    // Stream batches overlap in time: a page is keyed by its first entry only.
    await page([
      [0, 'a'],
      [500, 'f'],
    ]);
    await page([
      [100, 'b'],
      [200, 'c'],
      [600, 'g'],
    ]);
    await page([
      [300, 'd'],
      [400, 'e'],
    ]);
    // A batch handled twice lists its messages again under another key.
    await page([
      [200, 'c'],
      [300, 'd'],
    ]);
    // Ties on receivedAt go by GUID.
    await page([
      [700, 'i'],
      [700, 'h'],
    ]);
    await page([
      [-30_000, 'early'],
      [50, 'late-in-an-early-page'],
    ]);

    const read = async (from: number, until: number, pageItems = 1) => {
      const ids: string[] = [];
      for await (const entry of messages.listing('ledger', { from: t(from), until: t(until) }, pageItems)) ids.push(entry.messageId);
      return ids;
    };
    const all = ['a', 'late-in-an-early-page', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    assert.deepEqual(await read(0, 10_000), all, 'one page per query');
    assert.deepEqual(await read(0, 10_000, 25), all, 'all pages in one query');
    assert.deepEqual(await read(200, 600), ['c', 'd', 'e', 'f'], 'from inclusive, until exclusive');
    assert.deepEqual(await read(-60_000, 1), ['early', 'a']);
    assert.deepEqual(await read(600, 600), [], 'an empty window');
    assert.deepEqual(await read(900, 100), [], 'a reversed window');
  });
});
