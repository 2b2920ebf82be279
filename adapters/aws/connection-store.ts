import { DeleteCommand, GetCommand, UpdateCommand, type DocumentClient } from './protocol/dynamodb-documents';
import { incrementCounter, queryAll, resetCounter } from './dynamo-query';
import { isConditionFailure } from './dynamo-errors';
import type { Connection, ConnectionAuth, ConnectionSettings } from '../../core/model';
import type { CredentialSealer } from '../../core/ports';
import { keys, listings, withoutKeys } from './keys';
import { TtlCache } from './ttl-cache';

/** A connection as stored: credentials sealed, only the auth type in clear. */
export type StoredConnection = Omit<Connection, 'auth' | 'signingSecret'> & {
  /** Set offline by an operator: not probed until set online by hand. */
  manualOffline?: boolean;
  authType: ConnectionAuth['type'];
  signed: boolean;
  /** Absent when there is nothing secret (auth `none`, no signing secret): no KMS call either way. */
  sealedSecrets?: string;
};

interface Secrets {
  auth: ConnectionAuth;
  signingSecret?: string;
}

function updateExpression(sets: string[], removes: string[]): string {
  return `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`;
}

/** A stored connection as the domain sees it: the parked lanes' number set as a sorted list. */
function storedOf(item: Record<string, unknown>): StoredConnection {
  const stored = withoutKeys<StoredConnection & { parkedLanes?: Iterable<number> }>(item);
  if (stored.parkedLanes === undefined) return stored;
  const lanes = [...stored.parkedLanes].map(Number).sort((a, b) => a - b);
  const { parkedLanes: _set, ...rest } = stored;
  return lanes.length > 0 ? { ...rest, parkedLanes: lanes } : rest;
}

const context = (connectionId: string) => ({ purpose: 'sluice-connection-credentials', connectionId });

/** Nothing to seal: no credentials and no signing secret. */
const hasSecrets = (secrets: Secrets) => secrets.auth.type !== 'none' || secrets.signingSecret !== undefined;

/** Opened secrets kept per container. @default 256 entries */
const OPENED_CACHE_SIZE = 256;

export class ConnectionStore {
  /**
   * Opened secrets by ciphertext (with its connection: the encryption context). A new
   * credential is a new ciphertext, so an entry can never be stale; decrypting once per
   * container instead of once per batch keeps KMS off the delivery path.
   */
  private readonly opened = new Map<string, string>();

  /** Connections read recently (ingest only: lane counts); every write through this store drops its entry. */
  private readonly recent: TtlCache<StoredConnection | undefined>;

  constructor(
    private readonly documents: DocumentClient,
    private readonly tableName: string,
    private readonly sealer: CredentialSealer,
    cacheMs = 0,
  ) {
    this.recent = new TtlCache(cacheMs);
  }

  /** `get`, reusing a recent read (see TtlCache): ingest's hot path. */
  getCached(connectionId: string): Promise<StoredConnection | undefined> {
    return this.recent.get(
      connectionId,
      () => this.get(connectionId),
      (c) => c !== undefined,
    );
  }

  private async seal(connectionId: string, secrets: Secrets): Promise<string | undefined> {
    return hasSecrets(secrets) ? this.sealer.seal(JSON.stringify(secrets), context(connectionId)) : undefined;
  }

  private async openSecrets(connectionId: string, sealed: string | undefined): Promise<Secrets> {
    if (!sealed) return { auth: { type: 'none' } };
    const cacheKey = `${connectionId}\n${sealed}`;
    let plaintext = this.opened.get(cacheKey);
    if (plaintext === undefined) {
      plaintext = await this.sealer.open(sealed, context(connectionId));
      if (this.opened.size >= OPENED_CACHE_SIZE) this.opened.delete(this.opened.keys().next().value!);
      this.opened.set(cacheKey, plaintext);
    }
    return JSON.parse(plaintext) as Secrets;
  }

  /** Creates or replaces a connection's settings; health state survives a replace. */
  async put(connectionId: string, settings: ConnectionSettings, now: Date): Promise<StoredConnection> {
    this.recent.delete(connectionId);
    const { auth, signingSecret, ...plain } = settings;
    const sealedSecrets = await this.seal(connectionId, { auth, ...(signingSecret !== undefined ? { signingSecret } : {}) });
    const at = now.toISOString();
    const values: Record<string, unknown> = {
      ...plain,
      connectionId,
      authType: auth.type,
      signed: signingSecret !== undefined,
      ...(sealedSecrets ? { sealedSecrets } : {}),
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
          `SET ${names.map((_n, i) => `#a${i} = :v${i}`).join(', ')}, ` +
          '#status = if_not_exists(#status, :online), statusSince = if_not_exists(statusSince, :at), ' +
          'createdAt = if_not_exists(createdAt, :at), consecutiveFailures = if_not_exists(consecutiveFailures, :zero)' +
          (sealedSecrets ? '' : ' REMOVE sealedSecrets'),
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
    return storedOf(Attributes!);
  }

  async get(connectionId: string, consistent = false): Promise<StoredConnection | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.connection(connectionId), ConsistentRead: consistent }),
    );
    return Item ? storedOf(Item) : undefined;
  }

  /** The connection with its credentials opened, for the deliverer and prober only. */
  async getWithSecrets(connectionId: string, consistent = false): Promise<Connection | undefined> {
    const stored = await this.get(connectionId, consistent);
    return stored ? this.open(stored) : undefined;
  }

  async open(stored: StoredConnection): Promise<Connection> {
    const { sealedSecrets, authType: _type, signed: _signed, ...rest } = stored;
    const secrets = await this.openSecrets(stored.connectionId, sealedSecrets);
    return { ...rest, auth: secrets.auth, ...(secrets.signingSecret ? { signingSecret: secrets.signingSecret } : {}) };
  }

  async list(): Promise<StoredConnection[]> {
    const items = await queryAll(this.documents, {
      TableName: this.tableName,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :p',
      ExpressionAttributeValues: { ':p': listings.connections },
    });
    return items.map(storedOf);
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
      return storedOf(Attributes!);
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
        UpdateExpression: `SET lastProbeAt = :at, statusReason = :reason${nextProbeAt ? ', nextProbeAt = :next' : ''}`,
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
    const sealedSecrets = await this.seal(connectionId, {
      auth,
      ...(current.signingSecret !== undefined ? { signingSecret: current.signingSecret } : {}),
    });
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.connection(connectionId),
        UpdateExpression: sealedSecrets
          ? 'SET sealedSecrets = :s, authType = :t, updatedAt = :at'
          : 'SET authType = :t, updatedAt = :at REMOVE sealedSecrets',
        ExpressionAttributeValues: { ...(sealedSecrets ? { ':s': sealedSecrets } : {}), ':t': auth.type, ':at': now.toISOString() },
      }),
    );
  }

  /** Deletes a connection; false when it did not exist. */
  async delete(connectionId: string): Promise<boolean> {
    this.recent.delete(connectionId);
    const { Attributes } = await this.documents.send(
      new DeleteCommand({ TableName: this.tableName, Key: keys.connection(connectionId), ReturnValues: 'ALL_OLD' }),
    );
    return Attributes !== undefined;
  }
}
