import type { CreateScheduleInput, CreateScheduleOutput, DeleteScheduleInput, DeleteScheduleOutput } from '@aws-sdk/client-scheduler';
import { awsJson, jsonServiceError } from './json-protocol';
import {
  commandFor,
  escapeUri,
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

function scheduleUrl(name: string | undefined, context: EndpointContext): URL {
  if (!name) throw new Error('No value provided for input HTTP label: Name.');
  return new URL(`/schedules/${escapeUri(name)}`, context.endpoint ?? `https://${regionalHost('scheduler', context.region)}`);
}

/**
 * Filled when absent, as the SDK does. The client lays a request out once per send, so its
 * retries carry one token: a create whose answer was lost is not retried into a conflict.
 */
const idempotencyToken = (token: string | undefined): string => token ?? crypto.randomUUID();

const createSchedule: Operation<CreateScheduleInput, CreateScheduleOutput> = {
  service: schedulerService,
  name: 'CreateSchedule',
  serialize: ({ Name, ClientToken, ...body }, context) => ({
    method: 'POST',
    url: scheduleUrl(Name, context),
    headers: { 'content-type': 'application/json' },
    body: awsJson({ ...body, ClientToken: idempotencyToken(ClientToken) }),
  }),
  deserialize: (response: WireResponse) => JSON.parse(textOf(response.body) || '{}') as CreateScheduleOutput,
};

const deleteSchedule: Operation<DeleteScheduleInput, DeleteScheduleOutput> = {
  service: schedulerService,
  name: 'DeleteSchedule',
  serialize: ({ Name, GroupName, ClientToken }, context) => {
    const url = scheduleUrl(Name, context);
    // Percent-encoded as the signature canonicalises it (URLSearchParams would write a space as '+').
    const query = GroupName === undefined ? [] : [`groupName=${escapeUri(GroupName)}`];
    url.search = [...query, `clientToken=${escapeUri(idempotencyToken(ClientToken))}`].join('&');
    return { method: 'DELETE', url, headers: {} };
  },
  deserialize: () => ({}),
};

export const CreateScheduleCommand = commandFor(createSchedule);
export const DeleteScheduleCommand = commandFor(deleteSchedule);
