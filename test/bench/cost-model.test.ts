import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  costPerMillion,
  delivererInvocationsAt,
  INFRA_DEFAULTS,
  lambdaBilledMs,
  loadAwsModel,
  loadPrices,
  platformLogBytes,
  type MeasuredUsage,
  type Prices,
} from '../../bench/cost-model';
import { modelledHandlerLatency } from '../../bench/summary';

const prices = loadPrices();
const model = loadAwsModel();

/** 1,000 delivered; 10,000 records in 2,000 batches would be absurd, so: 1,000 records in 200 batches of 5. */
function usage(overrides: Partial<MeasuredUsage> = {}): MeasuredUsage {
  return {
    delivered: 1000,
    apiRequests: 1000,
    // 10 ms CPU and 30 ms modelled waits per request
    ingest: { invocations: 1000, cpuMs: 1000 * 10, awsWaitMs: 1000 * 30 },
    delivererInvocations: 200,
    delivererRecords: 1000,
    // 50 ms of CPU and 50 ms of waits per batch
    deliverer: { invocations: 200, cpuMs: 200 * 50, awsWaitMs: 200 * 50 },
    measuredBatchSize: 10,
    logBytes: { ingest: 1000 * 500, deliverer: 1000 * 100 },
    calls: [
      { component: 'ingest', service: 'DynamoDB', operation: 'TransactWriteItems', calls: 2000, readUnits: 0, writeUnits: 16_000 },
      { component: 'ingest', service: 'DynamoDB', operation: 'GetItem', calls: 4000, readUnits: 2000, writeUnits: 0 },
      { component: 'ingest', service: 'SQS', operation: 'SendMessageBatch', calls: 1000, billedRequests: 1000 },
      { component: 'eventSource', service: 'SQS', operation: 'ReceiveMessage', calls: 200, billedRequests: 200 },
      { component: 'eventSource', service: 'SQS', operation: 'DeleteMessageBatch', calls: 200, billedRequests: 200 },
      { component: 'deliverer', service: 'S3', operation: 'PutObject', calls: 10 },
      { component: 'deliverer', service: 'EventBridge', operation: 'PutEvents', calls: 10 },
      { component: 'deliverer', service: 'KMS', operation: 'Decrypt', calls: 200 },
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
    assert.ok(
      Math.abs(line(cost, /TransactWriteItems \(write/).usdPerMillionMessages - 16 * prices.dynamodb.onDemandWriteRequestUnitsPerMillion) <
        1e-9,
    );
    // One API Gateway request per posted message (an HTTP API, the construct's default).
    assert.ok(Math.abs(line(cost, /HTTP API requests/).usdPerMillionMessages - prices.apiGateway.httpRequestsPerMillion) < 1e-9);
    // Deliverer at 512 MB: CPU stretched by 1769/512, plus waits: per batch 50 × 3.455 + 50 ms,
    // per message (5 per batch) / 5, × 0.5 GB.
    const billed = (50 * (1769 / 512) + 50) / 5;
    assert.ok(Math.abs(line(cost, /deliverer duration/).unitsPerMessage - (billed / 1000) * 0.5) < 1e-12);
    // KMS: one Decrypt per batch of 5 = 0.2 per message at $0.03 per 10,000.
    assert.ok(Math.abs(line(cost, /Decrypt/).usdPerMillionMessages - 0.2 * 3) < 1e-9);
    // Logs: 500 + 100 bytes per message of the handlers, plus START/END/REPORT per invocation.
    const logBytes = 600 + platformLogBytes(model) * (1 + 0.2);
    assert.ok(Math.abs(cost.byService['CloudWatch Logs']! - logBytes * (0.5 / 2 ** 30) * 1e6) < 1e-9);
    // X-Ray: 5 % of the invocations (one ingest per message, one deliverer per 5) traced at $5 per million.
    assert.ok(Math.abs(cost.byService['X-Ray']! - 0.05 * (1 + 0.2) * 5) < 1e-9);
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

  it('memory: waits cost in proportion; CPU time shrinks as memory buys more of a vCPU, up to one', () => {
    const waitsOnly = usage({ deliverer: { invocations: 200, cpuMs: 0, awsWaitMs: 200 * 50 } });
    const w512 = line(
      costPerMillion(waitsOnly, { ...INFRA_DEFAULTS, delivererMemoryMb: 512 }, prices),
      /deliverer duration/,
    ).usdPerMillionMessages;
    const w1024 = line(
      costPerMillion(waitsOnly, { ...INFRA_DEFAULTS, delivererMemoryMb: 1024 }, prices),
      /deliverer duration/,
    ).usdPerMillionMessages;
    assert.ok(Math.abs(w1024 - 2 * w512) < 1e-9);
    // CPU-bound work costs the same GB-s below 1,769 MB (fewer ms × more memory), more above it.
    const cpuOnly = { invocations: 1, cpuMs: 100, awsWaitMs: 0 };
    assert.ok(Math.abs(lambdaBilledMs(cpuOnly, 256, model) * 256 - lambdaBilledMs(cpuOnly, 1024, model) * 1024) < 1e-6);
    assert.equal(lambdaBilledMs(cpuOnly, 1769, model), 100);
    assert.equal(lambdaBilledMs(cpuOnly, 3538, model), 100);
    const ingest = costPerMillion(usage(), { ...INFRA_DEFAULTS, functionMemoryMb: 1024 }, prices);
    assert.ok(ingest.totalUsdPerMillion > costPerMillion(usage(), INFRA_DEFAULTS, prices).totalUsdPerMillion);
  });

  it('an HTTP API costs $1.00 per million requests where REST costs $3.50', () => {
    const rest = costPerMillion(usage(), { ...INFRA_DEFAULTS, apiType: 'rest' }, prices);
    const http = costPerMillion(usage(), { ...INFRA_DEFAULTS, apiType: 'http' }, prices);
    assert.ok(Math.abs(rest.byService['API Gateway']! - 3.5) < 1e-9);
    assert.ok(Math.abs(http.byService['API Gateway']! - 1.0) < 1e-9);
  });

  it('the price table drives the result (nothing per message is typed in)', () => {
    const doubled: Prices = {
      ...prices,
      dynamodb: { ...prices.dynamodb, onDemandWriteRequestUnitsPerMillion: 2 * prices.dynamodb.onDemandWriteRequestUnitsPerMillion },
    };
    const base = costPerMillion(usage(), INFRA_DEFAULTS, prices);
    const more = costPerMillion(usage(), INFRA_DEFAULTS, doubled);
    assert.ok(
      Math.abs(more.byService.DynamoDB! - base.byService.DynamoDB! - 16 * prices.dynamodb.onDemandWriteRequestUnitsPerMillion) < 1e-9,
    );
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
    for (const section of [
      prices.apiGateway,
      prices.lambda,
      prices.sqs,
      prices.dynamodb,
      prices.s3,
      prices.eventBridge,
      prices.scheduler,
      prices.kms,
      prices.cloudWatchLogs,
      prices.xray,
    ]) {
      assert.match(section.source, /^https:\/\/aws\.amazon\.com\//);
      assert.match(section.checked, /^\d{4}-\d{2}-\d{2}$/);
    }
    assert.equal(prices.apiGateway.httpRequestsPerMillion, 1.0);
    assert.equal(prices.cloudWatchLogs.ingestionPerGb, 0.5);
    assert.equal(prices.kms.requestsPer10k, 0.03);
    // The latency model states a figure for every service the gateway calls, and is dated.
    assert.match(model.date, /^\d{4}-\d{2}-\d{2}$/);
    for (const service of ['DynamoDB', 'SQS', 'S3', 'KMS', 'EventBridge']) assert.ok(model.callMs[service]! > 0, service);
  });

  it('defaults match the CDK construct (batch size, memory sizes, arm64)', () => {
    // The construct's documented defaults live in infra/props.ts (checkProps applies them).
    const props = readFileSync(new URL('../../infra/props.ts', import.meta.url), 'utf8');
    const defaults = /export const DEFAULTS = \{([\s\S]*?)\} as const;/.exec(props)?.[1] ?? '';
    assert.equal(Number(/deliveryBatchSize:\s*(\d+)/.exec(defaults)?.[1]), INFRA_DEFAULTS.batchSize);
    assert.equal(Number(/delivererMemorySize:\s*(\d+)/.exec(defaults)?.[1]), INFRA_DEFAULTS.delivererMemoryMb);
    assert.equal(Number(/functionMemorySize:\s*(\d+)/.exec(defaults)?.[1]), INFRA_DEFAULTS.functionMemoryMb);
    const functions = readFileSync(new URL('../../infra/functions.ts', import.meta.url), 'utf8');
    assert.match(functions, /Architecture\.ARM_64/);
    // The partner API's kind decides the API Gateway price.
    assert.equal(/partnerApi:\s*'(http|rest)'/.exec(defaults)?.[1], INFRA_DEFAULTS.apiType);
  });
});

describe('modelled ingest handler latency', () => {
  it('is each invocation’s CPU stretched to its memory’s share of a vCPU plus its modelled AWS waits, as percentiles', () => {
    const stretch = model.lambda.fullVcpuMemoryMb / 256;
    // 100 invocations: CPU 1..100 ms, each waiting 15 ms on AWS (a put and a send in sequence).
    const invocations = Array.from({ length: 100 }, (_, i) => ({ cpuMs: i + 1, awsWaitMs: 15 }));
    const latency = modelledHandlerLatency(invocations, 256, model);
    assert.equal(latency.p50, Math.round((50 * stretch + 15) * 10) / 10);
    assert.equal(latency.p99, Math.round((99 * stretch + 15) * 10) / 10);
    // At a full vCPU the CPU time is not stretched.
    assert.deepEqual(modelledHandlerLatency([{ cpuMs: 4, awsWaitMs: 15 }], model.lambda.fullVcpuMemoryMb, model), { p50: 19, p99: 19 });
  });
});
