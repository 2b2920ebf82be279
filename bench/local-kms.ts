import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AwsClient } from '../adapters/aws/protocol/client';
import { kmsService } from '../adapters/aws/protocol/kms';
import { LOCAL_CREDENTIALS } from '../adapters/aws/clients';

type Middleware = (next: (args: any) => Promise<any>, context: { commandName?: string }) => (args: any) => Promise<any>;

const canonicalContext = (context: Record<string, string> | undefined) =>
  JSON.stringify(
    Object.keys(context ?? {})
      .sort()
      .map((k) => [k, context![k]]),
  );

/**
 * A KMS client whose Encrypt, GenerateDataKey and Decrypt never leave the process (AES-256-GCM with a key in
 * memory, the encryption context bound as associated data). There is no KMS emulator here;
 * with this client the gateway's real `KmsCredentialSealer` runs, so the bench counts the KMS
 * requests the AWS deployment makes, call for call, through the same middleware as every
 * other client. The answer is produced at the end of the finalizeRequest step: middleware of
 * earlier steps (the meter's recorder and timer) sees a normal call.
 */
export function createLocalKmsClient(region = 'us-east-1'): AwsClient {
  const key = randomBytes(32);
  const client = new AwsClient(kmsService, { region, credentials: LOCAL_CREDENTIALS });
  const answer: Middleware = (_next, context) => async (args) => {
    const input = args.input;
    const aad = Buffer.from(canonicalContext(input.EncryptionContext));
    const encrypt = (plaintext: Buffer) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad);
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    };
    switch (context.commandName) {
      case 'EncryptCommand':
        return { output: { CiphertextBlob: encrypt(Buffer.from(input.Plaintext)), KeyId: input.KeyId, $metadata: {} }, response: {} };
      case 'GenerateDataKeyCommand': {
        // Envelope encryption: a fresh data key, returned in the clear and wrapped.
        const dataKey = randomBytes(32);
        return { output: { Plaintext: dataKey, CiphertextBlob: encrypt(dataKey), KeyId: input.KeyId, $metadata: {} }, response: {} };
      }
      case 'DecryptCommand': {
        const raw = Buffer.from(input.CiphertextBlob);
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        decipher.setAAD(aad);
        decipher.setAuthTag(raw.subarray(12, 28));
        return { output: { Plaintext: Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]), $metadata: {} }, response: {} };
      }
      default:
        throw new Error(`the local KMS stand-in does not implement ${context.commandName}`);
    }
  };
  (client.middlewareStack as unknown as { add: (m: Middleware, o: object) => void }).add(answer, {
    step: 'finalizeRequest',
    priority: 'low',
    name: 'benchLocalKms',
  });
  return client;
}
