import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { marshall } from '@aws-sdk/util-dynamodb';
import {
  decodeDeliveryState,
  decodeEntries,
  decodeMessageFields,
  deliveryAttribute,
  encodeDeliveryState,
  encodeEntries,
  encodeMessageFields,
  messageRef,
} from '../../adapters/aws/record-codec';
import { keys } from '../../adapters/aws/keys';
import type { Message, ReportEntry } from '../../core/model';
import { itemSize } from '../../bench/dynamodb-units';

const message: Omit<Message, 'enqueue'> = {
  flowId: 'orders',
  messageId: 'PO-1001',
  partnerId: 'acme',
  contentType: 'application/json',
  bytes: 1024,
  sha256: 'af713bebb69a36e03b0ad57574f0f2e88a75aabd842899b2d93546548668c9b0',
  payload: { kind: 'inline' },
  correlationId: 'e4156e51-046e-4fe3-afd7-20a985e498ca',
  receivedAt: '2026-11-23T16:31:26.840Z',
  destinations: [
    { connectionId: 'erp', lane: 3 },
    { connectionId: 'wms', lane: 0 },
  ],
};

/** What a first attempt that delivers writes to the report. */
const HAPPY_PATH_REPORT: ReportEntry[] = [
  {
    at: '2026-11-23T16:31:26.979Z',
    event: 'attempt',
    level: 'info',
    detail: 'delivered with HTTP 200',
    connectionId: 'erp',
    attempt: 1,
    httpStatus: 200,
    durationMs: 3,
  },
  { at: '2026-11-23T16:31:26.979Z', event: 'delivered', level: 'info', detail: 'delivered to erp', connectionId: 'erp' },
];

const record = (fields: Record<string, unknown>) => ({ ...keys.message('orders', 'PO-1001'), ...fields });

describe('record codec: short stored names, defaults left out, nothing lost', () => {
  it('gives back the message it stored, with flow and GUID from the key', () => {
    const { flowId: _f, messageId: _m, ...fields } = message;
    assert.deepEqual(decodeMessageFields(record(encodeMessageFields(fields))), message);
    const elsewhere = {
      ...fields,
      payload: { kind: 'object' as const, key: 'payloads/orders/PO-1001' },
      chainId: 'c-1',
      expiresAt: '2026-12-01T00:00:00.000Z',
    };
    assert.deepEqual(decodeMessageFields(record(encodeMessageFields(elsewhere))), { ...message, ...elsewhere });
    assert.deepEqual(messageRef({ pk: 'MSG#orders#a.b:c-1' }), { flowId: 'orders', messageId: 'a.b:c-1' });
  });

  it('stores a digest as its 32 bytes and an inline payload location not at all', () => {
    const { flowId: _f, messageId: _m, ...fields } = message;
    const stored = encodeMessageFields(fields);
    const digest = Object.values(stored).find((v) => v instanceof Uint8Array) as Uint8Array;
    assert.equal(digest.length, 32);
    assert.ok(!JSON.stringify(stored).includes('inline'));
  });

  it('leaves default state values out and reads them back, under the names expressions use', () => {
    const state = {
      status: 'queued',
      lane: 0,
      attempts: 0,
      possibleDuplicate: false,
      restarts: 0,
      version: 0,
      updatedAt: '2026-11-23T16:31:26.840Z',
    };
    const stored = encodeDeliveryState(state);
    assert.equal(stored[deliveryAttribute('possibleDuplicate')], undefined);
    assert.equal(stored[deliveryAttribute('restarts')], undefined);
    assert.equal(stored[deliveryAttribute('status')], 'queued');
    assert.deepEqual(decodeDeliveryState(stored), state);
    const flagged = { ...state, possibleDuplicate: true, restarts: 2, lastError: { message: 'HTTP 503', httpStatus: 503 } };
    assert.deepEqual(decodeDeliveryState(encodeDeliveryState(flagged)), flagged);
  });

  it('keeps report entries whole, leaving out only the standard text and the info level', () => {
    const entries: ReportEntry[] = [
      ...HAPPY_PATH_REPORT,
      {
        at: '2026-11-23T16:32:00.000Z',
        event: 'attempt',
        level: 'error',
        detail: 'HTTP 503 from the target',
        connectionId: 'erp',
        attempt: 2,
        httpStatus: 503,
        durationMs: 9,
      },
      {
        at: '2026-11-23T16:33:00.000Z',
        event: 'delivered',
        level: 'info',
        detail: 'delivered to erp after a manual check',
        connectionId: 'erp',
      },
      { at: '2026-11-23T16:34:00.000Z', event: 'restarted', level: 'warning', detail: 'restarted by ops', connectionId: 'erp', by: 'ops' },
    ];
    const stored = encodeEntries(entries);
    assert.deepEqual(decodeEntries(stored), entries);
    assert.ok(!JSON.stringify(stored.slice(0, 2)).includes('delivered with'), 'the standard texts are not stored');
    assert.ok(JSON.stringify(stored[3]).includes('manual check'), 'any other text is');
    assert.deepEqual(decodeEntries(undefined), []);
  });

  it('makes a delivered 1 KiB message with a deflated payload fit one write unit', () => {
    // The record as the bench's happy path leaves it: ~540 deflated bytes of a 1 KiB text payload.
    const { flowId: _f, messageId: _m, ...fields } = message;
    const delivered = record({
      ...encodeMessageFields({ ...fields, destinations: [{ connectionId: 'erp', lane: 3 }] }),
      bz: new Uint8Array(540),
      ttl: 1798043486,
      dlv: {
        erp: encodeDeliveryState({
          status: 'delivered',
          lane: 3,
          attempts: 1,
          requests: 1,
          possibleDuplicate: false,
          restarts: 0,
          version: 1,
          deliveredAt: '2026-11-23T16:31:26.979Z',
          updatedAt: '2026-11-23T16:31:26.979Z',
        }),
      },
      report: encodeEntries(HAPPY_PATH_REPORT),
    });
    const bytes = itemSize(marshall(record(delivered), { removeUndefinedValues: true }) as never);
    assert.ok(bytes <= 1024, `${bytes} bytes`);
  });
});
