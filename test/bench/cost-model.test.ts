import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  costPerMillion,
  delivererInvocationsAt,
  INFRA_DEFAULTS,
  loadPrices,
  type MeasuredUsage,
  type Prices,
} from '../../bench/cost-model';

const prices = loadPrices();

/** 1,000 delivered; 10,000 records in 2,000 batches would be absurd, so: 1,000 records in 200 batches of 5. */
function usage(overrides: Partial<MeasuredUsage> = {}): MeasuredUsage {
  return {
    delivered: 1000,
    apiRequests: 1000,
    ingestBilledMs: 1000 * 40,
    delivererInvocations: 200,
    delivererRecords: 1000,
    delivererBilledMs: 200 * 100,
    measuredBatchSize: 10,
    calls: [
      { component: 'ingest', service: 'DynamoDB', operation: 'TransactWriteItems', calls: 2000, readUnits: 0, writeUnits: 16_000 },
      { component: 'ingest', service: 'DynamoDB', operation: 'GetItem', calls: 4000, readUnits: 2000, writeUnits: 0 },
      { component: 'ingest', service: 'SQS', operation: 'SendMessageBatch', calls: 1000, billedRequests: 1000 },
      { component: 'eventSource', service: 'SQS', operation: 'ReceiveMessage', calls: 200, billedRequests: 200 },
      { component: 'eventSource', service: 'SQS', operation: 'DeleteMessageBatch', calls: 200, billedRequests: 200 },
      { component: 'deliverer', service: 'S3', operation: 'PutObject', calls: 10 },
      { component: 'deliverer', service: 'EventBridge', operation: 'PutEvents', calls: 10 },
    ],
    ...overrides,
  };
}

const line = (cost: ReturnType<typeof costPerMillion>, item: RegExp) => {
  const found = cost.lines.find((l) => item.test(l.item));
  assert.ok(found, `no cost line matching ${item}`);
  return found;
};

