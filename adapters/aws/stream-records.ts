import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { RecordChange } from '../../core/message-status';
import type { Delivery, DeliveryStatus } from '../../core/model';
import { TABLE } from './definitions';
import { keys, objectKeys } from './keys';
import { DELIVERIES_ATTRIBUTE, decodeDeliveryStates, decodeMessageFields, messageAttribute, messageRef } from './record-codec';

type Image = Record<string, AttributeValue>;

function isMessageRecord(image: Image | undefined): boolean {
  return image?.sk?.S === keys.message('', '').sk && (image?.pk?.S ?? '').startsWith('MSG#');
}

function deliveries(image: Image | undefined): { status: DeliveryStatus }[] | undefined {
  if (!image) return undefined;
  return Object.values(decodeDeliveryStates(recordOf(image))).map((d) => ({ status: d.status as DeliveryStatus }));
}

/** The attributes of a record image the stream readers use, unmarshalled (the payload is left in the image). */
function recordOf(image: Image): Record<string, unknown> {
  const used = ['pk', messageAttribute('payload'), DELIVERIES_ATTRIBUTE].filter((name) => image[name] !== undefined);
  return unmarshall(Object.fromEntries(used.map((name) => [name, image[name]!])));
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
  const record = recordOf(image);
  const { payload } = decodeMessageFields(record);
  const found = new Set<string>();
  if (payload.kind === 'object') found.add(payload.key);
  for (const [connectionId, d] of Object.entries(decodeDeliveryStates(record) as Record<string, Partial<Delivery>>)) {
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
