import type { PutEventsRequest, PutEventsResponse } from '@aws-sdk/client-eventbridge';
import { jsonService } from './json-protocol';
import { commandFor, regionalHost, type Operation } from './operation';

/** EventBridge over the AWS JSON 1.1 protocol. */
export const eventBridgeService = jsonService({
  label: 'EventBridge',
  signingName: 'events',
  host: (region) => regionalHost('events', region),
  version: '1.1',
  targetPrefix: 'AWSEvents',
});

const putEvents = eventBridgeService.operation<unknown, PutEventsResponse>('PutEvents');

/** The AWS JSON protocol's timestamps are epoch seconds (milliseconds as the fraction), not the ISO string of `Date#toJSON`. */
const putEventsOperation: Operation<PutEventsRequest, PutEventsResponse> = {
  ...putEvents,
  serialize: (input, context) =>
    putEvents.serialize(
      {
        ...input,
        Entries: input.Entries?.map((entry) => ({ ...entry, Time: entry.Time instanceof Date ? entry.Time.getTime() / 1000 : entry.Time })),
      },
      context,
    ),
};

export const PutEventsCommand = commandFor(putEventsOperation);
