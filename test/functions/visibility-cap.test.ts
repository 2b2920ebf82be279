// The deliverer hides retrying messages through SQS ChangeMessageVisibility. On AWS the
// 12-hour cap counts from the receive, and a longer value is rejected; fauxqs accepts
// anything, so these tests assert the exact requests sent to a mocked SQS client.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntime } from '../../adapters/all-services';
import type { Runtime } from '../../adapters/runtime';
import { SqsDeliveryQueue } from '../../adapters/aws/delivery-queue';
import { createDelivererHandler } from '../../functions/deliverer/handler';
import type { DeliveryTicket } from '../../core/ports';
import { deliveryTicket as ticket, sqsRecord } from '../helpers/aws-events';
import { TestGateway } from '../helpers/gateway';
import { TestTarget } from '../helpers/target';
import { AwsEndpoint } from '../helpers/aws-endpoint';
import { sqsService } from '../../adapters/aws/protocol/sqs';

/** SQS's documented rule (see test/core/visibility.test.ts): 12 hours in total from the receive. */
const sqsAccepts = (secondsSinceReceive: number, visibility: number): boolean =>
  Number.isInteger(visibility) && visibility >= 0 && secondsSinceReceive + visibility <= 43_200;

const NOW = Date.parse('2026-11-23T08:00:00.000Z');
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/sluice-deliveries.fifo';

/** A first receive `sinceReceive` seconds before NOW, as the Lambda event source hands it over. */
const record = (deliveryTicket: DeliveryTicket, sinceReceive: number) =>
  sqsRecord(deliveryTicket, { firstReceivedAt: NOW - sinceReceive * 1000, sentAt: NOW - sinceReceive * 1000 - 1000 });

describe('deliverer visibility changes stay within what SQS accepts', () => {
  let gw: TestGateway;
  let target: TestTarget;
  let key: string;
  let runtime: Runtime;
  // A queue endpoint of its own (the emulator accepts visibility past the 12-hour cap that
  // SQS enforces), so the gateway's emulator traffic is left alone.
  let sqs: AwsEndpoint;

  before(async () => {
    sqs = await AwsEndpoint.start();
    gw = await TestGateway.start({ deliver: false });
    target = await TestTarget.start();
    key = await gw.partner('acme');
    const queue = new SqsDeliveryQueue(sqs.client(sqsService), QUEUE_URL, { now: () => NOW });
    runtime = createRuntime(gw.runtime.config, { queue, sealer: gw.runtime.sealer, logger: gw.runtime.logger });
  });

  after(async () => {
    await gw?.stop();
    await target?.stop();
    await sqs?.close();
  });

  beforeEach(() => {
    sqs.reset();
  });

  const visibilityRequests = () => sqs.of('ChangeMessageVisibility').map((request) => request.body);

  it('a Retry-After of a day, 10 minutes into the receive, asks for the 12 hours that are left, less the margin', async () => {
    target.behaviour = () => ({ status: 503, headers: { 'Retry-After': '86400' } });
    await gw.connection('slow-down', { url: `${target.url}/slow-down`, retry: { count: 5, intervalSeconds: 30 } });
    await gw.flow('retry-after', { partnerId: 'acme', destinations: ['slow-down'] });
    assert.equal((await gw.post('retry-after', key, 'RA-1', 'x')).status, 202);

    const response = await createDelivererHandler(runtime)({ Records: [record(ticket('retry-after', 'slow-down', 'RA-1'), 600)] });

    assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: 'sqs-RA-1-0' }]);
    assert.equal((await runtime.deliveries.get('retry-after', 'RA-1', 'slow-down'))?.status, 'retrying');
    assert.deepEqual(visibilityRequests(), [{ QueueUrl: QUEUE_URL, ReceiptHandle: 'receipt-RA-1', VisibilityTimeout: 43_200 - 600 - 60 }]);
    for (const request of visibilityRequests()) assert.ok(sqsAccepts(600, request.VisibilityTimeout!), JSON.stringify(request));
  });

  it('a retry interval of seven days, right after the receive, is capped the same way', async () => {
    target.behaviour = () => ({ status: 500 });
    await gw.connection('weekly', { url: `${target.url}/weekly`, retry: { count: 2, intervalSeconds: 7 * 24 * 3600 } });
    await gw.flow('long-retry', { partnerId: 'acme', destinations: ['weekly'] });
    assert.equal((await gw.post('long-retry', key, 'LR-1', 'x')).status, 202);

    await createDelivererHandler(runtime)({ Records: [record(ticket('long-retry', 'weekly', 'LR-1'), 2)] });

    assert.deepEqual(visibilityRequests(), [{ QueueUrl: QUEUE_URL, ReceiptHandle: 'receipt-LR-1', VisibilityTimeout: 43_200 - 2 - 60 }]);
    const delivery = await runtime.deliveries.get('long-retry', 'LR-1', 'weekly');
    assert.equal(delivery?.status, 'retrying');
    // The message is shown again early; the deliverer then waits out the rest of the interval.
    assert.ok(Date.parse(delivery!.nextAttemptAt!) - Date.now() > 6 * 24 * 3600 * 1000, delivery!.nextAttemptAt);
  });

  it('short delays are requested as they are', async () => {
    target.behaviour = () => ({ status: 503 });
    await gw.connection('brief', { url: `${target.url}/brief`, retry: { count: 5, intervalSeconds: 45 } });
    await gw.flow('short-retry', { partnerId: 'acme', destinations: ['brief'] });
    assert.equal((await gw.post('short-retry', key, 'SR-1', 'x')).status, 202);

    await createDelivererHandler(runtime)({ Records: [record(ticket('short-retry', 'brief', 'SR-1'), 5)] });

    assert.deepEqual(visibilityRequests(), [{ QueueUrl: QUEUE_URL, ReceiptHandle: 'receipt-SR-1', VisibilityTimeout: 45 }]);
  });
});
