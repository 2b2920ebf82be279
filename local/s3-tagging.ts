import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/**
 * Object tagging for the embedded S3 emulator.
 *
 * Sluice dates a final message's payloads with an object tag (adapters/aws/definitions.ts,
 * BUCKET). fauxqs 1.9 has no tagging API: it routes `PUT /bucket/key?tagging` to PutObject
 * and would replace the payload with the tag document. So the emulator's HTTP handler is
 * wrapped: requests with a `tagging` query on an object are answered here
 * (PutObjectTagging, GetObjectTagging, DeleteObjectTagging, with S3's answers and its
 * `NoSuchKey` for a missing object), everything else goes to fauxqs unchanged. The same
 * AWS SDK calls as on AWS run against it, so tests read the tags the code wrote.
 *
 * Tags belong to one version of an object, as on S3: an object written again (a new ETag)
 * has none. One difference: an object written again with the very same bytes keeps them.
 * With a file, the tags survive a restart of local mode (the objects do, see s3-mirror.ts).
 */

export interface TaggedObject {
  bucket: string;
  key: string;
  tags: Record<string, string>;
  /** ETag of the object version the tags belong to. */
  etag: string;
  /** When that version was written (epoch ms), as the emulator said when it was tagged. */
  lastModifiedMs: number;
}

/** Whether the object tagging wrapper was installed on the server being started. */
export class TaggingInstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaggingInstallError';
  }
}

const id = (bucket: string, key: string) => `${bucket}\n${key}`;

/** The tags of every tagged object of one emulator, optionally kept in a JSON file. */
export class ObjectTags {
  private readonly objects = new Map<string, TaggedObject>();
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly file?: string) {
    if (!file) return;
    try {
      for (const object of JSON.parse(readFileSync(file, 'utf8')) as TaggedObject[])
        this.objects.set(id(object.bucket, object.key), object);
    } catch {
      /* no file yet */
    }
  }

  /** The tags of the current version of an object (`etag`). */
  get(bucket: string, key: string, etag: string): TaggedObject | undefined {
    const object = this.objects.get(id(bucket, key));
    return object?.etag === etag ? object : undefined;
  }

  /** Every tagged object, whatever version it is at now. */
  list(): TaggedObject[] {
    return [...this.objects.values()];
  }

  set(object: TaggedObject): Promise<void> {
    if (Object.keys(object.tags).length === 0) return this.delete(object.bucket, object.key);
    this.objects.set(id(object.bucket, object.key), object);
    return this.save();
  }

  delete(bucket: string, key: string): Promise<void> {
    if (!this.objects.delete(id(bucket, key))) return Promise.resolve();
    return this.save();
  }

  /** Resolves once every change so far is in the file. */
  flush(): Promise<void> {
    return this.saving;
  }

  private save(): Promise<void> {
    const { file } = this;
    if (!file) return Promise.resolve();
    const snapshot = JSON.stringify(this.list());
    this.saving = this.saving.then(async () => {
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, snapshot, { mode: 0o600 });
      await rename(temporary, file);
    });
    return this.saving;
  }
}

const XML_ENTITIES: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'", '&amp;': '&' };
const unescapeXml = (text: string) => text.replace(/&(lt|gt|quot|apos|amp);/g, (entity) => XML_ENTITIES[entity]!);
const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

function parseTagSet(xml: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const match of xml.matchAll(/<Tag>\s*<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>\s*<\/Tag>/g)) {
    tags[unescapeXml(match[1]!)] = unescapeXml(match[2]!);
  }
  return tags;
}

