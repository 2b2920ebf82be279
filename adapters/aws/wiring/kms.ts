import { kmsService } from '../protocol/kms';
import type { RuntimeWiring } from '../../runtime';
import { KmsCredentialSealer, LocalCredentialSealer } from '../credential-sealer';

/** Connection secrets sealed with the deployment's KMS key (a local key without one). */
export const kmsWiring: RuntimeWiring = {
  protocols: { kms: kmsService },
  sealer: (clients, config) =>
    config.credentialsKeyId ? new KmsCredentialSealer(clients.kms, config.credentialsKeyId) : new LocalCredentialSealer(),
};
