import type { QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { QueryCommand, UpdateCommand, type DocumentClient } from './protocol/dynamodb-documents';
import { isConditionFailure } from './dynamo-errors';

/** Every item a query matches, following DynamoDB's pages. */
export async function queryAll(
  documents: DocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey'>,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Sets a counter attribute back to zero, writing only when it is above zero. */
export async function resetCounter(
  documents: DocumentClient,
  tableName: string,
  key: Record<string, string>,
  attribute: string,
): Promise<void> {
  await documents
    .send(
      new UpdateCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: 'SET #counter = :zero',
        ConditionExpression: '#counter > :zero',
        ExpressionAttributeNames: { '#counter': attribute },
        ExpressionAttributeValues: { ':zero': 0 },
      }),
    )
    .catch((error) => {
      if (!isConditionFailure(error)) throw error;
    });
}

/** Adds one to a counter attribute of an existing item; returns the new value. */
export async function incrementCounter(
  documents: DocumentClient,
  tableName: string,
  key: Record<string, string>,
  attribute: string,
): Promise<number> {
  const { Attributes } = await documents.send(
    new UpdateCommand({
      TableName: tableName,
      Key: key,
      UpdateExpression: 'ADD #counter :one',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#counter': attribute },
      ExpressionAttributeValues: { ':one': 1 },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  return Number(Attributes?.[attribute] ?? 0);
}
