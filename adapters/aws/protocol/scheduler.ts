import type { CreateScheduleInput, CreateScheduleOutput, DeleteScheduleInput, DeleteScheduleOutput } from '@aws-sdk/client-scheduler';
import { jsonServiceError } from './json-protocol';
import {
  commandFor,
  textOf,
  type EndpointContext,
  type Operation,
  type ServiceProtocol,
  type WireResponse,
  regionalHost,
} from './operation';

/**
 * EventBridge Scheduler over restJson1: the schedule's name is in the path, the group and
 * the idempotency token of a delete in the query, the rest of a create in a JSON body.
 * Its errors are JSON errors named by `X-Amzn-ErrorType` (or the body's `code`/`__type`).
 */
export const schedulerService: ServiceProtocol = { label: 'Scheduler', signingName: 'scheduler', error: jsonServiceError };

/** A path label as the SDK encodes it: everything but RFC 3986's unreserved characters. */
const label = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function scheduleUrl(name: string | undefined, context: EndpointContext): URL {
  if (!name) throw new Error('No value provided for input HTTP label: Name.');
  return new URL(`/schedules/${label(name)}`, context.endpoint ?? `https://${regionalHost('scheduler', context.region)}`);
}

/** restJson1's timestamps in a body are epoch seconds, milliseconds as the fraction (not the ISO string of `Date#toJSON`). */
const epochSeconds = (value: Date | undefined): number | undefined => value && value.getTime() / 1000;

/**
 * Filled when absent, as the SDK does. The client lays a request out once per send, so its
 * retries carry one token: a create whose answer was lost is not retried into a conflict.
 */
const idempotencyToken = (token: string | undefined): string => token ?? crypto.randomUUID();

const createSchedule: Operation<CreateScheduleInput, CreateScheduleOutput> = {
  service: schedulerService,
  name: 'CreateSchedule',
  serialize: ({ Name, StartDate, EndDate, ClientToken, ...body }, context) => ({
    method: 'POST',
    url: scheduleUrl(Name, context),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      ...body,
      StartDate: epochSeconds(StartDate),
      EndDate: epochSeconds(EndDate),
      ClientToken: idempotencyToken(ClientToken),
    }),
  }),
  deserialize: (response: WireResponse) => JSON.parse(textOf(response.body) || '{}') as CreateScheduleOutput,
};

const deleteSchedule: Operation<DeleteScheduleInput, DeleteScheduleOutput> = {
  service: schedulerService,
  name: 'DeleteSchedule',
  serialize: ({ Name, GroupName, ClientToken }, context) => {
    const url = scheduleUrl(Name, context);
    // Percent-encoded as the signature canonicalises it (URLSearchParams would write a space as '+').
    const query = GroupName === undefined ? [] : [`groupName=${label(GroupName)}`];
    url.search = [...query, `clientToken=${label(idempotencyToken(ClientToken))}`].join('&');
    return { method: 'DELETE', url, headers: {} };
  },
  deserialize: () => ({}),
};

export const CreateScheduleCommand = commandFor(createSchedule);
export const DeleteScheduleCommand = commandFor(deleteSchedule);
