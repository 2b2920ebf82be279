import type { PutEventsRequest, PutEventsResponse } from '@aws-sdk/client-eventbridge';
import { jsonService } from './json-protocol';
import { commandFor, regionalHost } from './operation';

/** EventBridge over the AWS JSON 1.1 protocol. */
export const eventBridgeService = jsonService({
  label: 'EventBridge',
  signingName: 'events',
  host: (region) => regionalHost('events', region),
  version: '1.1',
  targetPrefix: 'AWSEvents',
});

export const PutEventsCommand = commandFor(eventBridgeService.operation<PutEventsRequest, PutEventsResponse>('PutEvents'));
