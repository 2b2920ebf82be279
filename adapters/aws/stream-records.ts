import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { RecordChange } from '../../core/message-status';
import type { DeliveryStatus } from '../../core/model';
import { keys } from './keys';

type Image = Record<string, AttributeValue>;

function isMessageRecord(image: Image | undefined): boolean {
  return image?.sk?.S === keys.message('', '').sk && (image?.pk?.S ?? '').startsWith('MSG#');
}

function deliveries(image: Image | undefined): { status: DeliveryStatus }[] | undefined {
  if (!image) return undefined;
  const dlv = image.dlv ? (unmarshall({ dlv: image.dlv } as never).dlv as Record<string, { status: DeliveryStatus }>) : {};
  return Object.values(dlv).map((d) => ({ status: d.status }));
}

/**
 * The message-record changes in a batch of DynamoDB stream records (NEW_AND_OLD_IMAGES):
 * every other item of the table is skipped.
 */
export function messageChanges(records: DynamoDBRecord[]): RecordChange[] {
  const changes: RecordChange[] = [];
  for (const record of records) {
    const oldImage = record.dynamodb?.OldImage as Image | undefined;
    const newImage = record.dynamodb?.NewImage as Image | undefined;
    const image = newImage ?? oldImage;
    if (!isMessageRecord(image)) continue;
    const flowId = image!.flowId?.S;
    const messageId = image!.messageId?.S;
    if (!flowId || !messageId) continue;
    const before = deliveries(oldImage);
    const after = deliveries(newImage);
    changes.push({ flowId, messageId, receivedAt: image!.receivedAt?.S ?? '', ...(before ? { before } : {}), ...(after ? { after } : {}) });
  }
  return changes;
}
