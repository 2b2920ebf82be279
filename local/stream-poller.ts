import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type Shard,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { readFileSync, writeFileSync } from 'node:fs';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';

/** The Lambda function the poller invokes, as a DynamoDB stream event source mapping would. */
export type StreamBatchHandler = (event: DynamoDBStreamEvent) => Promise<unknown>;

export interface LocalStreamPollerOptions {
  streams: DynamoDBStreamsClient;
  streamArn: string;
  handler: StreamBatchHandler;
  /**
   * Pause between polls of an idle stream: the batching window, as `maxBatchingWindow` is on
   * AWS, so the aggregator's writes are amortized over as many messages. @default 1000
   */
  intervalMs?: number;
  /** Records per invocation at most (the mapping's BatchSize). @default 100 */
  batchSize?: number;
  /**
   * Where the last handled sequence number of each shard is kept, so a restart on a kept
   * table reads on after it instead of from the start (which would count twice). @default none: from the start
   */
  checkpointFile?: string;
  /** Describe/read errors and a thrown handler (whose batch is retried). @default console.error */
  onError?: (error: unknown) => void;
  region?: string;
}

interface ShardCursor {
  shardId: string;
  iterator?: string;
  /** Records read but not yet handled successfully: retried before reading on. */
  pending: _Record[];
  closed: boolean;
  /** Closed, and the shard list was read again since, so its children are tracked. */
  childrenSeen?: boolean;
}

/**
 * Stands in for the Lambda event source mapping on the table's stream in local mode
 * (DynamoDB Local implements the Streams API): reads every shard from its start, in
 * order, parents before children, and hands the records to the handler in Lambda's
 * event shape. A batch whose handler throws is handed over again, as Lambda retries it.
 */
export class LocalStreamPoller {
  private readonly shards = new Map<string, ShardCursor>();
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private passes = 0;
  private lastPassFull = false;
  /** Passes run one at a time, whether from the loop or from `drain`. */
  private serial: Promise<unknown> = Promise.resolve();

  private readonly checkpoints: Record<string, string>;

  constructor(private readonly options: LocalStreamPollerOptions) {
    this.checkpoints = {};
    if (options.checkpointFile) {
      try {
        Object.assign(this.checkpoints, JSON.parse(readFileSync(options.checkpointFile, 'utf8')));
      } catch {
        /* no checkpoint yet: from the start */
      }
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let full = false;
      try {
        await this.pollOnce();
        full = this.lastPassFull;
      } catch (error) {
        (this.options.onError ?? console.error)(error);
      }
      // Like a batching window: wait between passes unless a shard had more than one batch.
      if (!full && this.running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.intervalMs ?? 1000);
          timer.unref?.();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  /** One pass over the shards; true when it handed records over (so the next pass follows at once). */
  pollOnce(): Promise<boolean> {
    const pass = this.serial.then(() => this.pass());
    this.serial = pass.catch(() => undefined);
    return pass;
  }

  /**
   * Hands over everything the stream holds now: the counts then reflect every write made
   * before the call. Tests await this instead of polling the counts.
   */
  async drain(): Promise<void> {
    while (await this.pollOnce()) {
      /* until a pass finds nothing new */
    }
  }

  private async pass(): Promise<boolean> {
    // Shards change rarely (a split, a closed shard): look for new ones now and then, not every pass.
    if (this.passes++ % 20 === 0 || [...this.shards.values()].some((c) => c.closed && c.pending.length === 0 && !c.childrenSeen)) {
      await this.refreshShards();
      for (const cursor of this.shards.values()) if (cursor.closed) cursor.childrenSeen = true;
    }
    let handled = false;
    this.lastPassFull = false;
    for (const cursor of this.shards.values()) {
      if (cursor.closed && cursor.pending.length === 0) continue;
      if (cursor.pending.length === 0 && cursor.iterator) {
        const page = await this.options.streams.send(
          new GetRecordsCommand({ ShardIterator: cursor.iterator, Limit: this.options.batchSize ?? 100 }),
        );
        cursor.pending = page.Records ?? [];
        if (cursor.pending.length >= (this.options.batchSize ?? 100)) this.lastPassFull = true;
        cursor.iterator = page.NextShardIterator;
        if (!cursor.iterator) cursor.closed = true;
      }
      if (cursor.pending.length === 0) continue;
      try {
        await this.options.handler({ Records: cursor.pending.map((r) => this.toRecord(r)) });
        const last = cursor.pending.at(-1)?.dynamodb?.SequenceNumber;
        cursor.pending = [];
        handled = true;
        if (last && this.options.checkpointFile) {
          this.checkpoints[cursor.shardId] = last;
          writeFileSync(this.options.checkpointFile, JSON.stringify(this.checkpoints));
        }
      } catch (error) {
        (this.options.onError ?? console.error)(error);
      }
    }
    return handled;
  }

  private async refreshShards(): Promise<void> {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const { StreamDescription } = await this.options.streams.send(
        new DescribeStreamCommand({ StreamArn: this.options.streamArn, ExclusiveStartShardId: start }),
      );
      shards.push(...(StreamDescription?.Shards ?? []));
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start);
    for (const shard of shards) {
      const shardId = shard.ShardId!;
      if (this.shards.has(shardId)) continue;
      // Order across a split: a child is read only once its parent is drained.
      const parent = shard.ParentShardId ? this.shards.get(shard.ParentShardId) : undefined;
      if (parent && !(parent.closed && parent.pending.length === 0)) continue;
      const after = this.checkpoints[shardId];
      const { ShardIterator } = await this.options.streams.send(
        new GetShardIteratorCommand({
          StreamArn: this.options.streamArn,
          ShardId: shardId,
          ...(after ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after } : { ShardIteratorType: 'TRIM_HORIZON' }),
        }),
      );
      this.shards.set(shardId, { shardId, iterator: ShardIterator, pending: [], closed: !ShardIterator });
    }
  }

  private toRecord(record: _Record): DynamoDBRecord {
    return {
      eventID: record.eventID,
      eventName: record.eventName as DynamoDBRecord['eventName'],
      eventVersion: record.eventVersion,
      eventSource: 'aws:dynamodb',
      awsRegion: this.options.region ?? record.awsRegion,
      eventSourceARN: this.options.streamArn,
      dynamodb: record.dynamodb as DynamoDBRecord['dynamodb'],
    };
  }
}
