import { createHash } from 'node:crypto';
import type {
  DeleteObjectCommandInput,
  DeleteObjectCommandOutput,
  DeleteObjectTaggingCommandInput,
  DeleteObjectTaggingCommandOutput,
  GetObjectCommandInput,
  GetObjectCommandOutput,
  GetObjectTaggingCommandInput,
  GetObjectTaggingCommandOutput,
  HeadObjectCommandInput,
  HeadObjectCommandOutput,
  ListObjectsV2CommandInput,
  ListObjectsV2CommandOutput,
  PutObjectCommandInput,
  PutObjectCommandOutput,
  PutObjectTaggingCommandInput,
  PutObjectTaggingCommandOutput,
  Tag,
  _Object,
} from '@aws-sdk/client-s3';
import { parseXML, XmlNode } from '@aws-sdk/xml-builder';
import { AwsServiceError } from './errors';
import {
  commandFor,
  escapeUri,
  regionalHost,
  textOf,
  type EndpointContext,
  type Operation,
  type ServiceProtocol,
  type WireRequest,
  type WireResponse,
} from './operation';

/**
 * S3's REST-XML protocol for the object calls Sluice makes: the bucket and key in the URL,
 * scalars in headers and the query, lists and tags as XML. Requests are laid out byte for
 * byte as the AWS SDK lays them out (same path and query escaping, same XML): S3 checks the
 * signature over the path and query exactly as sent, and the SDK can serve as the oracle.
 */

const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

/** A query string in the SDK's form: names sorted, names and values escaped, `name=` for an empty value. */
export function queryString(query: Record<string, string | undefined>): string {
  return Object.keys(query)
    .sort()
    .filter((name) => query[name] !== undefined)
    .map((name) => `${escapeUri(name)}=${escapeUri(query[name]!)}`)
    .join('&');
}

/** The path of a key: each segment escaped, the `/` between them kept. */
function keyPath(key: string): string {
  const segments = key.split('/');
  // A URL resolves `.` and `..` segments (escaped ones too), so such a key would address another object.
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw new RangeError(`S3 key ${JSON.stringify(key)} has a "." or ".." segment, which a URL cannot carry`);
  }
  return segments.map(escapeUri).join('/');
}

/** Bucket names that can be a DNS label of S3's wildcard certificate (no dots, not an IP address). */
const virtualHostable = (bucket: string) => /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket);

/**
 * Where an object is: virtual-hosted on AWS
 * (`https://{bucket}.s3.{region}.amazonaws.com/{key}`), path style on a custom endpoint
 * (`{endpoint}/{bucket}/{key}`), as the SDK addresses it with `forcePathStyle` there.
 */
export function objectUrl(context: EndpointContext, bucket: string, key: string, query: Record<string, string | undefined> = {}): URL {
  // An empty key addresses the bucket itself: a PutObject would become a CreateBucket.
  if (key === '') throw new RangeError('S3 object key is empty');
  return addressOf(context, bucket, key, query);
}

/** An object's address, or with an empty key its bucket's (ListObjectsV2). */
function addressOf(context: EndpointContext, bucket: string, key: string, query: Record<string, string | undefined>): URL {
  const path = keyPath(key);
  const search = queryString(query);
  const tail = search ? `?${search}` : '';
  if (context.endpoint) {
    const base = context.endpoint.pathname.replace(/\/+$/, '');
    return new URL(`${context.endpoint.origin}${base}/${escapeUri(bucket)}/${path}${tail}`);
  }
  const host = regionalHost('s3', context.region);
  return virtualHostable(bucket)
    ? new URL(`https://${bucket}.${host}/${path}${tail}`)
    : new URL(`https://${host}/${escapeUri(bucket)}/${path}${tail}`);
}

type Metadata = PutObjectCommandOutput['$metadata'];

const metadataOf = (response: WireResponse): Metadata => ({
  httpStatusCode: response.statusCode,
  ...(response.headers['x-amz-request-id'] ? { requestId: response.headers['x-amz-request-id'] } : {}),
  ...(response.headers['x-amz-id-2'] ? { extendedRequestId: response.headers['x-amz-id-2'] } : {}),
});

