import { sigV4Signer, type AwsCredentials, type CredentialSource } from './client';
import type { EndpointContext } from './operation';
import { objectUrl, queryString } from './s3';

export interface PresignObjectOptions extends EndpointContext {
  method: 'GET' | 'PUT';
  bucket: string;
  key: string;
  credentials: AwsCredentials | CredentialSource;
  expiresInSeconds: number;
  /** The moment the URL's lifetime starts from (whole seconds: SigV4 dates have no fraction). */
  signingDate: Date;
}

/**
 * A presigned GET or PUT URL of one object, the very URL `getSignedUrl` of the SDK's S3
 * presigner makes for a GetObject or PutObject command without checksums
 * (`requestChecksumCalculation: 'WHEN_REQUIRED'`): only `host` is signed and the payload
 * is `UNSIGNED-PAYLOAD`, so a plain HTTP client can use it with any body and content type.
 */
export async function presignObjectUrl(options: PresignObjectOptions): Promise<string> {
  const query = { 'x-id': options.method === 'GET' ? 'GetObject' : 'PutObject' };
  const url = objectUrl(options, options.bucket, options.key, query);
  const signer = sigV4Signer({ signingName: 's3', region: options.region, credentials: options.credentials, applyChecksum: false });
  const signed = await signer.presign(
    {
      method: options.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      // Spelled as the SDK's presigner spells it: hoisted into the query, the name is kept as is and sorts with it.
      headers: { host: url.host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
    },
    { expiresIn: options.expiresInSeconds, signingDate: options.signingDate, unsignableHeaders: new Set(['content-type']) },
  );
  return `${url.origin}${url.pathname}?${queryString(signed.query as Record<string, string>)}`;
}