function tagSetXml(tags: Record<string, string>): string {
  const entries = Object.entries(tags)
    .map(([key, value]) => `<Tag><Key>${escapeXml(key)}</Key><Value>${escapeXml(value)}</Value></Tag>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>${entries}</TagSet></Tagging>`;
}

function answer(res: ServerResponse, status: number, xml?: string): void {
  res.statusCode = status;
  if (xml !== undefined) res.setHeader('content-type', 'application/xml');
  res.end(xml);
}

function noSuchKey(res: ServerResponse, key: string): void {
  answer(
    res,
    404,
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${escapeXml(key)}</Key></Error>`,
  );
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The object a tagging request names (path-style), or undefined when it is not one. */
function taggingTarget(req: IncomingMessage): { bucket: string; key: string; path: string } | undefined {
  if (!req.url || !['GET', 'PUT', 'DELETE'].includes(req.method ?? '')) return undefined;
  const url = new URL(req.url, 'http://emulator');
  if (!url.searchParams.has('tagging')) return undefined;
  const [, bucket, ...rest] = url.pathname.split('/');
  if (!bucket || rest.length === 0 || rest.join('/') === '') return undefined;
  return { bucket: decodeURIComponent(bucket), key: rest.map(decodeURIComponent).join('/'), path: url.pathname };
}

async function handleTagging(
  req: IncomingMessage,
  res: ServerResponse,
  target: { bucket: string; key: string; path: string },
  tags: ObjectTags,
) {
  // The object as the emulator has it now, asked the emulator itself (the same path, without the query).
  const port = req.socket.localPort;
  const head = await fetch(`http://127.0.0.1:${port}${target.path}`, { method: 'HEAD' });
  if (head.status === 404) return noSuchKey(res, target.key);
  if (!head.ok) return answer(res, head.status);
  const etag = head.headers.get('etag') ?? '';
  const lastModified = Date.parse(head.headers.get('last-modified') ?? '');
  switch (req.method) {
    case 'GET':
      return answer(res, 200, tagSetXml(tags.get(target.bucket, target.key, etag)?.tags ?? {}));
    case 'PUT': {
      const set = parseTagSet(await readBody(req));
      await tags.set({
        bucket: target.bucket,
        key: target.key,
        tags: set,
        etag,
        lastModifiedMs: Number.isNaN(lastModified) ? Date.now() : lastModified,
      });
      return answer(res, 200);
    }
    default:
      await tags.delete(target.bucket, target.key);
      return answer(res, 204);
  }
}

/**
 * Starts an S3 emulator through `start` with object tagging added (see the module
 * comment): the HTTP servers `start` creates synchronously, as fauxqs's Fastify does, get
 * their request handler wrapped. Throws TaggingInstallError when none was created, rather
 * than leave tagging requests to overwrite objects.
 */
export async function withObjectTagging<T>(tags: ObjectTags, start: () => Promise<T>, stop: (server: T) => Promise<void>): Promise<T> {
  // The module object Fastify calls createServer on (an ESM namespace cannot be patched).
  const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
  const original = http.createServer;
  let wrapped = 0;
  const wrap =
    (inner: RequestListener): RequestListener =>
    (req, res) => {
      const target = taggingTarget(req);
      if (!target) return inner(req, res);
      handleTagging(req, res, target, tags).catch((error: unknown) => {
        if (!res.headersSent) answer(res, 500, `<Error><Code>InternalError</Code><Message>${escapeXml(String(error))}</Message></Error>`);
        else res.destroy();
      });
    };
  http.createServer = function createServer(this: unknown, ...args: unknown[]) {
    const at = args.findIndex((arg) => typeof arg === 'function');
    if (at >= 0) {
      args[at] = wrap(args[at] as RequestListener);
      wrapped += 1;
    }
    return (original as (...a: unknown[]) => ReturnType<typeof original>).apply(this, args);
  } as typeof original;
  let starting: Promise<T>;
  try {
    starting = start();
  } finally {
    http.createServer = original;
  }
  const server = await starting;
  if (wrapped === 0) {
    await stop(server);
    throw new TaggingInstallError('the S3 emulator created no HTTP server while starting: object tagging cannot be added');
  }
  return server;
}
