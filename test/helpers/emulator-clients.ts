import type { Emulators } from '../../local/emulators';
import { sdkClients, type SdkClients } from '../../local/sdk-clients';

/** The AWS SDK's clients on the local emulators, for tests that provision or inspect resources themselves. */
export function emulatorClients(emulators: Emulators): SdkClients {
  return sdkClients({
    region: 'us-east-1',
    endpoints: { dynamodb: emulators.dynamodbEndpoint, sqs: emulators.sqsEndpoint, s3: emulators.s3Endpoint },
  });
}
