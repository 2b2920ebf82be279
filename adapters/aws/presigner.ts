import { awsClientOptions } from './clients';
import { credentialsFromEnvironment, type AwsCredentials, type CredentialSource } from './protocol/client';
import type { EndpointContext } from './protocol/operation';
import { presignObjectUrl } from './protocol/presign';
import type { SluiceConfig } from './config';

/** SPEC: presigned URLs expire in at most 15 minutes. */
export const MAX_PRESIGN_SECONDS = 900;
export const DEFAULT_PRESIGN_SECONDS = 300;

export interface PresignedUrl {
  url: string;
  expiresAt: string;
}

export class PresignExpiryError extends RangeError {
  constructor(seconds: number) {
    super(`presigned URL expiry must be 1-${MAX_PRESIGN_SECONDS} seconds, not ${seconds}`);
    this.name = 'PresignExpiryError';
  }
}

/**
 * Presigned GET and PUT URLs for exactly one object each, signed for `host` only:
 * a plain HTTP client (curl, fetch, a browser) can use them as they are.
 */
export class S3Presigner {
  constructor(
    private readonly endpoint: EndpointContext,
    private readonly credentials: AwsCredentials | CredentialSource,
    readonly bucketName: string,
  ) {}

  /** Signed as the S3 client of the same config sends: to the same endpoint, with the same credentials. */
  static forConfig(config: SluiceConfig): S3Presigner {
    const { region, endpoint, credentials = credentialsFromEnvironment } = awsClientOptions(config, 's3');
    return new S3Presigner({ region, ...(endpoint ? { endpoint: new URL(endpoint) } : {}) }, credentials, config.bucketName);
  }

  download(key: string, options: { now: Date; expiresInSeconds?: number }): Promise<PresignedUrl> {
    return this.sign('GET', key, options);
  }

  /**
   * A PUT of exactly `key`. A presigned PUT cannot bound the size: whoever consumes the
   * upload checks it (Sluice's restart does, before anything is delivered).
   */
  upload(key: string, options: { now: Date; expiresInSeconds?: number }): Promise<PresignedUrl> {
    return this.sign('PUT', key, options);
  }

  private async sign(
    method: 'GET' | 'PUT',
    key: string,
    { now, expiresInSeconds = DEFAULT_PRESIGN_SECONDS }: { now: Date; expiresInSeconds?: number },
  ): Promise<PresignedUrl> {
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_PRESIGN_SECONDS) {
      throw new PresignExpiryError(expiresInSeconds);
    }
    // Signed at `now` so the URL's lifetime and the reported `expiresAt` agree.
    const signingDate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const url = await presignObjectUrl({
      ...this.endpoint,
      method,
      bucket: this.bucketName,
      key,
      credentials: this.credentials,
      expiresInSeconds,
      signingDate,
    });
    return { url, expiresAt: new Date(signingDate.getTime() + expiresInSeconds * 1000).toISOString() };
  }
}
