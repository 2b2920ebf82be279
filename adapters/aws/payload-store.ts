import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { PayloadStore } from '../../core/ports';

export class S3PayloadStore implements PayloadStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucketName: string,
  ) {}

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucketName, Key: key, Body: body, ContentType: contentType }));
  }

  async get(key: string): Promise<Buffer> {
    const result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucketName, Key: key }));
    return Buffer.from(await result.Body!.transformToByteArray());
  }
}
