import * as z from 'zod/mini';
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
import type { Components, DocumentedRoute, OperationDoc } from '../router';
import { FailureTypeSchema, ListQuery, MessageId, ResourceId, Rfc3339 } from '../schemas';
import { validateBody, validateQuery, validateValue } from '../validation';
import { cursorCodec } from '../cursors';
import { Count, Cursor, DeliveryError, DeliveryStatusSchema, FailedEventId, Sha256, Timestamp } from '../view-schemas';

const FailedEventsQuery = z.extend(ListQuery, {
  flowId: z.optional(ResourceId),
  connectionId: z.optional(ResourceId),
  type: z.optional(FailureTypeSchema),
});

export const BulkRestartBody = z
  .strictObject({
    flowId: z.optional(ResourceId),
    connectionId: z.optional(ResourceId),
    type: z.optional(FailureTypeSchema),
    since: z.optional(Rfc3339).check(z.meta({ description: 'Only events that failed at or after this time.' })),
    until: z.optional(Rfc3339).check(z.meta({ description: 'Only events that failed at or before this time.' })),
    dryRun: z
      .optional(z.boolean())
      .check(z.meta({ description: 'Count the events a restart would take up (200 `{ matched }`); nothing changes.' })),
  })
  .check(
    z.refine((body) => !body.since || !body.until || parseRfc3339(body.since)! <= parseRfc3339(body.until)!, {
      message: 'since must not be after until',
      path: ['since'],
    }),
  );

/** Optional body of download-url and upload-url. */
export const PresignBody = z.strictObject({ expiresInSeconds: z.optional(z.int().check(z.minimum(1), z.maximum(MAX_PRESIGN_SECONDS))) });

/** Optional body of restart: the sha256 the operator expects the uploaded correction to have. */
export const RestartBody = z.strictObject({
  sha256: z.optional(z.string().check(z.regex(/^[a-f0-9]{64}$/, 'must be a lower-case hex sha256'))),
});

/**
 * OpenAPI components: the failed event (`failedEventView` in services/repair.ts), the answers of its
 * actions and their bodies. A function the generator calls once: the operator function never checks
 * its own answers, so its cold start does not build these schemas.
 */
export function failedEventComponents(): Components {
  const FailedEvent = z.looseObject({
    id: FailedEventId,
    flowId: ResourceId,
    messageId: MessageId,
    partnerId: z.string(),
    connectionId: ResourceId,
    status: DeliveryStatusSchema.check(z.meta({ description: '`failed` or `inError` while open; the new status after an action.' })),
    type: FailureTypeSchema,
    suggestedAction: z.string(),
    error: DeliveryError,
    attempts: Count.check(z.meta({ description: 'Requests sent to the target, across restarts (the last `x-sluice-attempt`).' })),
    attemptsSinceRestart: Count.check(
      z.meta({ description: 'Requests since the last operator restart; equal to `attempts` if never restarted.' }),
    ),
    failedAt: Timestamp,
    suspendedCount: Count.check(z.meta({ description: 'Later messages of its chain suspended behind it.' })),
    payload: z.looseObject({
      bytes: Count,
      contentType: z.string(),
      sha256: Sha256,
      corrected: z.boolean().check(
        z.meta({
          description:
            'The payload shown is an operator correction: uploaded (and used by the next restart) or already applied. bytes, contentType and sha256 describe it, as the download URL serves it.',
        }),
      ),
    }),
  });
  const FailedEventPage = z.looseObject({ items: z.array(FailedEvent), cursor: Cursor });
  const BulkRestartMatched = z.looseObject({
    matched: Count.check(z.meta({ description: '`dryRun`: the failed events a restart with this body would take up now.' })),
  });
  const BulkRestartResult = z.looseObject({
    restarted: Count,
    skipped: Count.check(z.meta({ description: 'Events whose uploaded correction was invalid (the upload was removed).' })),
  });
  const DownloadUrl = z.looseObject({
    url: z
      .string()
      .check(z.meta({ format: 'uri', description: 'Presigned GET of exactly one object: the corrected payload once uploaded.' })),
    expiresAt: Timestamp.check(z.meta({ description: 'At most 15 minutes after issue.' })),
  });
  const UploadUrl = z.looseObject({
    url: z.string().check(z.meta({ format: 'uri' })),
    method: z.enum(['PUT', 'POST']).check(z.meta({ description: '`PUT` the bytes; with `POST`, send `fields` as a multipart form.' })),
    fields: z.optional(z.record(z.string(), z.string())),
    expiresAt: Timestamp.check(z.meta({ description: 'At most 15 minutes after issue.' })),
    maxBytes: z.int().check(z.minimum(1), z.meta({ description: "The flow's payload limit; larger uploads are refused on restart." })),
  });

  return {
    requests: { BulkRestartRequest: BulkRestartBody, PresignRequest: PresignBody, RestartRequest: RestartBody },
    responses: { FailedEvent, FailedEventPage, BulkRestartResult, BulkRestartMatched, DownloadUrl, UploadUrl },
  };
}

