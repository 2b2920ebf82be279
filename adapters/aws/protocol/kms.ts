import type { DecryptRequest, DecryptResponse, GenerateDataKeyRequest, GenerateDataKeyResponse } from '@aws-sdk/client-kms';
import { blobOf, jsonService } from './json-protocol';
import { commandFor, regionalHost } from './operation';

/** KMS over the AWS JSON 1.1 protocol; its keys and ciphertexts are base64 blobs on the wire. */
export const kmsService = jsonService({
  label: 'KMS',
  signingName: 'kms',
  host: (region) => regionalHost('kms', region),
  version: '1.1',
  targetPrefix: 'TrentService',
});

/** Every blob a KMS data-key or decrypt answer can carry, as bytes. */
function withBlobs<O>(output: Record<string, unknown>): O {
  for (const key of ['Plaintext', 'CiphertextBlob', 'CiphertextForRecipient']) {
    if (output[key] !== undefined) output[key] = blobOf(output[key]);
  }
  return output as O;
}

export const GenerateDataKeyCommand = commandFor(
  kmsService.operation<GenerateDataKeyRequest, GenerateDataKeyResponse>('GenerateDataKey', withBlobs<GenerateDataKeyResponse>),
);
export const DecryptCommand = commandFor(kmsService.operation<DecryptRequest, DecryptResponse>('Decrypt', withBlobs<DecryptResponse>));
