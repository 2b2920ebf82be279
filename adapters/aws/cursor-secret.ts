import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, type DocumentClient } from './protocol/dynamodb-documents';
import type { CredentialSealer } from '../../core/ports';
import { isConditionFailure } from './dynamo-errors';

const KEY = { pk: 'SETTINGS', sk: 'CURSOR_SECRET' };
const CONTEXT = { purpose: 'cursor-secret' };

/**
 * The deployment's pagination-cursor secret: 32 random bytes made by the first container
 * that needs them, sealed with the deployment's credential sealer (KMS on AWS) and kept in
 * the table, so every container signs with the same key and nobody can derive it from the
 * deployment's resource names. A container opens it once (one read, one KMS Decrypt).
 */
export async function loadCursorSecret(documents: DocumentClient, tableName: string, sealer: CredentialSealer): Promise<Buffer> {
  const read = async () =>
    (await documents.send(new GetCommand({ TableName: tableName, Key: KEY, ConsistentRead: true }))).Item as { sealed: string } | undefined;
  const existing = await read();
  if (existing) return Buffer.from(await sealer.open(existing.sealed, CONTEXT), 'base64');
  const secret = randomBytes(32);
  const sealed = await sealer.seal(secret.toString('base64'), CONTEXT);
  try {
    await documents.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...KEY, sealed },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return secret;
  } catch (error) {
    // Another container made it first: use theirs.
    if (!isConditionFailure(error)) throw error;
    const winner = await read();
    if (!winner) throw error;
    return Buffer.from(await sealer.open(winner.sealed, CONTEXT), 'base64');
  }
}
