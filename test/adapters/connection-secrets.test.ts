import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalCredentialSealer } from '../../adapters/aws/credential-sealer';
import type { CredentialSealer } from '../../core/ports';
import { TestGateway } from '../helpers/gateway';

/** A real sealer that counts its calls (KMS on AWS: each call is billed and adds latency). */
class CountingSealer implements CredentialSealer {
  seals = 0;
  opens = 0;
  private readonly inner = new LocalCredentialSealer();
  seal(plaintext: string, context: Record<string, string>) {
    this.seals += 1;
    return this.inner.seal(plaintext, context);
  }
  open(sealed: string, context: Record<string, string>) {
    this.opens += 1;
    return this.inner.open(sealed, context);
  }
}

describe('connection secrets: no sealer call without secrets, one open per ciphertext', () => {
  let gw: TestGateway;
  const sealer = new CountingSealer();

  before(async () => {
    gw = await TestGateway.start({ deliver: false, aggregate: false, overrides: { sealer } });
  });

  after(async () => {
    await gw?.stop();
  });

  it('never seals or opens for a connection without credentials or signing secret', async () => {
    await gw.connection('plain', { url: 'http://127.0.0.1:9/plain' });
    const opened = await gw.runtime.connections.getWithSecrets('plain', true);
    await gw.runtime.connections.getWithSecrets('plain', true);
    assert.deepEqual(opened?.auth, { type: 'none' });
    assert.equal(opened?.signingSecret, undefined);
    assert.equal(sealer.seals, 0);
    assert.equal(sealer.opens, 0);
  });

  it('opens a sealed credential once per container, and again only when it changes', async () => {
    await gw.connection('secret', {
      url: 'http://127.0.0.1:9/secret',
      auth: { type: 'bearer', token: 'one' },
      signingSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    });
    assert.equal(sealer.seals, 1);
    for (let i = 0; i < 3; i++) {
      const c = await gw.runtime.connections.getWithSecrets('secret', true);
      assert.deepEqual(c?.auth, { type: 'bearer', token: 'one' });
      assert.equal(c?.signingSecret, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    }
    assert.equal(sealer.opens, 1, 'cached by ciphertext');
    const opensBefore = sealer.opens;
    // Reauthorize seals the new credential and probes with it (which opens it once).
    const reauthorized = await gw.request('POST', '/v1/connections/secret/reauthorize', {
      body: { auth: { type: 'bearer', token: 'two' } },
    });
    assert.equal(reauthorized.status, 200, JSON.stringify(reauthorized.body));
    for (let i = 0; i < 2; i++) {
      const c = await gw.runtime.connections.getWithSecrets('secret', true);
      assert.deepEqual(c?.auth, { type: 'bearer', token: 'two' }, 'a new credential is a new ciphertext: never a stale secret');
    }
    assert.equal(sealer.opens, opensBefore + 1, 'the new ciphertext opened once');
  });

  it('drops the sealed secrets when a connection is saved again without any', async () => {
    await gw.connection('secret', { url: 'http://127.0.0.1:9/secret' });
    const stored = await gw.runtime.connections.get('secret', true);
    assert.equal(stored?.sealedSecrets, undefined);
    assert.deepEqual((await gw.runtime.connections.getWithSecrets('secret', true))?.auth, { type: 'none' });
  });
});
