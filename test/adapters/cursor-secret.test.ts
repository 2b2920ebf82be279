import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { LocalCredentialSealer } from '../../adapters/aws/credential-sealer';
import { loadCursorSecret } from '../../adapters/aws/cursor-secret';
import { CursorCodec } from '../../api/cursors';
import { TestGateway } from '../helpers/gateway';

// On AWS no cursor secret is configured: the first container makes one, sealed, in the table.
describe('cursor secret sealed in the state store', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await TestGateway.start({ deliver: false });
  });
  after(() => gw.stop());

  it('is made once, kept sealed, and the same for every container', async () => {
    const { documents } = gw.runtime.clients;
    const table = gw.runtime.config.tableName;
    const sealer = new LocalCredentialSealer();
    // Several containers starting at once race to make it; all end up with one secret.
    const secrets = await Promise.all([1, 2, 3, 4].map(() => loadCursorSecret(documents, table, sealer)));
    assert.equal(secrets[0]!.length, 32);
    for (const secret of secrets) assert.deepEqual(secret, secrets[0]);
    assert.deepEqual(await loadCursorSecret(documents, table, sealer), secrets[0]);

    const items = (await gw.sdk.documents.send(new ScanCommand({ TableName: table }))).Items ?? [];
    const stored = items.filter((item) => item.pk === 'SETTINGS');
    assert.equal(stored.length, 1);
    const text = JSON.stringify(stored[0]);
    assert.ok(!text.includes(secrets[0]!.toString('base64')), 'the secret is not stored in plaintext');
    assert.ok(!text.includes(secrets[0]!.toString('hex')), 'the secret is not stored in plaintext');

    // A cursor one container issued opens in another; one keyed otherwise does not.
    const listing = { name: 'flow-messages', params: { flowId: 'f1' } };
    const cursor = new CursorCodec(secrets[0]!).seal(listing, 'position-1')!;
    assert.equal(new CursorCodec(secrets[1]!).open(listing, cursor), 'position-1');
    assert.throws(() => new CursorCodec(Buffer.alloc(32, 7)).open(listing, cursor), { code: 'invalid-query' });
  });
});
