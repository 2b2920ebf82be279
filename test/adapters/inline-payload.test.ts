import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DEFLATED_BODY_ATTRIBUTE, inlinePayloadAttribute, inlinePayloadOf, RAW_BODY_ATTRIBUTE } from '../../adapters/aws/inline-payload';
import { itemSize, writeUnits } from '../../bench/dynamodb-units';
import { TestGateway } from '../helpers/gateway';
import { waitFor } from '../helpers/emulator-wait';
import { TargetPool } from '../helpers/target';
import { messageRef } from '../../adapters/aws/record-codec';

/** A purchase order of `bytes` bytes, as partners send them: JSON with varied values. */
function order(seed: number, bytes = 1024): string {
  const items = ['Widget', 'Bolt', 'Bracket', 'Panel', 'Cable', 'Valve', 'Sensor', 'Pump', 'Filter', 'Gasket'];
  let n = seed;
  const next = () => {
    n = (n * 1_103_515_245 + 12_345) % 2_147_483_648;
    return n;
  };
  const lines: unknown[] = [];
  let text = '';
  while (text.length < bytes) {
    lines.push({
      line: lines.length + 1,
      sku: `SKU-${next() % 1_000_000}`,
      description: `${items[next() % items.length]} ${items[next() % items.length]} ${next() % 100}mm`,
      quantity: (next() % 50) + 1,
      unitPrice: ((next() % 100_000) / 100).toFixed(2),
    });
    text = JSON.stringify({ orderId: `PO-${seed}`, buyer: { id: `GLN-${next()}`, name: 'Acme Retail GmbH' }, currency: 'EUR', lines });
  }
  return text.slice(0, bytes);
}

describe('inline payloads: deflated in the record when that makes it smaller, delivered as posted', () => {
  it('deflates a text payload, keeps an incompressible or small one as it is, and reads each back byte for byte', () => {
    const text = Buffer.from(order(1));
    const binary = randomBytes(1024);
    const small = Buffer.from('{"tiny":true}');
    const deflated = inlinePayloadAttribute(text);
    assert.deepEqual(Object.keys(deflated), [DEFLATED_BODY_ATTRIBUTE]);
    assert.ok(deflated[DEFLATED_BODY_ATTRIBUTE]!.length < text.length * 0.6, 'a 1 KiB JSON order deflates to under 60 %');
    assert.deepEqual(Object.keys(inlinePayloadAttribute(binary)), [RAW_BODY_ATTRIBUTE]);
    assert.deepEqual(Object.keys(inlinePayloadAttribute(small)), [RAW_BODY_ATTRIBUTE]);
    for (const payload of [text, binary, small]) assert.deepEqual(inlinePayloadOf(inlinePayloadAttribute(payload)), payload);
    assert.equal(inlinePayloadOf({}), undefined);
  });

  describe('through the gateway', () => {
    let gw: TestGateway;
    const targets = new TargetPool();

    before(async () => {
      gw = await TestGateway.start();
    });

    after(async () => {
      await targets.stopAll();
      await gw?.stop();
    });

    it('delivers a deflated payload as posted, keeps its record at the units of its deflated size, and downloads a failed one as posted', async () => {
      const target = await targets.start((request) => ({ status: request.headers['x-aux-system-msg-id'] === 'PO-3' ? 400 : 200 }));
      await gw.connection('erp', { url: target.url });
      const apiKey = await gw.partner('acme');
      await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });

      const posted = new Map<string, Buffer>([
        ['PO-1', Buffer.from(order(1, 4096))],
        ['PO-2', randomBytes(1024)],
        ['PO-3', Buffer.from(order(3))],
      ]);
      for (const [id, body] of posted) {
        const result = await gw.post('orders', apiKey, id, body, {
          'content-type': id === 'PO-2' ? 'application/octet-stream' : 'application/json',
        });
        assert.equal(result.status, 202, JSON.stringify(result.body));
      }
      await waitFor(() => (target.received.length >= 3 ? true : undefined), { what: 'three deliveries' });
      for (const request of target.received) {
        assert.deepEqual(request.body, posted.get(String(request.headers['x-aux-system-msg-id'])));
      }

      const records = new Map(
        (await gw.tableItems())
          .filter((item) => String(item.pk).startsWith('MSG#orders#') && item.sk === 'MESSAGE')
          .map((item) => [messageRef(item).messageId, item]),
      );
      const delivered = records.get('PO-1')!;
      assert.ok(delivered[DEFLATED_BODY_ATTRIBUTE] && !delivered[RAW_BODY_ATTRIBUTE], 'the text payload is kept deflated');
      await waitFor(
        async () => {
          const { body } = await gw.request('GET', '/v1/flows/orders/messages/PO-1');
          return body.status === 'delivered' ? true : undefined;
        },
        { what: 'PO-1 delivered' },
      );
      const final = (await gw.tableItems()).find((item) => item.pk === 'MSG#orders#PO-1' && item.sk === 'MESSAGE')!;
      // A 4 KiB order kept as posted makes a record of five units; deflated, it takes two.
      const units = writeUnits(itemSize(marshall(final, { removeUndefinedValues: true })));
      assert.ok(units <= 2, `the delivered record of a 4 KiB order is billed ${units} units per write`);
      const binaryRecord = records.get('PO-2')!;
      assert.ok(binaryRecord[RAW_BODY_ATTRIBUTE] && !binaryRecord[DEFLATED_BODY_ATTRIBUTE], 'random bytes are kept as they are');

      const failed = await waitFor(
        async () => {
          const { body } = await gw.request('GET', '/v1/failed-events?flowId=orders');
          return body.items.find((item: { messageId: string }) => item.messageId === 'PO-3');
        },
        { what: 'PO-3 failed' },
      );
      const download = await gw.request('POST', `/v1/failed-events/${failed.id}/download-url`);
      assert.equal(download.status, 200, JSON.stringify(download.body));
      const fetched = await fetch(download.body.url);
      assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), posted.get('PO-3'));
    });
  });
});
