import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { UsageError } from './client';

/**
 * Request bodies of `connections put` and `flows put`: a JSON file (optional) with
 * flags on top, so a kept file can be re-applied with one setting changed. The API
 * validates the result; the CLI only shapes it.
 */

export type Json = Record<string, unknown>;

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer.');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n)) throw new InvalidArgumentError('must be a whole number, 0 or more.');
  return n;
}

/**
 * A time as the API takes it: RFC 3339 with an offset (`2026-01-31T12:00:00Z`,
 * `2026-01-31T13:00:00+01:00`). The API checks it again; this catches a typo before a call.
 */
export function rfc3339(value: string): string {
  const shaped = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(value);
  if (!shaped || Number.isNaN(Date.parse(value.replace(' ', 'T')))) {
    throw new InvalidArgumentError('must be an RFC 3339 time with an offset, e.g. 2026-01-31T12:00:00Z.');
  }
  return value;
}

/** `2xx`, or a comma-separated list of statuses such as `200,202`. */
export function successStatuses(value: string): '2xx' | number[] {
  if (value.trim() === '2xx') return '2xx';
  const statuses = value.split(',').map((part) => Number(part.trim()));
  if (statuses.length === 0 || statuses.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) {
    throw new InvalidArgumentError('must be 2xx or a comma-separated list of HTTP statuses, e.g. 200,202.');
  }
  return statuses;
}

/** Repeatable and comma-separated: `--destination erp --destination crm` or `--destination erp,crm`. */
export function collectIds(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id.length > 0),
  ];
}

/** A JSON object from a file (`-` is stdin), for `--file`. */
export async function readJsonObject(file: string, flag = '--file'): Promise<Json> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read ${flag} ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag} ${file} is not JSON: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`${flag} ${file} must hold a JSON object.`);
  return parsed as Json;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Drops undefined values, so an unset flag leaves the file's value alone. */
function defined(values: Json): Json {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}

function objectIn(base: Json, name: string): Json {
  const value = base[name];
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

/** Merges nested settings (`retry`, `probe`) field by field; leaves them out when neither side has any. */
function mergeNested(base: Json, name: string, flags: Json): Json {
  const merged = { ...objectIn(base, name), ...defined(flags) };
  return Object.keys(merged).length > 0 || name in base ? { [name]: merged } : {};
}

export interface ConnectionFlags {
  url?: string;
  timeoutMs?: number;
  retryCount?: number;
  retryInterval?: number;
  backoff?: string;
  maxInterval?: number;
  threads?: number;
  onError?: string;
  successStatuses?: '2xx' | number[];
  offlineAfter?: number;
  probeMethod?: string;
  probePath?: string;
  signingSecret?: string;
}

/** `PUT /v1/connections/{id}` body: the file's settings with the flags on top. */
export function connectionBody(file: Json, flags: ConnectionFlags, auth: Json | undefined): Json {
  const body: Json = {
    ...file,
    ...defined({
      url: flags.url,
      timeoutMs: flags.timeoutMs,
      threads: flags.threads,
      onError: flags.onError,
      successStatuses: flags.successStatuses,
      offlineAfter: flags.offlineAfter,
      signingSecret: flags.signingSecret,
    }),
    ...mergeNested(file, 'retry', {
      count: flags.retryCount,
      intervalSeconds: flags.retryInterval,
      backoff: flags.backoff,
      maxIntervalSeconds: flags.maxInterval,
    }),
    ...mergeNested(file, 'probe', { method: flags.probeMethod, path: flags.probePath }),
    ...(auth ? { auth } : {}),
  };
  if (typeof body.url !== 'string' || body.url === '') throw new UsageError('A connection needs --url (or "url" in --file).');
  return body;
}

export interface FlowFlags {
  partner?: string;
  destination?: string[];
  onFailure?: string;
  autoRetry?: boolean;
  backoutThreshold?: number;
  expiresAfter?: number;
  maxPayloadBytes?: number;
  retentionDays?: number;
}

/** `PUT /v1/flows/{id}` body: the file's settings with the flags on top. */
export function flowBody(file: Json, flags: FlowFlags): Json {
  const body: Json = {
    ...file,
    ...defined({
      partnerId: flags.partner,
      destinations: flags.destination && flags.destination.length > 0 ? flags.destination : undefined,
      onFailure: flags.onFailure,
      autoRetry: flags.autoRetry,
      backoutThreshold: flags.backoutThreshold,
      expiresAfterSeconds: flags.expiresAfter,
      maxPayloadBytes: flags.maxPayloadBytes,
      retentionDays: flags.retentionDays,
    }),
  };
  if (typeof body.partnerId !== 'string') throw new UsageError('A flow needs --partner (or "partnerId" in --file).');
  if (!Array.isArray(body.destinations) || body.destinations.length === 0) {
    throw new UsageError('A flow needs at least one --destination connection (or "destinations" in --file).');
  }
  return body;
}
