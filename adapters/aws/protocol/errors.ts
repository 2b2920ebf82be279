/**
 * An error answer of an AWS service, shaped as the AWS SDK shapes it so code that reads
 * `error.name`, `error.$metadata.httpStatusCode` or a service field (DynamoDB's
 * `CancellationReasons`) reads it the same way.
 */
export class AwsServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number; requestId?: string; attempts?: number };

  constructor(options: { name: string; message: string; statusCode: number; requestId?: string; fields?: Record<string, unknown> }) {
    super(options.message);
    this.name = options.name;
    this.$fault = options.statusCode >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: options.statusCode, ...(options.requestId ? { requestId: options.requestId } : {}) };
    if (options.fields) {
      for (const [key, value] of Object.entries(options.fields)) {
        if (!(key in this)) (this as Record<string, unknown>)[key] = value;
      }
    }
  }
}

/** The request never got an answer (connection refused or reset, DNS, a socket timeout). */
export class AwsNetworkError extends Error {
  readonly $metadata: { attempts?: number } = {};

  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(`${operation} got no answer: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'AwsNetworkError';
  }
}
