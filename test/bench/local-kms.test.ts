import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KmsCredentialSealer } from '../../adapters/aws/credential-sealer';
import { createLocalKmsClient } from '../../bench/local-kms';

// The bench runs the gateway's real KMS sealer on this stand-in: it must answer every call the sealer makes.
describe('bench KMS stand-in', () => {
  it('serves the real sealer: a sealed value opens, and only with its encryption context', async () => {
    const sealer = new KmsCredentialSealer(createLocalKmsClient(), 'alias/bench');
    const context = { connectionId: 'erp' };
    const sealed = await sealer.seal('s3cret-token', context);
    assert.ok(!sealed.includes('s3cret-token'));
    assert.equal(await sealer.open(sealed, context), 's3cret-token');
    await assert.rejects(sealer.open(sealed, { connectionId: 'other' }));
  });
});
