import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DocumentClient,
} from './protocol/dynamodb-documents';
import { mapLimit } from '../../core/concurrency';
import { acceptancePosition, type LaneState, type ParkedEntry } from '../../core/parking';
import { isConditionFailure, isTransactionConflict } from './dynamo-errors';
import { queryAll } from './dynamo-query';
import { keys, withoutKeys } from './keys';

/**
 * Lane parking state (core/parking.ts) in the single table: per lane one `STATE` item and
 * one entry per parked delivery, in one partition (`LANE#{connectionId}#{lane}`) so both
 * read strongly consistently in acceptance order. The connection record lists the lanes
 * that are not open (`parkedLanes`), so the deliverer, which reads the connection anyway,
 * reads a lane's state only while it is parked or releasing.
 */

/** A lane changed under a step (a park, a release round): read it again and decide again. */
export class LaneMovedError extends Error {
  constructor(connectionId: string, lane: number) {
    super(`lane ${lane} of ${connectionId} changed concurrently`);
    this.name = 'LaneMovedError';
  }
}

const TRANSACT_TRIES = 5;

async function retryConflicts<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!isTransactionConflict(error) || attempt >= TRANSACT_TRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
    }
  }
}

/** Which item of a cancelled transaction failed its condition. */
function failedItem(error: unknown): number {
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.findIndex((reason) => reason.Code === 'ConditionalCheckFailed');
}

/** Expression names for lane attributes (several are, or may become, reserved words). */
function names(...attributes: string[]): Record<string, string> {
  return Object.fromEntries(attributes.map((a) => [`#${a}`, a]));
}

const NAMES = names('connectionId', 'lane', 'mode', 'epoch', 'round', 'parks', 'since', 'through', 'sentParks', 'roundAt');

function stateOf(item: Record<string, unknown>): LaneState {
  return withoutKeys<LaneState>(item);
}

export class LaneStore {
  constructor(
    private readonly documents: DocumentClient,
    private readonly tableName: string,
  ) {}

