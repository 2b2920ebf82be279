import type { AwsClient } from './protocol/client';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand } from './protocol/kms';
import type { CredentialSealer } from '../../core/ports';

/** AES-256-GCM sizes: 96-bit nonce, 128-bit tag. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The encryption context as additional authenticated data: key order must not matter. */
function aad(context: Record<string, string>): Buffer {
  return Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))));
}

function encrypt(key: Uint8Array, plaintext: string, context: Record<string, string>): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

function decrypt(key: Uint8Array, sealed: Buffer, context: Record<string, string>): string {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
  decipher.setAAD(aad(context));
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
}

export class SealedValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedValueError';
  }
}

/**
 * Envelope encryption under a KMS key: KMS Encrypt takes at most 4,096 bytes of
 * plaintext, and sealed credentials (a secret of up to 4,096 characters, i.e. up to
 * 16 KiB of UTF-8, plus a signing secret) can be larger. Each seal asks KMS for a
 * fresh AES-256 data key (GenerateDataKey), encrypts locally with AES-256-GCM, and
 * stores the KMS-encrypted data key beside the ciphertext:
 * `env1:<encrypted data key>:<iv | tag | ciphertext>` (base64 parts).
 * The encryption context binds a secret to its connection, both in KMS (for the data
 * key) and in GCM (as additional authenticated data).
 * Values sealed by earlier versions (`kms:` + a direct KMS ciphertext) still open.
 */
export class KmsCredentialSealer implements CredentialSealer {
  constructor(
    private readonly kms: AwsClient,
    private readonly keyId: string,
  ) {}

  async seal(plaintext: string, context: Record<string, string>): Promise<string> {
    const dataKey = await this.kms.send(new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: context }));
    const key = dataKey.Plaintext!;
    try {
      const body = encrypt(key, plaintext, context);
      return `env1:${Buffer.from(dataKey.CiphertextBlob!).toString('base64')}:${body.toString('base64')}`;
    } finally {
      key.fill(0);
    }
  }

  async open(sealed: string, context: Record<string, string>): Promise<string> {
    if (sealed.startsWith('env1:')) {
      const [, wrappedKey, body] = sealed.split(':');
      if (!wrappedKey || !body) throw new SealedValueError('sealed value is malformed');
      const result = await this.kms.send(
        new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: Buffer.from(wrappedKey, 'base64'), EncryptionContext: context }),
      );
      const key = result.Plaintext!;
      try {
        return decrypt(key, Buffer.from(body, 'base64'), context);
      } finally {
        key.fill(0);
      }
    }
    if (sealed.startsWith('kms:')) {
      const result = await this.kms.send(
        new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: Buffer.from(sealed.slice(4), 'base64'), EncryptionContext: context }),
      );
      return Buffer.from(result.Plaintext!).toString('utf8');
    }
    throw new SealedValueError('sealed value has an unknown format');
  }
}

/** AES-256-GCM with a key held in memory: local mode, whose table is in memory too. */
export class LocalCredentialSealer implements CredentialSealer {
  private readonly key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.key = key;
  }

  async seal(plaintext: string, context: Record<string, string>): Promise<string> {
    return `aes:${encrypt(this.key, plaintext, context).toString('base64')}`;
  }

  async open(sealed: string, context: Record<string, string>): Promise<string> {
    return decrypt(this.key, Buffer.from(sealed.slice(4), 'base64'), context);
  }
}
