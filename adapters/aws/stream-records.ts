import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { RecordChange } from '../../core/message-status';
import type { Delivery, DeliveryStatus } from '../../core/model';
import { TABLE } from './definitions';
import { keys, objectKeys } from './keys';
import { DELIVERIES_ATTRIBUTE, decodeDeliveryState, decodeMessageFields, messageAttribute, messageRef } from './record-codec';

type Image = Record<string, AttributeValue>;

function isMessageRecord(image: Image | undefined): boolean {
  return image?.sk?.S === keys.message('', '').sk && (image?.pk?.S ?? '').startsWith('MSG#');
}

function deliveries(image: Image | undefined): { status: DeliveryStatus }[] | undefined {
  if (!image) return undefined;
  return Object.values(statesOf(image)).map((d) => ({ status: d.status as DeliveryStatus }));
}

/** The delivery states of a record image, by connection, as the domain names their fields. */
function statesOf(image: Image): Record<string, Partial<Delivery>> {
  const stored = image[DELIVERIES_ATTRIBUTE];
  const dlv = stored ? (unmarshall({ dlv: stored } as never).dlv as Record<string, Record<string, unknown>>) : {};
  return Object.fromEntries(Object.entries(dlv).map(([id, state]) => [id, decodeDeliveryState(state) as Partial<Delivery>]));
}

function receivedAtOf(image: Image): string {
  return image[messageAttribute('receivedAt')]?.S ?? '';
}

/** The stream records of message records (every other item of the table skipped), with their images and keys. */
function* messageRecords(records: DynamoDBRecord[]) {
  for (const record of records) {
    const oldImage = record.dynamodb?.OldImage as Image | undefined;
    const newImage = record.dynamodb?.NewImage as Image | undefined;
    const image = newImage ?? oldImage;
    if (!isMessageRecord(image)) continue;
    const { flowId, messageId } = messageRef({ pk: image!.pk?.S });
    if (!flowId || !messageId) continue;
    yield { oldImage, newImage, image: image!, flowId, messageId };
  }
}

/**
 * The message-record changes in a batch of DynamoDB stream records (NEW_AND_OLD_IMAGES):
 * every other item of the table is skipped.
 */
export function messageChanges(records: DynamoDBRecord[]): RecordChange[] {
  const changes: RecordChange[] = [];
  for (const { oldImage, newImage, image, flowId, messageId } of messageRecords(records)) {
    const before = deliveries(oldImage);
    const after = deliveries(newImage);
    changes.push({ flowId, messageId, receivedAt: receivedAtOf(image), ...(before ? { before } : {}), ...(after ? { after } : {}) });
  }
  return changes;
}

/** A message record's expiry before and after one stream record, and the objects that follow it. */
export interface RetentionChange {
  flowId: string;
  messageId: string;
  receivedAt: string;
  before?: { expiresAt?: number };
  after?: { expiresAt?: number };
  /** Every object of the message: its claim check, failed copies, corrections (uploaded or applied). */
  objects: string[];
}

function expiryOf(image: Image): { expiresAt?: number } {
  const ttl = image[TABLE.timeToLiveAttribute]?.N;
  return ttl !== undefined ? { expiresAt: Number(ttl) } : {};
}

/** The objects a record points at, or may (an operator's upload not yet applied). */
function objectsOf(image: Image, flowId: string, messageId: string): string[] {
  const payloadAttribute = messageAttribute('payload');
  const { payload } = decodeMessageFields(
    unmarshall({ pk: image.pk ?? { S: '' }, ...(image[payloadAttribute] ? { [payloadAttribute]: image[payloadAttribute] } : {}) } as never),
  );
  const found = new Set<string>();
  if (payload.kind === 'object') found.add(payload.key);
  for (const [connectionId, d] of Object.entries(statesOf(image))) {
    if (d.payloadOverride) found.add(d.payloadOverride.key);
    if (d.failedPayload) {
      found.add(d.failedPayload.key);
      found.add(objectKeys.correction({ flowId, messageId, connectionId }));
    }
  }
  return [...found];
}

/**
 * The expiry changes of message records in a batch of stream records, one per message
 * (from its first record's old image to its last record's new image), in stream order.
 */
export function retentionChanges(records: DynamoDBRecord[]): RetentionChange[] {
  const changes = new Map<string, RetentionChange>();
  for (const { oldImage, newImage, image, flowId, messageId } of messageRecords(records)) {
    const id = `${flowId}#${messageId}`;
    const first = changes.get(id);
    changes.delete(id);
    changes.set(id, {
      flowId,
      messageId,
      receivedAt: receivedAtOf(image),
      ...(first ? (first.before ? { before: first.before } : {}) : oldImage ? { before: expiryOf(oldImage) } : {}),
      ...(newImage ? { after: expiryOf(newImage) } : {}),
      objects: [...new Set([...(first?.objects ?? []), ...objectsOf(image, flowId, messageId)])],
    });
  }
  return [...changes.values()];
}
