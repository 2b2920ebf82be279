import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEvent, SQSRecord } from 'aws-lambda';
import { laneGroupId } from '../../core/lanes';
import type { DeliveryTicket } from '../../core/ports';

/** A REST (payload 1.0) proxy event with empty defaults; `fields` override them. */
export function proxyEvent(fields: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent {
  return {
    httpMethod: 'GET',
    path: '/',
    resource: '/',
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { requestId: `req-${randomBytes(4).toString('hex')}` } as APIGatewayProxyEvent['requestContext'],
    ...fields,
  };
}

/** A delivery ticket of lane 0, never restarted. */
export const deliveryTicket = (flowId: string, connectionId: string, messageId: string): DeliveryTicket => ({
  v: 1,
  flowId,
  messageId,
  connectionId,
  lane: 0,
  restarts: 0,
});

export interface SqsRecordOptions {
  /** Makes the record's message id and sequence number unique. @default 0 */
  sequence?: number;
  /** @default 1 */
  receiveCount?: number;
  /** @default now */
  firstReceivedAt?: number;
  /** @default firstReceivedAt */
  sentAt?: number;
}

/** A record as the Lambda SQS event source hands it over for a FIFO queue. */
export function sqsRecord(ticket: DeliveryTicket, options: SqsRecordOptions = {}): SQSRecord {
  const sequence = options.sequence ?? 0;
  const firstReceivedAt = options.firstReceivedAt ?? Date.now();
  return {
    messageId: `sqs-${ticket.messageId}-${sequence}`,
    receiptHandle: `receipt-${ticket.messageId}`,
    body: JSON.stringify(ticket),
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: String(options.sentAt ?? firstReceivedAt),
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: String(firstReceivedAt),
      SequenceNumber: String(18_000_000_000_000_000_000 + sequence),
      MessageGroupId: laneGroupId(ticket.connectionId, ticket.lane),
      MessageDeduplicationId: `dedupe-${ticket.messageId}`,
    },
    messageAttributes: {},
    md5OfBody: 'ignored',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:sluice-deliveries.fifo',
    awsRegion: 'us-east-1',
  };
}
