import { DeleteCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { incrementCounter, queryAll, resetCounter } from './dynamo-query';
import { isConditionFailure } from './dynamo-errors';
import type { Connection, ConnectionAuth, ConnectionSettings } from '../../core/model';
import type { CredentialSealer } from '../../core/ports';
import { keys, listings, withoutKeys } from './keys';

/** A connection as stored: credentials sealed, only the auth type in clear. */
export type StoredConnection = Omit<Connection, 'auth' | 'signingSecret'> & {
  /** Set offline by an operator: not probed until set online by hand. */
  manualOffline?: boolean;
  authType: ConnectionAuth['type'];
  signed: boolean;
  sealedSecrets: string;
};

interface Secrets {
  auth: ConnectionAuth;
  signingSecret?: string;
}

function updateExpression(sets: string[], removes: string[]): string {
  return `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`;
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
    const items = await queryAll(this.documents, {
      TableName: this.tableName,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :p',
      ExpressionAttributeValues: { ':p': listings.connections },
    });
    return items.map((item) => withoutKeys<StoredConnection>(item));
  }

  /** Counts one more consecutive connection error or timeout; returns the new streak. */
  async recordFailure(connectionId: string): Promise<number> {
    return incrementCounter(this.documents, this.tableName, keys.connection(connectionId), 'consecutiveFailures');
  }

  async resetFailures(connectionId: string): Promise<void> {
    await resetCounter(this.documents, this.tableName, keys.connection(connectionId), 'consecutiveFailures');
  }

  /**
   * Moves a connection to a new status. Returns the connection after the change, or
   * undefined when it was already in that status (so only one caller announces it).
   */
  async setStatus(
    connectionId: string,
    status: StoredConnection['status'],
    reason: string,
    now: Date,
    nextProbeAt?: Date,
    options: { manual?: boolean } = {},
  ): Promise<StoredConnection | undefined> {
    const manual = options.manual === true && status === 'offline';
    const sets = ['#status = :status', 'statusReason = :reason', 'statusSince = :at', 'updatedAt = :at'];
    const removes: string[] = [];
    if (status === 'online') {
      sets.push('consecutiveFailures = :zero');
      removes.push('nextProbeAt', 'heldBy', 'holdUntil', 'manualOffline');
    } else if (manual) {
      sets.push('manualOffline = :true');
      removes.push('nextProbeAt');
    } else {
      if (nextProbeAt) sets.push('nextProbeAt = :next');
      removes.push('manualOffline');
    }
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.connection(connectionId),
          UpdateExpression: updateExpression(sets, removes),
          // An operator may take an already-offline connection offline by hand (to stop probing).
          ConditionExpression: manual ? 'attribute_exists(pk)' : 'attribute_exists(pk) AND #status <> :status',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':status': status,
            ':reason': reason,
            ':at': now.toISOString(),
            ...(status === 'online' ? { ':zero': 0 } : {}),
            ...(status !== 'online' && !manual && nextProbeAt ? { ':next': nextProbeAt.toISOString() } : {}),
            ...(manual ? { ':true': true } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return withoutKeys<StoredConnection>(Attributes!);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** Records a probe and when the next one is due; the reason says what the probe saw. */
  async recordProbe(connectionId: string, at: Date, reason: string, nextProbeAt?: Date): Promise<void> {
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.connection(connectionId),
        UpdateExpression: 'SET lastProbeAt = :at, statusReason = :reason' + (nextProbeAt ? ', nextProbeAt = :next' : ''),
        ExpressionAttributeValues: {
          ':at': at.toISOString(),
          ':reason': reason,
          ...(nextProbeAt ? { ':next': nextProbeAt.toISOString() } : {}),
        },
      }),
    );
  }

  /** Replaces only the credentials (reauthorize). */
  async replaceAuth(connectionId: string, auth: ConnectionAuth, now: Date): Promise<void> {
    const current = await this.getWithSecrets(connectionId, true);
    if (!current) return;
    const sealedSecrets = await this.sealer.seal(
      JSON.stringify({ auth, signingSecret: current.signingSecret } satisfies Secrets),
      context(connectionId),
    );
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.connection(connectionId),
        UpdateExpression: 'SET sealedSecrets = :s, authType = :t, updatedAt = :at',
        ExpressionAttributeValues: { ':s': sealedSecrets, ':t': auth.type, ':at': now.toISOString() },
      }),
    );
  }

  /** Deletes a connection; false when it did not exist. */
  async delete(connectionId: string): Promise<boolean> {
    const { Attributes } = await this.documents.send(
      new DeleteCommand({ TableName: this.tableName, Key: keys.connection(connectionId), ReturnValues: 'ALL_OLD' }),
    );
    return Attributes !== undefined;
  }
}
