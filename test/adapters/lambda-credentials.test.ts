// The credential chain the Lambda bundles use in place of the SDK's default one
// (infra/function-bundling.ts aliases @aws-sdk/credential-provider-node to it).
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultProvider } from '../../adapters/aws/lambda-credentials';

const CREDENTIAL_VARIABLES = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
];

describe('Lambda credential chain', () => {
  const saved = Object.fromEntries(CREDENTIAL_VARIABLES.map((name) => [name, process.env[name]]));
  let server: Server;
  let endpoint: string;
  let requests = 0;
  let expiresInMs = 3600_000;

  before(async () => {
    server = createServer((_request, response) => {
      requests++;
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify({
          AccessKeyId: `container-key-${requests}`,
          SecretAccessKey: 'container-secret',
          Token: 'container-token',
          Expiration: new Date(Date.now() + expiresInMs).toISOString(),
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/credentials`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  afterEach(() => {
    for (const name of CREDENTIAL_VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    requests = 0;
    expiresInMs = 3600_000;
  });
  const clearCredentialVariables = () => {
    for (const name of CREDENTIAL_VARIABLES) delete process.env[name];
  };

  it('reads the execution role’s credentials from the environment, as Lambda provides them', async () => {
    clearCredentialVariables();
    process.env.AWS_ACCESS_KEY_ID = 'env-key';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    process.env.AWS_SESSION_TOKEN = 'env-token';
    const provider = defaultProvider();
    const credentials = await provider();
    assert.equal(credentials.accessKeyId, 'env-key');
    assert.equal(credentials.secretAccessKey, 'env-secret');
    assert.equal(credentials.sessionToken, 'env-token');
    // Credentials without an expiration are kept, as the SDK's own chain keeps them.
    process.env.AWS_ACCESS_KEY_ID = 'changed-key';
    assert.equal((await provider()).accessKeyId, 'env-key');
    assert.equal((await provider({ forceRefresh: true })).accessKeyId, 'changed-key');
  });

  it('falls back to a container credentials endpoint and fetches again before the credentials expire', async () => {
    clearCredentialVariables();
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = endpoint;
    const provider = defaultProvider();
    const [first, concurrent] = await Promise.all([provider(), provider()]);
    assert.equal(first.accessKeyId, 'container-key-1');
    assert.equal(concurrent.accessKeyId, 'container-key-1');
    assert.equal(first.sessionToken, 'container-token');
    assert.ok(first.expiration instanceof Date);
    assert.equal((await provider()).accessKeyId, 'container-key-1');
    assert.equal(requests, 1);

    // Within five minutes of expiring: fetched again at the next call.
    expiresInMs = 60_000;
    const fresh = defaultProvider();
    assert.equal((await fresh()).accessKeyId, 'container-key-2');
    assert.equal((await fresh()).accessKeyId, 'container-key-3');
    assert.equal(requests, 3);
  });

  it('fails when the environment offers no credentials at all', async () => {
    clearCredentialVariables();
    await assert.rejects(defaultProvider()(), /credential|container|Unable/i);
  });
});