  async get(connectionId: string, lane: number): Promise<LaneState | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.laneState(connectionId, lane), ConsistentRead: true }),
    );
    return Item ? stateOf(Item) : undefined;
  }

  /**
   * Parks a lane under a new epoch (from any mode: a parked or releasing lane is parked
   * again) and lists it on its connection. Undefined when the connection does not exist.
   */
  async park(connectionId: string, lane: number, at: Date): Promise<LaneState | undefined> {
    try {
      await retryConflicts(() =>
        this.documents.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tableName,
                  Key: keys.laneState(connectionId, lane),
                  UpdateExpression:
                    'SET #connectionId = :c, #lane = :l, #mode = :parked, #epoch = if_not_exists(#epoch, :zero) + :one, ' +
                    '#round = if_not_exists(#round, :zero) + :one, #parks = if_not_exists(#parks, :zero), #since = :at ' +
                    'REMOVE #through, #sentParks, #roundAt',
                  ExpressionAttributeNames: NAMES,
                  ExpressionAttributeValues: {
                    ':c': connectionId,
                    ':l': lane,
                    ':parked': 'parked',
                    ':zero': 0,
                    ':one': 1,
                    ':at': at.toISOString(),
                  },
                },
              },
              {
                Update: {
                  TableName: this.tableName,
                  Key: keys.connection(connectionId),
                  UpdateExpression: 'ADD parkedLanes :lane',
                  ConditionExpression: 'attribute_exists(pk)',
                  ExpressionAttributeValues: { ':lane': new Set([lane]) },
                },
              },
            ],
          }),
        ),
      );
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
    return this.get(connectionId, lane);
  }

  /**
   * Takes one delivery into a lane that is still in `state`'s epoch and round (entries
   * are keyed by acceptance position: parking one again replaces its entry). Throws
   * LaneMovedError when the lane was parked again, released a round, or opened meanwhile.
   */
  async addEntry(state: LaneState, entry: Omit<ParkedEntry, 'round'>): Promise<void> {
    const position = acceptancePosition(entry);
    try {
      await retryConflicts(() =>
        this.documents.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.tableName,
                  Item: { ...keys.parkedEntry(state.connectionId, state.lane, position), ...entry, round: state.round },
                },
              },
              {
                Update: {
                  TableName: this.tableName,
                  Key: keys.laneState(state.connectionId, state.lane),
                  UpdateExpression: 'ADD #parks :one',
                  ConditionExpression: '#epoch = :e AND #round = :r AND #mode <> :open',
                  ExpressionAttributeNames: names('parks', 'epoch', 'round', 'mode'),
                  ExpressionAttributeValues: { ':one': 1, ':e': state.epoch, ':r': state.round, ':open': 'open' },
                },
              },
            ],
          }),
        ),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new LaneMovedError(state.connectionId, state.lane);
      throw error;
    }
  }

  /** The lane's parked deliveries, in acceptance order. */
  async entries(connectionId: string, lane: number): Promise<ParkedEntry[]> {
    const items = await queryAll(this.documents, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':p': keys.lanePartition(connectionId, lane), ':prefix': keys.parkedPrefix },
      ConsistentRead: true,
    });
    return items.map((item) => withoutKeys<ParkedEntry>(item));
  }

  /**
   * Starts a release round: the lane is `releasing` under its epoch, in a new round, up to
   * `through`. Only if nothing was parked since `state` was read; undefined otherwise.
   */
  async beginRound(state: LaneState, through: string, at: Date): Promise<LaneState | undefined> {
    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.laneState(state.connectionId, state.lane),
          UpdateExpression: 'SET #mode = :releasing, #round = :next, #through = :through, #sentParks = :p, #roundAt = :at',
          ConditionExpression: '#epoch = :e AND #round = :r AND #parks = :p',
          ExpressionAttributeNames: names('mode', 'round', 'through', 'sentParks', 'roundAt', 'epoch', 'parks'),
          ExpressionAttributeValues: {
            ':releasing': 'releasing',
            ':next': state.round + 1,
            ':through': through,
            ':p': state.parks,
            ':at': at.toISOString(),
            ':e': state.epoch,
            ':r': state.round,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return stateOf(Attributes!);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** Marks a round as sent again now (the sweep's repair of a round whose sends were lost). */
  async touchRound(state: LaneState, at: Date): Promise<void> {
    await this.documents
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.laneState(state.connectionId, state.lane),
          UpdateExpression: 'SET #roundAt = :at',
          ConditionExpression: '#epoch = :e AND #round = :r',
          ExpressionAttributeNames: names('roundAt', 'epoch', 'round'),
          ExpressionAttributeValues: { ':at': at.toISOString(), ':e': state.epoch, ':r': state.round },
        }),
      )
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  /**
   * Opens the lane (its epoch is kept, so tickets of earlier releases stay older than the
   * next park's), only if nothing was parked since `state` was read, and takes it off its
   * connection's list. False when something was.
   */
  async open(state: LaneState): Promise<boolean> {
    const update = {
      TableName: this.tableName,
      Key: keys.laneState(state.connectionId, state.lane),
      UpdateExpression: 'SET #mode = :open REMOVE #through, #sentParks, #roundAt, #since',
      ConditionExpression: '#epoch = :e AND #round = :r AND #parks = :p',
      ExpressionAttributeNames: names('mode', 'through', 'sentParks', 'roundAt', 'since', 'epoch', 'round', 'parks'),
      ExpressionAttributeValues: { ':open': 'open', ':e': state.epoch, ':r': state.round, ':p': state.parks },
    };
    try {
      await retryConflicts(() =>
        this.documents.send(
          new TransactWriteCommand({
            TransactItems: [
              { Update: update },
              {
                Update: {
                  TableName: this.tableName,
                  Key: keys.connection(state.connectionId),
                  UpdateExpression: 'DELETE parkedLanes :lane',
                  ConditionExpression: 'attribute_exists(pk)',
                  ExpressionAttributeValues: { ':lane': new Set([state.lane]) },
                },
              },
            ],
          }),
        ),
      );
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      if (failedItem(error) !== 1) return false;
    }
    // The connection is gone: open the lane alone.
    try {
      await this.documents.send(new UpdateCommand(update));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Removes entries whose tickets were sent, unless parked again in a later round meanwhile. */
  async removeEntries(entries: ParkedEntry[]): Promise<void> {
    await mapLimit(entries, 16, (entry) =>
      this.documents
        .send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: keys.parkedEntry(entry.connectionId, entry.lane, acceptancePosition(entry)),
            ConditionExpression: '#round = :r',
            ExpressionAttributeNames: { '#round': 'round' },
            ExpressionAttributeValues: { ':r': entry.round },
          }),
        )
        .catch((error) => {
          if (!isConditionFailure(error)) throw error;
        }),
    );
  }

  /** The queue generation the table's tickets were last reconciled with, if any. */
  async queueGeneration(): Promise<string | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: keys.queueGeneration, ConsistentRead: true }),
    );
    return Item ? String(Item.generation) : undefined;
  }

  async setQueueGeneration(generation: string, at: Date): Promise<void> {
    await this.documents.send(
      new PutCommand({ TableName: this.tableName, Item: { ...keys.queueGeneration, generation, reconciledAt: at.toISOString() } }),
    );
  }
}
