import { createAwsClients } from '../../adapters/all-services';
import type { AwsClients } from '../../adapters/aws/clients';
import type { Emulators } from '../../local/emulators';

/** AWS clients on the local emulators, for tests that provision or inspect resources themselves. */
export function emulatorClients(emulators: Emulators): AwsClients {
  return createAwsClients({
    region: 'us-east-1',
    tableName: '',
    queueUrl: '',
    bucketName: '',
    localMode: true,
    allowPrivateTargets: false,
    endpoints: { dynamodb: emulators.dynamodbEndpoint, sqs: emulators.sqsEndpoint, s3: emulators.s3Endpoint },
  });
}
