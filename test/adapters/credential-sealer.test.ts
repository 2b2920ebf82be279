// No KMS emulator runs here: a stand-in KMS endpoint (a real HTTP server the sealer's
// client sends its signed requests to) behaves like KMS where it matters (Encrypt refuses
// more than 4,096 bytes of plaintext; ciphertexts open only under the same encryption
// context), and the exact requests are asserted as they arrived.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptRequest, EncryptResponse } from '@aws-sdk/client-kms';
import { KmsCredentialSealer, LocalCredentialSealer } from '../../adapters/aws/credential-sealer';
import type { AwsClient } from '../../adapters/aws/protocol/client';
import { blobOf } from '../../adapters/aws/protocol/json-protocol';
import { kmsService } from '../../adapters/aws/protocol/kms';
import { commandFor } from '../../adapters/aws/protocol/operation';
import { AwsEndpoint, type ScriptedAnswer } from '../helpers/aws-endpoint';

const KEY_ID = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
/** AWS KMS: "Plaintext ... Length Constraints: Minimum length of 1. Maximum length of 4096." */
const KMS_PLAINTEXT_LIMIT = 4096;

/** KMS's Encrypt, which the sealer no longer calls: values sealed by its earlier format were made with it. */
const EncryptCommand = commandFor(
  kmsService.operation<EncryptRequest, EncryptResponse>('Encrypt', (output) => ({
    ...output,
    CiphertextBlob: blobOf(output.CiphertextBlob),
  })),
);

/** What KMS answers for an out-of-range parameter or a ciphertext it cannot open. */
class KmsRefusal extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

/** KMS-like: a master key of its own; ciphertexts carry the context they were made under. */
class KmsStandIn {
  private readonly master = randomBytes(32);

