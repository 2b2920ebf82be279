// The Lambda entry wrapper, run as Lambda runs it: a trace header in the environment,
// an X-Ray daemon address (a real UDP socket here that receives what the SDK emits),
// and a Lambda context. The X-Ray SDK reads its environment when first loaded, so the
// modules under test are imported after it is set.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import type { Logger } from '@aws-lambda-powertools/logger';
import { waitFor } from '../helpers/emulator-wait';

const TRACE_ROOT = '1-6741a0c0-0123456789abcdef01234567';

function lambdaContext(requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'sluice-ingest',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:sluice-ingest',
    memoryLimitInMB: '256',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/sluice-ingest',
    logStreamName: '2026/11/23/[$LATEST]abcdef',
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

describe('Lambda entry instrumentation (logger context, tracer subsegments)', () => {
  let daemon: Socket;
  const documents: any[] = [];
  let instrument: typeof import('../../functions/instrument').instrument;
  let TracerClass: typeof import('@aws-lambda-powertools/tracer').Tracer;
  let LoggerClass: typeof import('@aws-lambda-powertools/logger').Logger;
  const lines: string[] = [];
  const originalWrite = process.stdout.write.bind(process.stdout) as (...args: any[]) => boolean;

  before(async () => {
    daemon = createSocket('udp4');
    daemon.on('message', (message) => {
      // Each datagram: a JSON header line, then the segment document.
      const [, body] = message.toString('utf8').split('\n');
      if (body) documents.push(JSON.parse(body));
    });
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    const { port } = daemon.address() as AddressInfo;
    Object.assign(process.env, {
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${port}`,
      AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
      LAMBDA_TASK_ROOT: '/var/task',
      AWS_LAMBDA_FUNCTION_NAME: 'sluice-ingest',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      _HANDLER: 'index.handler',
      _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1`,
    });
    // Powertools dev mode would switch the tracer off.
    delete process.env.POWERTOOLS_DEV;
    ({ instrument } = await import('../../functions/instrument'));
    ({ Tracer: TracerClass } = await import('@aws-lambda-powertools/tracer'));
    ({ Logger: LoggerClass } = await import('@aws-lambda-powertools/logger'));
    // The logger writes JSON lines to stdout, which the test runner also uses: take only
    // this test's lines and pass everything else through.
    process.stdout.write = ((chunk: any, ...rest: any[]) => {
      const text = String(chunk);
      if (text.includes('"handling"')) {
        lines.push(...text.split('\n').filter(Boolean));
        return true;
      }
      return originalWrite(chunk, ...rest);
    }) as typeof process.stdout.write;
  });

  after(() => {
    process.stdout.write = originalWrite;
    daemon?.close();
  });

  it('log lines carry the request id and cold start; the handler runs in its own subsegment, errors included', async () => {
    const logger: Logger = new LoggerClass({ serviceName: 'sluice-ingest' });
    const tracer = new TracerClass({ serviceName: 'sluice-ingest' });
    assert.equal(tracer.isTracingEnabled(), true);
    const { createAwsClients } = await import('../../adapters/all-services');
    const clients = createAwsClients({
      region: 'us-east-1',
      tableName: 't',
      queueUrl: 'q',
      bucketName: 'b',
      localMode: false,
      allowPrivateTargets: false,
      endpoints: {},
    });
    const handler = instrument({ logger, clients }, tracer, async (event: { fail?: boolean }) => {
      logger.info('handling');
      if (event.fail) throw new Error('boom');
      return { ok: true };
    });

    assert.deepEqual(await handler({}, lambdaContext('req-1')), { ok: true });
    await assert.rejects(handler({ fail: true }, lambdaContext('req-2')), /boom/);

    const logged = lines.filter((line) => line.includes('handling')).map((line) => JSON.parse(line));
    assert.equal(logged.length, 2);
    assert.equal(logged[0].function_request_id, 'req-1');
    assert.equal(logged[0].cold_start, true);
    assert.equal(logged[0].function_name, 'sluice-ingest');
    assert.equal(logged[1].function_request_id, 'req-2');
    assert.equal(logged[1].cold_start, false);

    await waitFor(() => documents.length >= 2, { timeoutMs: 5000, what: 'two subsegments at the X-Ray daemon' });
    const subsegments = documents.filter((d) => d.name === '## index.handler');
    assert.equal(subsegments.length, 2);
    for (const subsegment of subsegments) {
      assert.equal(subsegment.trace_id, TRACE_ROOT);
      assert.equal(subsegment.annotations.Service, 'sluice-ingest');
      assert.equal(typeof subsegment.end_time, 'number', 'closed');
      assert.equal(subsegment.metadata?.['sluice-ingest']?.['index.handler response'], undefined, 'responses are not recorded');
    }
    assert.equal(subsegments[0].annotations.ColdStart, true);
    assert.equal(subsegments[1].annotations.ColdStart, false);
    assert.ok(JSON.stringify(subsegments[1]).includes('boom'), 'the error is recorded');
  });
});