describe('cost model', () => {
  it('prices every counted unit: the total is the sum of computed lines', () => {
    const cost = costPerMillion(usage(), INFRA_DEFAULTS, prices);
    const sum = cost.lines.reduce((s, l) => s + l.usdPerMillionMessages, 0);
    assert.ok(Math.abs(cost.totalUsdPerMillion - sum) < 1e-9);
    // 16 WRU per message at $0.625 per million WRU = $10 per million messages.
    assert.ok(Math.abs(line(cost, /TransactWriteItems \(write/).usdPerMillionMessages - 16 * prices.dynamodb.onDemandWriteRequestUnitsPerMillion) < 1e-9);
    // One API Gateway request per posted message.
    assert.ok(Math.abs(line(cost, /REST requests/).usdPerMillionMessages - prices.apiGateway.restRequestsPerMillion) < 1e-9);
    // GB-s = billed ms × memory: 100 ms per batch of 5 → 20 ms per message × 0.5 GB = 0.01 GB-s.
    assert.ok(Math.abs(line(cost, /deliverer duration/).unitsPerMessage - 0.01) < 1e-12);
  });

  it('a smaller batch size costs more: more deliverer invocations, receives and deletes', () => {
    const at10 = costPerMillion(usage(), { ...INFRA_DEFAULTS, batchSize: 10 }, prices);
    const at1 = costPerMillion(usage(), { ...INFRA_DEFAULTS, batchSize: 1 }, prices);
    const at2 = costPerMillion(usage(), { ...INFRA_DEFAULTS, batchSize: 2 }, prices);
    assert.ok(at1.totalUsdPerMillion > at2.totalUsdPerMillion);
    assert.ok(at2.totalUsdPerMillion > at10.totalUsdPerMillion);
    assert.equal(at10.delivererInvocationsPerMessage, 0.2); // measured: 5 messages per invocation
    assert.equal(at1.delivererInvocationsPerMessage, 1);
    assert.equal(at2.delivererInvocationsPerMessage, 0.5);
    assert.ok(Math.abs(line(at1, /ReceiveMessage/).unitsPerMessage - 1) < 1e-12);
    assert.ok(Math.abs(line(at10, /ReceiveMessage/).unitsPerMessage - 0.2) < 1e-12);
  });

  it('the batch size measured in the run counts as measured; a run with other batches costs differently', () => {
    const fewBatches = costPerMillion(usage({ delivererInvocations: 100, delivererRecords: 1000 }), INFRA_DEFAULTS, prices);
    const manyBatches = costPerMillion(usage({ delivererInvocations: 1000, delivererRecords: 1000 }), INFRA_DEFAULTS, prices);
    assert.ok(manyBatches.totalUsdPerMillion > fewBatches.totalUsdPerMillion);
    assert.equal(delivererInvocationsAt(usage(), 10), 200);
  });

  it('more memory costs more GB-seconds, in proportion', () => {
    const at512 = costPerMillion(usage(), { ...INFRA_DEFAULTS, delivererMemoryMb: 512 }, prices);
    const at1024 = costPerMillion(usage(), { ...INFRA_DEFAULTS, delivererMemoryMb: 1024 }, prices);
    assert.ok(at1024.totalUsdPerMillion > at512.totalUsdPerMillion);
    const d512 = line(at512, /deliverer duration/).usdPerMillionMessages;
    const d1024 = line(at1024, /deliverer duration/).usdPerMillionMessages;
    assert.ok(Math.abs(d1024 - 2 * d512) < 1e-9);
    assert.ok(Math.abs(at1024.totalUsdPerMillion - at512.totalUsdPerMillion - d512) < 1e-9);
    const ingest = costPerMillion(usage(), { ...INFRA_DEFAULTS, functionMemoryMb: 1024 }, prices);
    assert.ok(ingest.totalUsdPerMillion > at512.totalUsdPerMillion);
  });

  it('the price table drives the result (nothing per message is typed in)', () => {
    const doubled: Prices = { ...prices, dynamodb: { ...prices.dynamodb, onDemandWriteRequestUnitsPerMillion: 2 * prices.dynamodb.onDemandWriteRequestUnitsPerMillion } };
    const base = costPerMillion(usage(), INFRA_DEFAULTS, prices);
    const more = costPerMillion(usage(), INFRA_DEFAULTS, doubled);
    assert.ok(Math.abs(more.byService.DynamoDB! - base.byService.DynamoDB! - 16 * prices.dynamodb.onDemandWriteRequestUnitsPerMillion) < 1e-9);
    const x86 = costPerMillion(usage(), { ...INFRA_DEFAULTS, architecture: 'x86_64' }, prices);
    assert.ok(x86.byService.Lambda! > base.byService.Lambda!);
  });

  it('rejects settings the gateway would reject', () => {
    assert.throws(() => costPerMillion(usage(), { ...INFRA_DEFAULTS, batchSize: 11 }, prices), RangeError);
    assert.throws(() => costPerMillion(usage(), { ...INFRA_DEFAULTS, batchSize: 0 }, prices), RangeError);
    assert.throws(() => costPerMillion(usage(), { ...INFRA_DEFAULTS, delivererMemoryMb: 64 }, prices), RangeError);
    assert.throws(() => costPerMillion(usage({ delivered: 0 }), INFRA_DEFAULTS, prices), RangeError);
  });

  it('the price table is dated and names its sources', () => {
    assert.match(prices.date, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(prices.region, 'us-east-1');
    for (const section of [prices.apiGateway, prices.lambda, prices.sqs, prices.dynamodb, prices.s3, prices.eventBridge]) {
      assert.match(section.source, /^https:\/\/aws\.amazon\.com\//);
    }
  });

  it('defaults match the CDK construct (batch size, memory sizes, arm64)', () => {
    const infra = readFileSync(new URL('../../infra/sluice-gateway.ts', import.meta.url), 'utf8');
    assert.equal(Number(/deliveryBatchSize:\s*(\d+)/.exec(infra)?.[1]), INFRA_DEFAULTS.batchSize);
    assert.equal(Number(/delivererMemorySize:\s*(\d+)/.exec(infra)?.[1]), INFRA_DEFAULTS.delivererMemoryMb);
    assert.equal(Number(/functionMemorySize:\s*(\d+)/.exec(infra)?.[1]), INFRA_DEFAULTS.functionMemoryMb);
    assert.match(infra, /Architecture\.ARM_64/);
  });
});