/** A parsed XML document's root element (S3 answers with one root, e.g. `ListBucketResult`). */
function xmlRoot(body: Uint8Array): Record<string, unknown> | undefined {
  const text = textOf(body);
  if (text.trim() === '') return undefined;
  try {
    const document = parseXML(text) as Record<string, unknown>;
    const root = Object.values(document)[0];
    return root && typeof root === 'object' ? (root as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The parser makes one child an object and several an array; an empty container is ''. */
const listOf = <T>(value: unknown): T[] =>
  value === undefined || value === '' ? [] : Array.isArray(value) ? (value as T[]) : [value as T];

const stringOf = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const numberOf = (value: unknown): number | undefined => (typeof value === 'string' && value !== '' ? Number(value) : undefined);
const dateOf = (value: unknown): Date | undefined => (typeof value === 'string' && value !== '' ? new Date(value) : undefined);

/** The named elements of a parsed element, each read by its reader; absent ones left out, as the SDK does. */
function pick<T>(from: Record<string, unknown>, read: { [P in keyof T]?: (value: unknown) => T[P] | undefined }): T {
  const out: Record<string, unknown> = {};
  for (const [name, reader] of Object.entries(read) as [string, (value: unknown) => unknown][]) {
    const value = reader(from[name]);
    if (value !== undefined) out[name] = value;
  }
  return out as T;
}

/**
 * An S3 error answer: `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId>…</Error>`,
 * named by its Code. An answer without one (every error of a HEAD, which has no body) is
 * named as the SDK names it: `NotFound` for a 404, `Unknown` otherwise.
 */
export function s3Error(response: WireResponse): AwsServiceError {
  const body = xmlRoot(response.body) ?? {};
  const code = stringOf(body.Code);
  const name = code ?? (response.statusCode === 404 ? 'NotFound' : 'Unknown');
  const message = stringOf(body.Message) ?? `${name} (HTTP ${response.statusCode})`;
  const { Message: _message, ...fields } = body;
  return new AwsServiceError({
    name,
    message,
    statusCode: response.statusCode,
    requestId: response.headers['x-amz-request-id'] ?? stringOf(body.RequestId),
    fields,
  });
}

export const s3Service: ServiceProtocol = { label: 'S3', signingName: 's3', signedPayloadHeader: true, error: s3Error };

function operation<I, O>(
  name: string,
  serialize: (input: I, context: EndpointContext) => WireRequest,
  deserialize: (response: WireResponse) => O,
): Operation<I, O> {
  return { service: s3Service, name, serialize, deserialize };
}

const versionOf = (response: WireResponse) =>
  response.headers['x-amz-version-id'] ? { VersionId: response.headers['x-amz-version-id'] } : {};

/** The object's own headers, as HeadObject and GetObject return them. */
function objectHeaders(response: WireResponse) {
  const h = response.headers;
  const Metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) if (name.startsWith('x-amz-meta-')) Metadata[name.slice(11)] = value;
  return {
    $metadata: metadataOf(response),
    ...(h['content-type'] !== undefined ? { ContentType: h['content-type'] } : {}),
    ...(h['content-length'] !== undefined ? { ContentLength: Number(h['content-length']) } : {}),
    ...(h.etag !== undefined ? { ETag: h.etag } : {}),
    ...(h['last-modified'] !== undefined ? { LastModified: new Date(h['last-modified']) } : {}),
    ...(h['content-range'] !== undefined ? { ContentRange: h['content-range'] } : {}),
    ...(h['accept-ranges'] !== undefined ? { AcceptRanges: h['accept-ranges'] } : {}),
    ...(h['content-encoding'] !== undefined ? { ContentEncoding: h['content-encoding'] } : {}),
    ...versionOf(response),
    Metadata,
  };
}

// ---- PutObject

/** Sluice writes whole payloads from memory. */
export type PutObjectInput = Pick<PutObjectCommandInput, 'ContentType'> & { Bucket: string; Key: string; Body: Uint8Array | string };

export const putObject = operation<PutObjectInput, PutObjectCommandOutput>(
  'PutObject',
  (input, context) => ({
    method: 'PUT',
    url: objectUrl(context, input.Bucket, input.Key, { 'x-id': 'PutObject' }),
    // The SDK's default type for a body without one (S3's own would be binary/octet-stream).
    headers: { 'content-type': input.ContentType ?? 'application/octet-stream' },
    body: input.Body,
  }),
  (response) => ({
    $metadata: metadataOf(response),
    ...(response.headers.etag !== undefined ? { ETag: response.headers.etag } : {}),
    ...versionOf(response),
  }),
);

// ---- GetObject

/** An object's content, read with the two methods of the SDK's streaming body that Sluice uses. */
export interface ObjectBody {
  transformToByteArray(): Promise<Uint8Array>;
  transformToString(encoding?: string): Promise<string>;
}

export type GetObjectInput = Pick<GetObjectCommandInput, 'Range' | 'IfMatch'> & { Bucket: string; Key: string };
/** The SDK's output with the body already read (Sluice reads objects whole or by a bounded range). */
export type GetObjectOutput = Omit<GetObjectCommandOutput, 'Body'> & { Body: ObjectBody };

function bodyOf(bytes: Uint8Array): ObjectBody {
  return {
    transformToByteArray: async () => bytes,
    transformToString: async (encoding = 'utf-8') =>
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(encoding as BufferEncoding),
  };
}

export const getObject = operation<GetObjectInput, GetObjectOutput>(
  'GetObject',
  (input, context) => ({
    method: 'GET',
    url: objectUrl(context, input.Bucket, input.Key, { 'x-id': 'GetObject' }),
    headers: {
      ...(input.Range !== undefined ? { range: input.Range } : {}),
      ...(input.IfMatch !== undefined ? { 'if-match': input.IfMatch } : {}),
    },
  }),
  (response) => ({ ...objectHeaders(response), Body: bodyOf(response.body) }),
);

// ---- HeadObject

export type HeadObjectInput = Pick<HeadObjectCommandInput, 'IfMatch'> & { Bucket: string; Key: string };

export const headObject = operation<HeadObjectInput, HeadObjectCommandOutput>(
  'HeadObject',
  (input, context) => ({
    method: 'HEAD',
    url: objectUrl(context, input.Bucket, input.Key),
    headers: { ...(input.IfMatch !== undefined ? { 'if-match': input.IfMatch } : {}) },
  }),
  objectHeaders,
);

// ---- DeleteObject

export type DeleteObjectInput = Pick<DeleteObjectCommandInput, 'Bucket' | 'Key'> & { Bucket: string; Key: string };

export const deleteObject = operation<DeleteObjectInput, DeleteObjectCommandOutput>(
  'DeleteObject',
  (input, context) => ({ method: 'DELETE', url: objectUrl(context, input.Bucket, input.Key, { 'x-id': 'DeleteObject' }), headers: {} }),
  (response) => ({
    $metadata: metadataOf(response),
    ...(response.headers['x-amz-delete-marker'] !== undefined ? { DeleteMarker: response.headers['x-amz-delete-marker'] === 'true' } : {}),
    ...versionOf(response),
  }),
);

// ---- ListObjectsV2

export type ListObjectsV2Input = Pick<ListObjectsV2CommandInput, 'Prefix' | 'ContinuationToken' | 'MaxKeys'> & { Bucket: string };

export const listObjectsV2 = operation<ListObjectsV2Input, ListObjectsV2CommandOutput>(
  'ListObjectsV2',
  (input, context) => ({
    method: 'GET',
    url: addressOf(context, input.Bucket, '', {
      'list-type': '2',
      prefix: input.Prefix,
      'continuation-token': input.ContinuationToken,
      'max-keys': input.MaxKeys?.toString(),
    }),
    headers: {},
  }),
  (response) => {
    const result = xmlRoot(response.body) ?? {};
    const contents = listOf<Record<string, unknown>>(result.Contents).map((object) =>
      pick<_Object>(object, {
        Key: stringOf,
        LastModified: dateOf,
        ETag: stringOf,
        Size: numberOf,
        StorageClass: stringOf as (v: unknown) => _Object['StorageClass'],
      }),
    );
    return {
      $metadata: metadataOf(response),
      ...pick<Omit<ListObjectsV2CommandOutput, '$metadata'>>(result, {
        Name: stringOf,
        Prefix: stringOf,
        KeyCount: numberOf,
        MaxKeys: numberOf,
        ContinuationToken: stringOf,
        NextContinuationToken: stringOf,
        StartAfter: stringOf,
      }),
      ...(result.IsTruncated !== undefined ? { IsTruncated: result.IsTruncated === 'true' } : {}),
      ...(contents.length > 0 ? { Contents: contents } : {}),
    };
  },
);

// ---- Object tagging

export type ObjectTaggingInput = Pick<GetObjectTaggingCommandInput | DeleteObjectTaggingCommandInput, 'Bucket' | 'Key'> & {
  Bucket: string;
  Key: string;
};
export type PutObjectTaggingInput = Pick<PutObjectTaggingCommandInput, 'Bucket' | 'Key' | 'Tagging'> & {
  Bucket: string;
  Key: string;
  Tagging: NonNullable<PutObjectTaggingCommandInput['Tagging']>;
};

export const getObjectTagging = operation<ObjectTaggingInput, GetObjectTaggingCommandOutput>(
  'GetObjectTagging',
  (input, context) => ({ method: 'GET', url: objectUrl(context, input.Bucket, input.Key, { tagging: '' }), headers: {} }),
  (response) => {
    const tagging = xmlRoot(response.body) ?? {};
    const tagSet = tagging.TagSet && typeof tagging.TagSet === 'object' ? (tagging.TagSet as Record<string, unknown>).Tag : undefined;
    const TagSet = listOf<Record<string, unknown>>(tagSet).map((tag) => ({
      Key: stringOf(tag.Key) ?? '',
      Value: stringOf(tag.Value) ?? '',
    }));
    return { $metadata: metadataOf(response), ...versionOf(response), TagSet };
  },
);

/** The tag document the SDK sends (escaped by the XML builder). */
export function taggingXml(tagSet: Tag[]): string {
  const set = new XmlNode('TagSet');
  for (const tag of tagSet) set.addChildNode(new XmlNode('Tag').c(XmlNode.of('Key', tag.Key)).c(XmlNode.of('Value', tag.Value)));
  return XML_DECLARATION + new XmlNode('Tagging').addAttribute('xmlns', S3_NAMESPACE).c(set).toString();
}

export const putObjectTagging = operation<PutObjectTaggingInput, PutObjectTaggingCommandOutput>(
  'PutObjectTagging',
  (input, context) => {
    const body = taggingXml(input.Tagging.TagSet ?? []);
    return {
      method: 'PUT',
      url: objectUrl(context, input.Bucket, input.Key, { tagging: '' }),
      // S3 refuses this call without a checksum of the body; Content-MD5 is the one every S3 accepts.
      headers: { 'content-type': 'application/xml', 'content-md5': createHash('md5').update(body).digest('base64') },
      body,
    };
  },
  (response) => ({ $metadata: metadataOf(response), ...versionOf(response) }),
);

export const deleteObjectTagging = operation<ObjectTaggingInput, DeleteObjectTaggingCommandOutput>(
  'DeleteObjectTagging',
  (input, context) => ({ method: 'DELETE', url: objectUrl(context, input.Bucket, input.Key, { tagging: '' }), headers: {} }),
  (response) => ({ $metadata: metadataOf(response), ...versionOf(response) }),
);

export const PutObjectCommand = commandFor(putObject);
export const GetObjectCommand = commandFor(getObject);
export const HeadObjectCommand = commandFor(headObject);
export const DeleteObjectCommand = commandFor(deleteObject);
export const ListObjectsV2Command = commandFor(listObjectsV2);
export const GetObjectTaggingCommand = commandFor(getObjectTagging);
export const PutObjectTaggingCommand = commandFor(putObjectTagging);
export const DeleteObjectTaggingCommand = commandFor(deleteObjectTagging);
