import type {
  ChangeMessageVisibilityRequest,
  DeleteMessageBatchRequest,
  DeleteMessageBatchResult,
  DeleteMessageRequest,
  GetQueueAttributesRequest,
  GetQueueAttributesResult,
  ReceiveMessageRequest,
  ReceiveMessageResult,
  SendMessageBatchRequest,
  SendMessageBatchResult,
} from '@aws-sdk/client-sqs';
import type { AwsServiceError } from './errors';
import { blobOf, jsonService, jsonServiceError } from './json-protocol';
import { commandFor, type Operation, type ServiceProtocol, type WireResponse, regionalHost } from './operation';

/**
 * SQS over the AWS JSON 1.0 protocol. SQS spoke the query protocol first and still
 * answers in its terms when asked (`x-amzn-query-mode`): an error then names its query
 * code in `x-amzn-query-error` ('AWS.SimpleQueueService.NonExistentQueue;Sender'), which
 * the SDK turns back into the modelled error's name (QueueDoesNotExist).
 */
const json = jsonService({
  label: 'SQS',
  signingName: 'sqs',
  host: (region) => regionalHost('sqs', region),
  version: '1.0',
  targetPrefix: 'AmazonSQS',
  headers: { 'x-amzn-query-mode': 'true' },
});

/** The modelled errors whose query code is not their name (the others' are). */
const NAME_OF_QUERY_CODE: Record<string, string> = {
  'AWS.SimpleQueueService.BatchEntryIdsNotDistinct': 'BatchEntryIdsNotDistinct',
  'AWS.SimpleQueueService.BatchRequestTooLong': 'BatchRequestTooLong',
  'AWS.SimpleQueueService.EmptyBatchRequest': 'EmptyBatchRequest',
  'AWS.SimpleQueueService.InvalidBatchEntryId': 'InvalidBatchEntryId',
  'AWS.SimpleQueueService.MessageNotInflight': 'MessageNotInflight',
  'AWS.SimpleQueueService.NonExistentQueue': 'QueueDoesNotExist',
  'AWS.SimpleQueueService.PurgeQueueInProgress': 'PurgeQueueInProgress',
  'AWS.SimpleQueueService.QueueDeletedRecently': 'QueueDeletedRecently',
  'AWS.SimpleQueueService.TooManyEntriesInBatchRequest': 'TooManyEntriesInBatchRequest',
  'AWS.SimpleQueueService.UnsupportedOperation': 'UnsupportedOperation',
  'KMS.AccessDeniedException': 'KmsAccessDenied',
  'KMS.DisabledException': 'KmsDisabled',
  'KMS.InvalidKeyUsageException': 'KmsInvalidKeyUsage',
  'KMS.InvalidStateException': 'KmsInvalidState',
  'KMS.NotFoundException': 'KmsNotFound',
  'KMS.OptInRequired': 'KmsOptInRequired',
  'KMS.ThrottlingException': 'KmsThrottled',
  QueueAlreadyExists: 'QueueNameExists',
};

/** As the SDK names it: the query code first, then as any JSON service error; an unmodelled query code names the error itself. */
export function sqsServiceError(response: WireResponse): AwsServiceError {
  const error = jsonServiceError(response);
  const queryError = response.headers['x-amzn-query-error'];
  if (!queryError) return error;
  const [code = '', type] = queryError.split(';');
  error.name = NAME_OF_QUERY_CODE[code] ?? code;
  return Object.assign(error, { Code: code, Type: type });
}

export const sqsService: ServiceProtocol = { label: json.label, signingName: json.signingName, error: sqsServiceError };

/**
 * Without a custom endpoint the SDK sends to the host of the queue's URL, whatever the
 * region says (a queue URL of the legacy `queue.amazonaws.com` form goes there too).
 */
function operation<I extends { QueueUrl?: string | undefined }, O>(
  name: string,
  read?: (output: Record<string, unknown>) => O,
): Operation<I, O> {
  const base = json.operation<I, O>(name, read);
  return {
    service: sqsService,
    name,
    serialize(input, context) {
      const request = base.serialize(input, context);
      if (!context.endpoint && input.QueueUrl && URL.canParse(input.QueueUrl)) request.url = new URL('/', new URL(input.QueueUrl).origin);
      return request;
    },
    deserialize: base.deserialize,
  };
}

type Attribute = { BinaryValue?: unknown; BinaryListValues?: unknown[] };

/** Binary message attributes as bytes, as the SDK gives them. */
function readMessages(output: Record<string, unknown>): ReceiveMessageResult {
  const messages = output.Messages as { MessageAttributes?: Record<string, Attribute> }[] | undefined;
  for (const message of messages ?? []) {
    for (const attribute of Object.values(message.MessageAttributes ?? {})) {
      if (attribute.BinaryValue !== undefined) attribute.BinaryValue = blobOf(attribute.BinaryValue);
      if (attribute.BinaryListValues) attribute.BinaryListValues = attribute.BinaryListValues.map(blobOf);
    }
  }
  return output as ReceiveMessageResult;
}

export const SendMessageBatchCommand = commandFor(operation<SendMessageBatchRequest, SendMessageBatchResult>('SendMessageBatch'));
export const ReceiveMessageCommand = commandFor(operation<ReceiveMessageRequest, ReceiveMessageResult>('ReceiveMessage', readMessages));
export const ChangeMessageVisibilityCommand = commandFor(
  operation<ChangeMessageVisibilityRequest, Record<string, never>>('ChangeMessageVisibility'),
);
export const DeleteMessageCommand = commandFor(operation<DeleteMessageRequest, Record<string, never>>('DeleteMessage'));
export const DeleteMessageBatchCommand = commandFor(operation<DeleteMessageBatchRequest, DeleteMessageBatchResult>('DeleteMessageBatch'));
export const GetQueueAttributesCommand = commandFor(operation<GetQueueAttributesRequest, GetQueueAttributesResult>('GetQueueAttributes'));
