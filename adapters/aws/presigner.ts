import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
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
 * The S3 client that signs operator URLs. Its own client because the SDK's default
 * (`requestChecksumCalculation: WHEN_SUPPORTED`) bakes the CRC32 of an empty body
 * into a presigned PUT, which S3 then enforces against the operator's upload.
 */
export function presignClient(config: SluiceConfig): S3Client {
  const local = config.endpoints.s3 !== undefined;
  return new S3Client({
    region: config.region,
    endpoint: config.endpoints.s3,
    forcePathStyle: local,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
}

/**
 * Presigned GET and PUT URLs for exactly one object each, signed for `host` only:
 * a plain HTTP client (curl, fetch, a browser) can use them as they are.
 */
export class S3Presigner {
  constructor(
    private readonly s3: S3Client,
    readonly bucketName: string,
  ) {}

  static forConfig(config: SluiceConfig): S3Presigner {
    return new S3Presigner(presignClient(config), config.bucketName);
  }

  download(key: string, options: { now: Date; expiresInSeconds?: number }): Promise<PresignedUrl> {
    return this.sign(new GetObjectCommand({ Bucket: this.bucketName, Key: key }), options);
  }

  /**
   * A PUT of exactly `key`. A presigned PUT cannot bound the size: whoever consumes the
   * upload checks it (Sluice's restart does, before anything is delivered).
   */
  upload(key: string, options: { now: Date; expiresInSeconds?: number }): Promise<PresignedUrl> {
    return this.sign(new PutObjectCommand({ Bucket: this.bucketName, Key: key }), options);
  }

  private async sign(
    command: GetObjectCommand | PutObjectCommand,
    { now, expiresInSeconds = DEFAULT_PRESIGN_SECONDS }: { now: Date; expiresInSeconds?: number },
  ): Promise<PresignedUrl> {
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_PRESIGN_SECONDS) {
      throw new PresignExpiryError(expiresInSeconds);
    }
    // Signed at `now` so the URL's lifetime and the reported `expiresAt` agree.
    const signingDate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const url = await getSignedUrl(this.s3, command, { expiresIn: expiresInSeconds, signingDate });
    return { url, expiresAt: new Date(signingDate.getTime() + expiresInSeconds * 1000).toISOString() };
  }
}