  wrap(plaintext: Uint8Array, context: Record<string, string> = {}): Uint8Array {
    if (plaintext.length < 1 || plaintext.length > KMS_PLAINTEXT_LIMIT) {
      throw new KmsRefusal(
        'ValidationException',
        `1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096 (got ${plaintext.length})`,
      );
    }
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.master, iv);
    cipher.setAAD(Buffer.from(JSON.stringify(context)));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  unwrap(blob: Uint8Array, context: Record<string, string> = {}): Uint8Array {
    try {
      const raw = Buffer.from(blob);
      const decipher = createDecipheriv('aes-256-gcm', this.master, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(JSON.stringify(context)));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
    } catch {
      throw new KmsRefusal('InvalidCiphertextException', 'invalid ciphertext or encryption context');
    }
  }
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** A KMS answer from the stand-in: its output, or the error KMS would send. */
function answer(produce: () => Record<string, unknown>): ScriptedAnswer {
  try {
    return { body: produce() };
  } catch (error) {
    if (error instanceof KmsRefusal) return { errorType: error.errorType, body: { message: error.message } };
    throw error;
  }
}

describe('KMS credential sealer', () => {
  let kms: AwsEndpoint;
  let client: AwsClient;
  let standIn: KmsStandIn;

  before(async () => {
    kms = await AwsEndpoint.start();
    client = kms.client(kmsService);
  });
  after(() => kms.close());

  beforeEach(() => {
    kms.reset();
    standIn = new KmsStandIn();
    kms.on('Encrypt', ({ body }) =>
      answer(() => ({
        CiphertextBlob: b64(standIn.wrap(Buffer.from(body.Plaintext, 'base64'), body.EncryptionContext)),
        KeyId: body.KeyId,
      })),
    );
    kms.on('GenerateDataKey', ({ body }) => {
      assert.equal(body.KeySpec, 'AES_256');
      const plaintext = randomBytes(32);
      return answer(() => ({
        Plaintext: b64(plaintext),
        CiphertextBlob: b64(standIn.wrap(plaintext, body.EncryptionContext)),
        KeyId: body.KeyId,
      }));
    });
    kms.on('Decrypt', ({ body }) =>
      answer(() => ({ Plaintext: b64(standIn.unwrap(Buffer.from(body.CiphertextBlob, 'base64'), body.EncryptionContext)), KeyId: KEY_ID })),
    );
  });

  const context = { connectionId: 'erp' };
  // The largest credentials a connection can hold: a 4,096-character secret of
  // 3-byte UTF-8 characters plus a signing secret, far above KMS's 4,096 bytes.
  const largest = JSON.stringify({
    auth: { type: 'header', name: 'x-token', value: '€'.repeat(4096) },
    signingSecret: `whsec_${'A'.repeat(64)}`,
  });

  it('the stand-in refuses what KMS refuses: more than 4,096 bytes for Encrypt', async () => {
    assert.ok(Buffer.byteLength(largest) > 3 * KMS_PLAINTEXT_LIMIT);
    await assert.rejects(client.send(new EncryptCommand({ KeyId: KEY_ID, Plaintext: Buffer.from(largest), EncryptionContext: context })), {
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400, requestId: 'req-1', attempts: 1 },
    });
    await client.send(new EncryptCommand({ KeyId: KEY_ID, Plaintext: Buffer.alloc(KMS_PLAINTEXT_LIMIT, 1) }));
  });

  it('seals and opens the largest credentials through one data key; nothing above 4,096 bytes reaches KMS', async () => {
    const sealer = new KmsCredentialSealer(client, KEY_ID);
    const sealed = await sealer.seal(largest, context);
    assert.equal(await sealer.open(sealed, context), largest);

    assert.equal(kms.of('Encrypt').length, 0, 'no direct Encrypt of the credentials');
    const generate = kms.of('GenerateDataKey').map((request) => request.body);
    assert.deepEqual(generate, [{ KeyId: KEY_ID, KeySpec: 'AES_256', EncryptionContext: context }]);
    const decrypts = kms.of('Decrypt').map((request) => request.body);
    assert.equal(decrypts.length, 1);
    assert.deepEqual(Object.keys(decrypts[0]!).sort(), ['CiphertextBlob', 'EncryptionContext', 'KeyId']);
    assert.equal(decrypts[0]!.KeyId, KEY_ID);
    assert.deepEqual(decrypts[0]!.EncryptionContext, context);
    assert.ok(Buffer.from(decrypts[0]!.CiphertextBlob, 'base64').length <= KMS_PLAINTEXT_LIMIT, 'only the wrapped data key goes to KMS');
    assert.ok(!sealed.includes('€') && !sealed.includes('whsec_'), 'nothing of the plaintext is stored in clear');
  });

  it('seals every size from 1 byte to well beyond the KMS limit, at and around 4,096 bytes', async () => {
    const sealer = new KmsCredentialSealer(client, KEY_ID);
    for (const size of [1, 4095, 4096, 4097, 20_000]) {
      const plaintext = 'x'.repeat(size);
      assert.equal(await sealer.open(await sealer.seal(plaintext, context), context), plaintext, `${size} bytes`);
    }
  });

  it('a sealed value opens only for its own connection, and tampering is detected', async () => {
    const sealer = new KmsCredentialSealer(client, KEY_ID);
    const sealed = await sealer.seal('secret', context);
    await assert.rejects(sealer.open(sealed, { connectionId: 'other' }));
    const [prefix, wrapped, body] = sealed.split(':');
    const flipped = Buffer.from(body!, 'base64');
    flipped[flipped.length - 1]! ^= 1;
    await assert.rejects(sealer.open(`${prefix}:${wrapped}:${flipped.toString('base64')}`, context));
    await assert.rejects(sealer.open('garbage', context), /unknown format/);
  });

  it('values sealed by the earlier direct-Encrypt format still open', async () => {
    const legacy = await client.send(
      new EncryptCommand({ KeyId: KEY_ID, Plaintext: Buffer.from('old secret'), EncryptionContext: context }),
    );
    const sealed = `kms:${Buffer.from(legacy.CiphertextBlob!).toString('base64')}`;
    assert.equal(await new KmsCredentialSealer(client, KEY_ID).open(sealed, context), 'old secret');
  });
});

describe('local credential sealer', () => {
  it('round-trips large values and binds them to their context', async () => {
    const sealer = new LocalCredentialSealer();
    const value = '€'.repeat(5000);
    const sealed = await sealer.seal(value, { connectionId: 'a' });
    assert.equal(await sealer.open(sealed, { connectionId: 'a' }), value);
    await assert.rejects(sealer.open(sealed, { connectionId: 'b' }));
  });
});
