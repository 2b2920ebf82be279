import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PRESIGN_SECONDS, MAX_PRESIGN_SECONDS, PresignExpiryError, S3Presigner } from '../../adapters/aws/presigner';
import type { SluiceConfig } from '../../adapters/aws/config';

const base: SluiceConfig = {
  region: 'eu-west-1',
  tableName: 't',
  queueUrl: 'q',
  bucketName: 'sluice-payloads',
  localMode: false,
  allowPrivateTargets: false,
  endpoints: {},
};
// Signing needs credentials of some sort; the values never leave this process.
process.env.AWS_ACCESS_KEY_ID ??= 'AKIDEXAMPLE';
process.env.AWS_SECRET_ACCESS_KEY ??= 'example-secret';

const now = new Date('2026-03-01T10:00:00.250Z');

describe('S3Presigner', () => {
  it('signs a path-style GET of exactly one key on the local endpoint, for 300 s by default', async () => {
    const presigner = S3Presigner.forConfig({ ...base, localMode: true, endpoints: { s3: 'http://127.0.0.1:4566' } });
    const signed = await presigner.download('failed/f1/M:1/c1', { now });
    const url = new URL(signed.url);
    assert.equal(url.origin, 'http://127.0.0.1:4566');
    assert.equal(decodeURIComponent(url.pathname), '/sluice-payloads/failed/f1/M:1/c1');
    assert.equal(url.searchParams.get('X-Amz-Expires'), String(DEFAULT_PRESIGN_SECONDS));
    assert.equal(url.searchParams.get('X-Amz-Date'), '20260301T100000Z');
    assert.equal(url.searchParams.get('X-Amz-SignedHeaders'), 'host');
    assert.equal(signed.expiresAt, '2026-03-01T10:05:00.000Z');
  });

  it('signs a PUT without a baked-in checksum, so any body can be uploaded', async () => {
    const presigner = S3Presigner.forConfig(base);
    const signed = await presigner.upload('corrections/f1/m1/c1', { now, expiresInSeconds: MAX_PRESIGN_SECONDS });
    const url = new URL(signed.url);
    assert.equal(url.hostname, 'sluice-payloads.s3.eu-west-1.amazonaws.com');
    assert.equal(url.pathname, '/corrections/f1/m1/c1');
    assert.equal(url.searchParams.get('X-Amz-Expires'), '900');
    assert.equal(url.searchParams.get('x-id'), 'PutObject');
    for (const name of url.searchParams.keys()) assert.ok(!/checksum/i.test(name), `unexpected ${name}`);
    assert.equal(signed.expiresAt, '2026-03-01T10:15:00.000Z');
  });

  it('refuses expiries beyond 15 minutes or below a second', async () => {
    const presigner = S3Presigner.forConfig(base);
    for (const seconds of [0, -1, 901, 3600, 1.5]) {
      await assert.rejects(presigner.download('k', { now, expiresInSeconds: seconds }), PresignExpiryError);
    }
  });
});
