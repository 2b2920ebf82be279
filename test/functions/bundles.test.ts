// Each Lambda function bundled as the construct bundles it (infra/function-bundling.ts),
// with esbuild's metafile: no bundle carries an AWS SDK client or the SDK's runtime (the
// handlers call AWS through adapters/aws/protocol) nor the X-Ray SDK, the service protocols
// in each bundle are exactly those its function calls, and no bundle carries the API's schema
// generator or zod's locales other than English (api/schemas.ts imports `en` alone from `zod/locales`:
// `z.locales.en()` would bring every translation along).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunction, ENTRY_ENV, FUNCTIONS, type FunctionBundle, type FunctionName } from '../../bench/cold-start';

/** The service protocols (adapters/aws/protocol/<service>.ts) each function may bundle: what it calls, and nothing else. */
const ALLOWED_SERVICES: Record<FunctionName, string[]> = {
  // Records (DynamoDB), tickets (SQS), payloads over the inline limit (S3).
  ingest: ['dynamodb', 's3', 'sqs'],
  // Everything: repair (S3 and presigned URLs), connection secrets, probes, events.
  operator: ['dynamodb', 'event-bridge', 'kms', 's3', 'scheduler', 'sqs'],
  // Claim checks and the failed store (S3), secrets (KMS), pause events and probe schedules.
  deliverer: ['dynamodb', 'event-bridge', 'kms', 's3', 'scheduler', 'sqs'],
  // Probes with the connection's secrets, resume events and schedules, re-queueing sweeps; no payloads.
  prober: ['dynamodb', 'event-bridge', 'kms', 'scheduler', 'sqs'],
  // Counts and listings from the table's stream; retention tags on a final message's objects (S3).
  aggregator: ['dynamodb', 's3'],
};

const packagesIn = (bundle: FunctionBundle, pattern: RegExp): string[] => {
  const found = new Set<string>();
  for (const output of Object.values(bundle.metafile.outputs)) {
    for (const input of Object.keys(output.inputs)) {
      const match = pattern.exec(input);
      if (match) found.add(match[1]!);
    }
  }
  return [...found].sort();
};

describe('Lambda bundles', () => {
  let outDir: string;
  const bundles = new Map<FunctionName, FunctionBundle>();

  before(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'sluice-bundles-test-'));
    for (const name of FUNCTIONS) bundles.set(name, await bundleFunction(name, outDir));
  });
  after(() => rmSync(outDir, { recursive: true, force: true }));

  for (const name of FUNCTIONS) {
    it(`${name} bundles only the service protocols it calls`, () => {
      assert.deepEqual(
        packagesIn(bundles.get(name)!, /adapters\/aws\/protocol\/(dynamodb|s3|sqs|kms|event-bridge|scheduler)\.ts$/),
        ALLOWED_SERVICES[name],
      );
    });
  }

  it('no bundle carries an AWS SDK client, the SDK’s runtime or its credential providers', () => {
    for (const bundle of bundles.values()) {
      assert.deepEqual(
        packagesIn(
          bundle,
          /node_modules\/(@aws-sdk\/(?:client-[^/]+|core|lib-dynamodb|credential-provider[^/]*|middleware-[^/]+|s3-[^/]+)|@smithy\/(?:node-http-handler|credential-provider-imds))\//,
        ),
        [],
        bundle.name,
      );
    }
  });

  it('the ingest bundle loads neither the presigner nor KMS, Scheduler or EventBridge', () => {
    const ingest = bundles.get('ingest')!;
    assert.deepEqual(
      packagesIn(ingest, /adapters\/aws\/(protocol\/presign|protocol\/kms|protocol\/scheduler|protocol\/event-bridge|presigner)\.ts$/),
      [],
    );
  });

  it('the ingest bundle carries the partner routes and none of the operator API', () => {
    const inputs = Object.values(bundles.get('ingest')!.metafile.outputs).flatMap((output) => Object.keys(output.inputs));
    const operatorOnly = [
      'api/resources/connections.ts',
      'api/resources/flows.ts',
      'api/resources/failed-events.ts',
      'api/resources/partners.ts',
      'services/repair.ts',
    ];
    assert.deepEqual(
      inputs.filter((input) => operatorOnly.some((path) => input.endsWith(path))),
      [],
    );
    for (const partnerRoute of ['api/resources/partner-messages.ts', 'api/resources/partner-batches.ts']) {
      assert.ok(
        inputs.some((input) => input.endsWith(partnerRoute)),
        partnerRoute,
      );
    }
  });

  it('the ingest bundle carries no zod: partner requests are checked by hand, their schemas live in api/resources/partner-schemas.ts', () => {
    assert.deepEqual(packagesIn(bundles.get('ingest')!, /node_modules\/(zod)\//), []);
  });

  it('no bundle carries the OpenAPI generator or zod’s translations', () => {
    // The generator and what only it imports: the partner API's schemas, zod to JSON Schema, problem examples.
    const generator = ['api/openapi.ts', 'api/json-schema.ts', 'api/problem-docs.ts', 'api/resources/partner-schemas.ts'];
    // A locale module counts when it adds bytes: the re-exporting index is an input of 0 bytes when only `en` is taken from it.
    const otherLocale = /node_modules\/zod\/(?:v4\/)?locales\/(?!en\.js$)/;
    for (const bundle of bundles.values()) {
      const inputs = Object.values(bundle.metafile.outputs).flatMap((output) => Object.entries(output.inputs));
      const unwanted = inputs
        .filter(
          ([input, { bytesInOutput }]) => generator.some((path) => input.endsWith(path)) || (otherLocale.test(input) && bytesInOutput > 0),
        )
        .map(([input]) => input);
      assert.deepEqual(unwanted, [], `${bundle.name} bundles ${unwanted.slice(0, 3).join(', ')}…`);
    }
  });

  it('no bundle carries the X-Ray SDK: subsegments go to the daemon from adapters/aws/x-ray.ts', () => {
    for (const bundle of bundles.values()) {
      assert.deepEqual(
        packagesIn(bundle, /node_modules\/(aws-xray-sdk-core|cls-hooked|@aws-lambda-powertools\/tracer)\//),
        [],
        bundle.name,
      );
    }
  });

  it('no bundle’s source map carries the sources (stack traces map without them)', () => {
    for (const bundle of bundles.values()) {
      const map = JSON.parse(readFileSync(`${bundle.outfile}.map`, 'utf8')) as { sourcesContent?: unknown[] };
      assert.equal(map.sourcesContent, undefined, bundle.name);
    }
  });

  it('every bundle loads in a fresh Node process and exports its handler', async () => {
    for (const bundle of bundles.values()) {
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          ['-e', `process.stdout.write(typeof require(${JSON.stringify(bundle.outfile)}).handler)`],
          { env: { PATH: process.env.PATH ?? '', ...ENTRY_ENV } },
          (error, out, stderr) => (error ? reject(new Error(`${bundle.name}: ${stderr || error.message}`)) : resolve(out)),
        ),
      );
      assert.equal(stdout, 'function', bundle.name);
    }
  });
});
