import { AwsServiceError } from './errors';
import { textOf, type EndpointContext, type Operation, type ServiceProtocol, type WireResponse } from './operation';

/**
 * The AWS JSON protocol (1.0 and 1.1), which DynamoDB, SQS, KMS and EventBridge speak:
 * every operation is a POST to `/` naming itself in `X-Amz-Target`, with the input as
 * JSON. Blobs travel as base64 both ways.
 */
export interface JsonServiceOptions {
  label: string;
  signingName: string;
  /** The service's host in a region ('dynamodb.us-east-1.amazonaws.com'). */
  host: (region: string) => string;
  version: '1.0' | '1.1';
  /** The prefix of `X-Amz-Target` ('DynamoDB_20120810', 'AmazonSQS', 'TrentService', 'AWSEvents'). */
  targetPrefix: string;
  /** Extra headers on every request (SQS's `x-amzn-query-mode`). */
  headers?: Record<string, string>;
  /** Attempts per call: the SDK's default for the service. @default 3 */
  defaultMaxAttempts?: number;
  /** An error's service fields as the SDK reads them (DynamoDB's items, their blobs back to bytes). */
  readErrorFields?: (fields: Record<string, unknown>) => Record<string, unknown>;
}

export interface JsonService extends ServiceProtocol {
  /** An operation whose output is the answer's JSON, passed through `read` (blobs back to bytes). */
  operation<I, O>(name: string, read?: (output: Record<string, unknown>) => O): Operation<I, O>;
}

/**
 * A request body in the AWS JSON protocols (and restJson1): every Uint8Array (a Buffer too,
 * which `toJSON` would turn into an array of numbers) as base64, every Date as epoch seconds
 * with the milliseconds as the fraction (not the ISO string of `Date#toJSON`).
 */
export function awsJson(input: unknown): string {
  return JSON.stringify(input, function (this: Record<string, unknown>, key, value) {
    const raw = this[key];
    if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
    if (raw instanceof Date) return raw.getTime() / 1000;
    return value;
  });
}

/** A base64 blob of an answer as bytes. */
export const blobOf = (value: unknown): Uint8Array | undefined =>
  typeof value === 'string' ? new Uint8Array(Buffer.from(value, 'base64')) : undefined;

/** The error name AWS puts in `__type` or `X-Amzn-ErrorType`, without its namespace or URL suffix. */
export function sanitizeErrorName(raw: string): string {
  const withoutSuffix = raw.split(':')[0]!;
  return withoutSuffix.slice(withoutSuffix.lastIndexOf('#') + 1);
}

/**
 * The JSON of an answer. A success whose body does not parse is an error (a truncated
 * GetItem answer must not read as "no item"); an error answer's body is read as far as it goes.
 */
function parseJson(response: WireResponse, strict: boolean): Record<string, unknown> {
  const text = textOf(response.body);
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    if (strict)
      throw new AwsServiceError({
        name: 'SerializationException',
        message: `the answer is not JSON: ${(error as Error).message}`,
        statusCode: response.statusCode,
        requestId: response.headers['x-amzn-requestid'],
      });
    return {};
  }
  if (parsed && typeof parsed === 'object') return parsed as Record<string, unknown>;
  if (strict)
    throw new AwsServiceError({
      name: 'SerializationException',
      message: 'the answer is not a JSON object',
      statusCode: response.statusCode,
    });
  return {};
}

export function jsonServiceError(
  response: WireResponse,
  readFields: (fields: Record<string, unknown>) => Record<string, unknown> = (fields) => fields,
): AwsServiceError {
  const body = parseJson(response, false);
  const rawName = response.headers['x-amzn-errortype'] ?? (body.__type as string | undefined) ?? (body.code as string | undefined);
  const name = rawName ? sanitizeErrorName(rawName) : response.statusCode >= 500 ? 'InternalServerError' : 'UnknownError';
  const message = (body.message ?? body.Message ?? body.errorMessage ?? `${name} (HTTP ${response.statusCode})`) as string;
  const { __type: _type, message: _message, Message: _Message, ...fields } = body;
  return new AwsServiceError({
    name,
    message,
    statusCode: response.statusCode,
    requestId: response.headers['x-amzn-requestid'],
    fields: readFields(fields),
  });
}

export function jsonService(options: JsonServiceOptions): JsonService {
  const contentType = `application/x-amz-json-${options.version}`;
  const service: JsonService = {
    label: options.label,
    signingName: options.signingName,
    ...(options.defaultMaxAttempts ? { defaultMaxAttempts: options.defaultMaxAttempts } : {}),
    error: (response) => jsonServiceError(response, options.readErrorFields),
    operation<I, O>(name: string, read?: (output: Record<string, unknown>) => O): Operation<I, O> {
      return {
        service,
        name,
        serialize: (input: I, context: EndpointContext) => ({
          method: 'POST',
          url: new URL('/', context.endpoint ?? `https://${options.host(context.region)}`),
          headers: { 'content-type': contentType, 'x-amz-target': `${options.targetPrefix}.${name}`, ...options.headers },
          body: awsJson(input ?? {}),
        }),
        deserialize: (response: WireResponse) => {
          const output = parseJson(response, true);
          return (read ? read(output) : output) as O;
        },
      };
    },
  };
  return service;
}
