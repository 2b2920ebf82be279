import * as z from 'zod';
import { parseRfc3339 } from '../../core/identifiers';
import { decodeCursor, encodeCursor } from '../../adapters/aws/keys';
import { MAX_PRESIGN_SECONDS } from '../../adapters/aws/presigner';
import type { Runtime } from '../../adapters/runtime';
import {
  bulkRestart,
  countBulkRestart,
  discardFailedEvent,
  getFailedEvent,
  issueDownloadUrl,
  issueUploadUrl,
  listFailedEvents,
  recoverFailedEvent,
  restartFailedEvent,
} from '../../services/repair';
import { fail, jsonResponse, type HttpRequest } from '../http';
import type { Route } from '../router';
import { FailureTypeSchema, ListQuery, ResourceId, Rfc3339 } from '../schemas';
import { validateBody, validateQuery, validateValue } from '../validation';
import { cursorCodec } from '../cursors';

const FailedEventsQuery = ListQuery.extend({
  flowId: ResourceId.optional(),
  connectionId: ResourceId.optional(),
  type: FailureTypeSchema.optional(),
});

export const BulkRestartBody = z
  .object({
    flowId: ResourceId.optional(),
    connectionId: ResourceId.optional(),
    type: FailureTypeSchema.optional(),
    since: Rfc3339.optional().meta({ description: 'Only events that failed at or after this time.' }),
    until: Rfc3339.optional().meta({ description: 'Only events that failed at or before this time.' }),
    dryRun: z.boolean().optional().meta({ description: 'Count the events a restart would take up (200 `{ matched }`); nothing changes.' }),
  })
  .strict()
  .refine((body) => !body.since || !body.until || parseRfc3339(body.since)! <= parseRfc3339(body.until)!, {
    message: 'since must not be after until',
    path: ['since'],
  });

/** Optional body of download-url and upload-url. */
export const PresignBody = z.object({ expiresInSeconds: z.number().int().min(1).max(MAX_PRESIGN_SECONDS).optional() }).strict();

/** Optional body of restart: the sha256 the operator expects the uploaded correction to have. */
export const RestartBody = z
  .object({
    sha256: z
      .string()
      .regex(/^[a-f0-9]{64}$/, 'must be a lower-case hex sha256')
      .optional(),
  })
  .strict();

/** An optional JSON body: absent is `{}`. */
function optionalBody<S extends z.ZodType>(schema: S, request: HttpRequest): z.infer<S> {
  return request.body.length === 0 ? validateValue(schema, {}, 'body') : validateBody(schema, request);
}

async function list(runtime: Runtime, request: HttpRequest) {
  const query = validateQuery(FailedEventsQuery, request);
  const listing = { name: 'failed-events', params: { flowId: query.flowId, connectionId: query.connectionId, type: query.type } };
  const codec = await cursorCodec(runtime);
  const startKey = decodeCursor(codec.open(listing, query.cursor));
  // Belt and braces: even an issued cursor must name a key of the index this filter reads.
  if (query.cursor && (!startKey || !runtime.deliveries.isFailedIndexKey(startKey, query.flowId))) {
    fail('invalid-query', 'Invalid query: cursor: not a cursor of this listing (keep the same filters when paging).');
  }
  const page = await listFailedEvents(
    runtime,
    {
      ...(query.flowId ? { flowId: query.flowId } : {}),
      ...(query.connectionId ? { connectionId: query.connectionId } : {}),
      ...(query.type ? { type: query.type } : {}),
    },
    { limit: query.limit, ...(startKey ? { startKey } : {}) },
  );
  return jsonResponse(200, { items: page.items, cursor: codec.seal(listing, encodeCursor(page.lastKey)) });
}

export function failedEventRoutes(runtime: Runtime): Route[] {
  return [
    { method: 'GET', path: '/v1/failed-events', handler: (req) => list(runtime, req) },
    {
      method: 'POST',
      path: '/v1/failed-events/restart',
      handler: async (req) => {
        const { since, until, dryRun, ...filter } = validateBody(BulkRestartBody, req);
        const window = { ...(since ? { since: parseRfc3339(since)! } : {}), ...(until ? { until: parseRfc3339(until)! } : {}) };
        if (dryRun) return jsonResponse(200, await countBulkRestart(runtime, filter, window));
        return jsonResponse(202, await bulkRestart(runtime, filter, req.principal, window));
      },
    },
    { method: 'GET', path: '/v1/failed-events/{id}', handler: async (_req, p) => jsonResponse(200, await getFailedEvent(runtime, p.id!)) },
    {
      method: 'POST',
      path: '/v1/failed-events/{id}/download-url',
      handler: async (req, p) => {
        const { expiresInSeconds } = optionalBody(PresignBody, req);
        return jsonResponse(200, await issueDownloadUrl(runtime, p.id!, req.principal, expiresInSeconds));
      },
    },
    {
      method: 'POST',
      path: '/v1/failed-events/{id}/upload-url',
      handler: async (req, p) => {
        const { expiresInSeconds } = optionalBody(PresignBody, req);
        return jsonResponse(200, await issueUploadUrl(runtime, p.id!, req.principal, expiresInSeconds));
      },
    },
    {
      method: 'POST',
      path: '/v1/failed-events/{id}/restart',
      handler: async (req, p) => {
        const { sha256 } = optionalBody(RestartBody, req);
        return jsonResponse(202, await restartFailedEvent(runtime, p.id!, req.principal, sha256 ? { expectedSha256: sha256 } : {}));
      },
    },
    {
      method: 'POST',
      path: '/v1/failed-events/{id}/recover',
      handler: async (req, p) => jsonResponse(202, await recoverFailedEvent(runtime, p.id!, req.principal)),
    },
    {
      method: 'POST',
      path: '/v1/failed-events/{id}/discard',
      handler: async (req, p) => jsonResponse(200, await discardFailedEvent(runtime, p.id!, req.principal)),
    },
  ];
}
