import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DeleteCommand, GetCommand, QueryCommand, TransactWriteCommand, type DocumentClient } from './protocol/dynamodb-documents';
import type { Partner } from '../../core/model';
import { isConditionFailure } from './dynamo-errors';
import { TtlCache } from './ttl-cache';
import { keys, listings, withoutKeys } from './keys';

export class PartnerExistsError extends Error {
  constructor(partnerId: string) {
    super(`partner ${partnerId} already exists`);
    this.name = 'PartnerExistsError';
  }
}

export class UnknownPartnerError extends Error {
  constructor(partnerId: string) {
    super(`partner ${partnerId} does not exist`);
    this.name = 'UnknownPartnerError';
  }
}

/** API keys: 256 random bits, shown once; only their SHA-256 is stored. */
export function generateApiKey(): string {
  return `sluice_${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

interface PartnerItem extends Partner {
  keyHash: string;
}

export class PartnerStore {
  /** Keys seen valid recently (ingest only); a rotation in this process drops them at once. */
  private readonly validKeys: TtlCache<string | undefined>;

  constructor(
    private readonly documents: DocumentClient,
    private readonly tableName: string,
    cacheMs = 0,
  ) {
    this.validKeys = new TtlCache(cacheMs);
  }

  /** Creates a partner with its first key; returns the key (the only time it exists in clear). */
  async create(partner: Partner): Promise<string> {
    const apiKey = generateApiKey();
    const keyHash = hashApiKey(apiKey);
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...keys.partner(partner.partnerId), gsi1pk: listings.partners, gsi1sk: partner.partnerId, ...partner, keyHash },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: { TableName: this.tableName, Item: { ...keys.apiKey(keyHash), partnerId: partner.partnerId, keyHash } } },
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new PartnerExistsError(partner.partnerId);
      throw error;
    }
    return apiKey;
  }

  async get(partnerId: string): Promise<Partner | undefined> {
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.tableName, Key: keys.partner(partnerId) }));
    if (!Item) return undefined;
    const { keyHash: _secret, ...partner } = withoutKeys<PartnerItem>(Item);
    return partner;
  }

  async list(): Promise<Partner[]> {
    const { Items = [] } = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': listings.partners },
      }),
    );
    return Items.map((item) => {
      const { keyHash: _secret, ...partner } = withoutKeys<PartnerItem>(item);
      return partner;
    });
  }

  /** Replaces the partner's key: the old one stops working at once. */
  async rotateKey(partnerId: string): Promise<string> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.partner(partnerId), ConsistentRead: true }),
    );
    if (!Item) throw new UnknownPartnerError(partnerId);
    const oldHash = (Item as PartnerItem).keyHash;
    const apiKey = generateApiKey();
    const keyHash = hashApiKey(apiKey);
    await this.documents.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: this.tableName,
              Key: keys.partner(partnerId),
              UpdateExpression: 'SET keyHash = :new',
              ConditionExpression: 'keyHash = :old',
              ExpressionAttributeValues: { ':new': keyHash, ':old': oldHash },
            },
          },
          { Delete: { TableName: this.tableName, Key: keys.apiKey(oldHash) } },
          { Put: { TableName: this.tableName, Item: { ...keys.apiKey(keyHash), partnerId, keyHash } } },
        ],
      }),
    );
    this.validKeys.clear();
    return apiKey;
  }

  /** `authenticate`, reusing a recent positive answer (see TtlCache): ingest's hot path. */
  authenticateCached(apiKey: string): Promise<string | undefined> {
    return this.validKeys.get(
      hashApiKey(apiKey),
      () => this.authenticate(apiKey),
      (partnerId) => partnerId !== undefined,
    );
  }

  /** The partner a presented key belongs to, or undefined. The stored hash is compared in constant time. */
  async authenticate(apiKey: string): Promise<string | undefined> {
    const presented = hashApiKey(apiKey);
    const { Item } = await this.documents.send(new GetCommand({ TableName: this.tableName, Key: keys.apiKey(presented) }));
    if (!Item) return undefined;
    const stored = Buffer.from(String(Item.keyHash), 'hex');
    const candidate = Buffer.from(presented, 'hex');
    return stored.length === candidate.length && timingSafeEqual(stored, candidate) ? String(Item.partnerId) : undefined;
  }

  /** Deletes a partner and its key; false when it did not exist. */
  async delete(partnerId: string): Promise<boolean> {
    this.validKeys.clear();
    const { Attributes } = await this.documents.send(
      new DeleteCommand({ TableName: this.tableName, Key: keys.partner(partnerId), ReturnValues: 'ALL_OLD' }),
    );
    if (!Attributes) return false;
    if (typeof Attributes.keyHash === 'string') {
      await this.documents.send(new DeleteCommand({ TableName: this.tableName, Key: keys.apiKey(Attributes.keyHash) }));
    }
    return true;
  }
}
