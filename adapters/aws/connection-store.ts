import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Connection, ConnectionAuth, ConnectionSettings } from '../../core/model';
import type { CredentialSealer } from '../../core/ports';
import { keys, listings, withoutKeys } from './keys';

/** A connection as stored: credentials sealed, only the auth type in clear. */
export type StoredConnection = Omit<Connection, 'auth' | 'signingSecret'> & {
  authType: ConnectionAuth['type'];
  signed: boolean;
  sealedSecrets: string;
};

interface Secrets {
  auth: ConnectionAuth;
  signingSecret?: string;
}

const context = (connectionId: string) => ({ purpose: 'sluice-connection-credentials', connectionId });

export class ConnectionStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly sealer: CredentialSealer,
  ) {}

  /** Creates or replaces a connection's settings; health state survives a replace. */
  async put(connectionId: string, settings: ConnectionSettings, now: Date): Promise<StoredConnection> {
    const { auth, signingSecret, ...plain } = settings;
    const sealedSecrets = await this.sealer.seal(JSON.stringify({ auth, signingSecret } satisfies Secrets), context(connectionId));
    const at = now.toISOString();
    const values: Record<string, unknown> = {
      ...plain,
      connectionId,
      authType: auth.type,
      signed: signingSecret !== undefined,
      sealedSecrets,
      updatedAt: at,
      gsi1pk: listings.connections,
      gsi1sk: connectionId,
    };
    const names = Object.keys(values);
    const { Attributes } = await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.connection(connectionId),
        UpdateExpression:
          `SET ${names.map((n, i) => `#a${i} = :v${i}`).join(', ')}, ` +
          '#status = if_not_exists(#status, :online), statusSince = if_not_exists(statusSince, :at), ' +
          'createdAt = if_not_exists(createdAt, :at), consecutiveFailures = if_not_exists(consecutiveFailures, :zero)',
        ExpressionAttributeNames: { ...Object.fromEntries(names.map((n, i) => [`#a${i}`, n])), '#status': 'status' },
        ExpressionAttributeValues: {
          ...Object.fromEntries(names.map((n, i) => [`:v${i}`, values[n]])),
          ':online': 'online',
          ':at': at,
          ':zero': 0,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return withoutKeys<StoredConnection>(Attributes!);
  }

  async get(connectionId: string, consistent = false): Promise<StoredConnection | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.connection(connectionId), ConsistentRead: consistent }),
    );
    return Item ? withoutKeys<StoredConnection>(Item) : undefined;
  }

  /** The connection with its credentials opened, for the deliverer and prober only. */
  async getWithSecrets(connectionId: string, consistent = false): Promise<Connection | undefined> {
    const stored = await this.get(connectionId, consistent);
    return stored ? this.open(stored) : undefined;
  }

  async open(stored: StoredConnection): Promise<Connection> {
    const { sealedSecrets, authType: _type, signed: _signed, ...rest } = stored;
    const secrets = JSON.parse(await this.sealer.open(sealedSecrets, context(stored.connectionId))) as Secrets;
    return { ...rest, auth: secrets.auth, ...(secrets.signingSecret ? { signingSecret: secrets.signingSecret } : {}) };
  }

  async list(): Promise<StoredConnection[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :p',
          ExpressionAttributeValues: { ':p': listings.connections },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items.map((item) => withoutKeys<StoredConnection>(item));
  }
}