/** An optional JSON body: absent is `{}`. */
function optionalBody<S extends z.ZodMiniType>(schema: S, request: HttpRequest): z.infer<S> {
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

/** The actions on one failed event: they answer its problems and take an optional JSON body or none. */
function actionDoc(doc: Pick<OperationDoc, 'operationId' | 'summary' | 'description' | 'responses'> & { body?: string }): OperationDoc {
  const { body, ...rest } = doc;
  return {
    ...rest,
    ...(body ? { body: { schema: body, required: false } } : {}),
    errors: [...(body ? (['invalid-body'] as const) : []), 'not-found', 'conflict'],
  };
}

export function failedEventRoutes(runtime: Runtime): DocumentedRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/failed-events',
      handler: (req) => list(runtime, req),
      doc: {
        operationId: 'listFailedEvents',
        summary: 'List failed events',
        description: 'Deliveries that are `failed` or `inError`. Keep the same filters when paging: a cursor is bound to its listing.',
        query: FailedEventsQuery,
        responses: { 200: { description: 'One page of failed events.', schema: 'FailedEventPage' } },
        errors: ['invalid-query'],
      },
    },
    {
      method: 'POST',
      path: '/v1/failed-events/restart',
      handler: async (req) => {
        const { since, until, dryRun, ...filter } = validateBody(BulkRestartBody, req);
        const window = { ...(since ? { since: parseRfc3339(since)! } : {}), ...(until ? { until: parseRfc3339(until)! } : {}) };
        if (dryRun) return jsonResponse(200, await countBulkRestart(runtime, filter, window));
        return jsonResponse(202, await bulkRestart(runtime, filter, req.principal, window));
      },
      doc: {
        operationId: 'restartFailedEvents',
        summary: 'Restart failed events in bulk',
        description:
          'Restarts every `failed` event matching the filter that failed before the call began, each with its corrected payload when one was uploaded.',
        body: {
          schema: 'BulkRestartRequest',
          required: true,
          description: '`{}` restarts every failed event; `since`/`until` bound `failedAt` (inclusive); `dryRun: true` only counts.',
        },
        responses: {
          200: { description: '`dryRun`: how many events would be restarted; nothing changed.', schema: 'BulkRestartMatched' },
          202: { description: 'Restarted.', schema: 'BulkRestartResult' },
        },
        errors: ['invalid-body'],
      },
    },
    {
      method: 'GET',
      path: '/v1/failed-events/{id}',
      handler: async (_req, p) => jsonResponse(200, await getFailedEvent(runtime, p.id!)),
      doc: {
        operationId: 'getFailedEvent',
        summary: 'Read a failed event',
        responses: { 200: { description: 'The failed event.', schema: 'FailedEvent' } },
        errors: ['not-found'],
      },
    },
    {
      method: 'POST',
      path: '/v1/failed-events/{id}/download-url',
      handler: async (req, p) => {
        const { expiresInSeconds } = optionalBody(PresignBody, req);
        return jsonResponse(200, await issueDownloadUrl(runtime, p.id!, req.principal, expiresInSeconds));
      },
      doc: actionDoc({
        operationId: 'createDownloadUrl',
        summary: 'Presigned download URL',
        description: 'A presigned GET of the current payload (the corrected one once uploaded).',
        body: 'PresignRequest',
        responses: { 200: { description: 'The URL.', schema: 'DownloadUrl' } },
      }),
    },
    {
      method: 'POST',
      path: '/v1/failed-events/{id}/upload-url',
      handler: async (req, p) => {
        const { expiresInSeconds } = optionalBody(PresignBody, req);
        return jsonResponse(200, await issueUploadUrl(runtime, p.id!, req.principal, expiresInSeconds));
      },
      doc: actionDoc({
        operationId: 'createUploadUrl',
        summary: 'Presigned upload URL',
        description: "A presigned PUT (or POST with `fields`) for a corrected payload, bounded by the flow's payload limit.",
        body: 'PresignRequest',
        responses: { 200: { description: 'The URL.', schema: 'UploadUrl' } },
      }),
    },
    {
      method: 'POST',
      path: '/v1/failed-events/{id}/restart',
      handler: async (req, p) => {
        const { sha256 } = optionalBody(RestartBody, req);
        return jsonResponse(202, await restartFailedEvent(runtime, p.id!, req.principal, sha256 ? { expectedSha256: sha256 } : {}));
      },
      doc: actionDoc({
        operationId: 'restartFailedEvent',
        summary: 'Restart a failed event',
        description:
          'Re-queues the delivery (with the corrected payload when one was uploaded, checked for size and sha256) and releases a suspended chain in order.',
        body: 'RestartRequest',
        responses: { 202: { description: 'Re-queued; the event as it is now.', schema: 'FailedEvent' } },
      }),
    },
    {
      method: 'POST',
      path: '/v1/failed-events/{id}/recover',
      handler: async (req, p) => jsonResponse(202, await recoverFailedEvent(runtime, p.id!, req.principal)),
      doc: actionDoc({
        operationId: 'recoverFailedEvent',
        summary: 'Recover an in-error delivery',
        description: 'For `inError` (a flow with `autoRetry: false`): the held delivery is attempted again.',
        responses: { 202: { description: 'Queued again; the event as it is now.', schema: 'FailedEvent' } },
      }),
    },
    {
      method: 'POST',
      path: '/v1/failed-events/{id}/discard',
      handler: async (req, p) => jsonResponse(200, await discardFailedEvent(runtime, p.id!, req.principal)),
      doc: actionDoc({
        operationId: 'discardFailedEvent',
        summary: 'Discard a failed event',
        description: 'Kept for audit, never delivered; releases a suspended chain in order.',
        responses: { 200: { description: 'Discarded; the event as it is now.', schema: 'FailedEvent' } },
      }),
    },
  ];
}
