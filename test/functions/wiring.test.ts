// A Lambda function's runtime holds the clients and ports its entry point wires, and
// nothing else: using one it left out fails at once with a named error, not with a
// call through a client that quietly came along.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtClients, NotWiredError } from '../../adapters/aws/clients';
import { sqsService } from '../../adapters/aws/protocol/sqs';
import type { SluiceConfig } from '../../adapters/aws/config';
import { sqsWiring } from '../../adapters/aws/wiring/sqs';
import { s3Wiring } from '../../adapters/aws/wiring/s3';
import { createRuntime } from '../../adapters/all-services';
import { assembleRuntime, wire } from '../../adapters/runtime';

const config: SluiceConfig = {
  region: 'us-east-1',
  tableName: 'table',
  queueUrl: 'https://sqs.us-east-1.amazonaws.com/000000000000/q.fifo',
  bucketName: 'bucket',
  eventBusName: 'bus',
  credentialsKeyId: 'arn:aws:kms:us-east-1:000000000000:key/k',
  scheduler: { groupName: 'g', roleArn: 'arn:aws:iam::000000000000:role/r', proberArn: 'arn:aws:lambda:us-east-1:000000000000:function:p' },
  localMode: false,
  allowPrivateTargets: false,
  endpoints: {},
};

describe('function wiring', () => {
  it("ingest's wiring builds DynamoDB, SQS and S3 clients only", () => {
    const runtime = assembleRuntime(config, wire(sqsWiring, s3Wiring), {}, 'test');
    assert.equal(builtClients(runtime.clients).length, 3);
    assert.equal(runtime.clients.sqs.service, sqsService);
    for (const service of ['kms', 'scheduler', 'eventBridge'] as const) {
      assert.throws(
        () => runtime.clients[service],
        (error: unknown) => error instanceof NotWiredError && error.part === service,
      );
    }
  });

  it('a port left out throws NotWiredError at its first use', async () => {
    const runtime = assembleRuntime(config, wire(sqsWiring), {}, 'test');
    assert.throws(() => runtime.sealer.open('sealed', {}), NotWiredError);
    assert.throws(() => runtime.events.publish, NotWiredError);
    assert.throws(() => runtime.presigner.download, NotWiredError);
    assert.throws(() => runtime.payloads.put, NotWiredError);
    // Wired ports and the DynamoDB stores are real.
    assert.equal(typeof runtime.queue.send, 'function');
    assert.equal(typeof runtime.flows.get, 'function');
  });

  it('local mode and tests wire every service', () => {
    const runtime = createRuntime(config);
    assert.equal(builtClients(runtime.clients).length, 6);
    assert.doesNotThrow(() => [runtime.clients.kms, runtime.clients.scheduler, runtime.clients.eventBridge, runtime.clients.s3]);
    assert.equal(typeof runtime.presigner.download, 'function');
  });
});
