import { randomBytes } from 'node:crypto';
import { PutCommand, QueryCommand, TransactWriteCommand, type DocumentClient } from './protocol/dynamodb-documents';

/** One operator action: who did what to which target, and when. Never carries secrets. */
export interface AuditEntry {
  at: string;
  /** The caller: the IAM principal on AWS, the local operator in local mode. */
  principal: string;
  /** e.g. `failed-event.restart`, `failed-event.download-url`. */
  action: string;
  /** What it was done to, e.g. a failed event id or a bulk filter. */
  target: string;
  /** A short, secret-free outcome, e.g. `restarted 1000, skipped 0`. */
  detail?: string;
}

/** Further puts written atomically with an audit item (e.g. an execution-report entry). */
export interface PutRequest {
  TableName: string;
  Item: Record<string, unknown>;
}

/** The audit trail: one partition per UTC day, items in time order. */
export class AuditStore {
  constructor(
    private readonly documents: DocumentClient,
    private readonly tableName: string,
  ) {}

  static partition(at: string): string {
    return `AUDIT#${at.slice(0, 10)}`;
  }

  /** The table item of an entry, to commit with other writes (`DeliveryChange.alsoPut`). */
  item(entry: AuditEntry): Record<string, unknown> {
    return { pk: AuditStore.partition(entry.at), sk: `${entry.at}#${randomBytes(6).toString('hex')}`, ...entry };
  }

  /** Writes an entry, atomically with `alsoPut` when given. */
  async record(entry: AuditEntry, alsoPut: PutRequest[] = []): Promise<void> {
    const item = this.item(entry);
    if (alsoPut.length === 0) {
      await this.documents.send(new PutCommand({ TableName: this.tableName, Item: item }));
      return;
    }
    await this.documents.send(
      new TransactWriteCommand({
        TransactItems: [{ Put: { TableName: this.tableName, Item: item } }, ...alsoPut.map((put) => ({ Put: put }))],
      }),
    );
  }

  /** One day's entries (`yyyy-mm-dd`), oldest first. */
  async list(day: string, limit = 1000): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': `AUDIT#${day}` },
          Limit: limit - entries.length,
          ExclusiveStartKey: start,
        }),
      );
      for (const { pk: _pk, sk: _sk, ...entry } of page.Items ?? []) entries.push(entry as AuditEntry);
      start = page.LastEvaluatedKey;
    } while (start && entries.length < limit);
    return entries;
  }
}
