import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * One SQS FIFO batch, lane by lane, with partial batch responses. Modelled on
 * Powertools' `SqsFifoPartialProcessor` with `skipGroupOnError`: message groups (lanes)
 * run side by side; within a group records run strictly in order, and the first one that
 * cannot finish is reported failed together with everything behind it, so nothing
 * overtakes it. Unlike Powertools, the skipped followers are also given back at once
 * (visibility 0) instead of waiting out their visibility timeout, and records are not
 * started once the invocation's time budget is spent.
 */

export type RecordResult = 'delete' | 'keep';

export interface LaneBatchOptions {
  /** Handles one record; throwing is left to the caller (wrap it to decide). */
  process: (record: SQSRecord) => Promise<RecordResult>;
  /** Makes a record that is not handled now visible again at once; failures are ignored. */
  giveBack: (record: SQSRecord) => Promise<void>;
  /** True once no further record may be started (Lambda's remaining time). @default never */
  outOfTime?: () => boolean;
  /** Called when a record is kept: state the other lanes read (flow, connection) may have changed. */
  onKept?: () => void;
}

/** Groups records by message group, keeping their order within each group. */
export function lanesOf(records: SQSRecord[]): SQSRecord[][] {
  const lanes = new Map<string, SQSRecord[]>();
  for (const record of records) {
    const lane = record.attributes?.MessageGroupId ?? record.messageId;
    lanes.set(lane, [...(lanes.get(lane) ?? []), record]);
  }
  return [...lanes.values()];
}

export async function processLaneBatch(event: SQSEvent, options: LaneBatchOptions): Promise<SQSBatchResponse> {
  const failures: string[] = [];
  await Promise.all(
    lanesOf(event.Records).map(async (records) => {
      for (const [index, record] of records.entries()) {
        let result: RecordResult;
        if (options.outOfTime?.()) {
          await options.giveBack(record).catch(() => undefined);
          result = 'keep';
        } else {
          result = await options.process(record);
        }
        if (result === 'delete') continue;
        // Order: nothing behind a kept record in its lane may be attempted now.
        failures.push(record.messageId);
        for (const follower of records.slice(index + 1)) {
          failures.push(follower.messageId);
          await options.giveBack(follower).catch(() => undefined);
        }
        options.onKept?.();
        return;
      }
    }),
  );
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
}
