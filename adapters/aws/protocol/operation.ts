/**
 * The shape every AWS operation Sluice calls takes on the wire. The Lambda bundles do not
 * carry the AWS SDK's clients (their shared runtime alone outweighs the cold-start budget):
 * each operation is a small serializer and deserializer over the service's documented
 * protocol, and one client (client.ts) signs, sends, retries and runs the middleware.
 */

/** Where a request goes: the region, and a custom endpoint in local mode (the emulators). */
export interface EndpointContext {
  region: string;
  /** A custom endpoint (local mode's emulators). Undefined on AWS: each service knows its own host. */
  endpoint?: URL;
}

/** A request as the service's protocol lays it out, before the signature. */
export interface WireRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';
  /** Scheme, host, path (percent-encoded) and query. */
  url: URL;
  /** Lower-case names. */
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

/** An answer as it came off the wire. */
export interface WireResponse {
  statusCode: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** One service's protocol: how it is signed, where it lives and how it reports an error. */
export interface ServiceProtocol {
  /** The name the recorder, the meter and the tracer know the service by ('DynamoDB', 'S3'...). */
  readonly label: string;
  /** The SigV4 signing name ('dynamodb', 's3', 'sqs', 'kms', 'events', 'scheduler'). */
  readonly signingName: string;
  /** Attempts per call when the client sets none: the SDK's default for this service (DynamoDB's is 4). @default 3 */
  readonly defaultMaxAttempts?: number;
  /** S3 signs the payload's digest into a header of its own; the others leave it out. */
  readonly signedPayloadHeader?: boolean;
  /** The service error a non-2xx answer carries (see errors.ts). */
  error(response: WireResponse): Error;
}

/** One API operation: its input laid out as a request, and a 2xx answer read into its output. */
export interface Operation<I, O> {
  readonly service: ServiceProtocol;
  /** The API's own name for it ('PutItem', 'SendMessageBatch', 'GetObject'...). */
  readonly name: string;
  serialize(input: I, context: EndpointContext): WireRequest;
  deserialize(response: WireResponse): O;
}

/** A call to make: an operation and its input, as `client.send(command)` takes it. */
export interface Command<I, O> {
  readonly operation: Operation<I, O>;
  readonly input: I;
}

/** Declares a command class for an operation, so callers write `new PutItemCommand(input)` as with the SDK. */
export function commandFor<I, O>(operation: Operation<I, O>) {
  return class implements Command<I, O> {
    readonly operation = operation;
    constructor(readonly input: I) {}
  };
}

/** A service's regional host: `{service}.{region}.amazonaws.com`, `.com.cn` in the China regions. */
export const regionalHost = (service: string, region: string): string =>
  `${service}.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`;

/** RFC 3986 escaping as AWS expects it (and the SDK does it): `encodeURIComponent` leaves `!'()*` alone. */
export const escapeUri = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const textDecoder = new TextDecoder();

export const textOf = (body: Uint8Array): string => textDecoder.decode(body);
