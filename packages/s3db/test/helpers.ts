// Shared set-up for the s3db tests: one S3Client per server, a fresh prefix per database.
import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, type S3DBOptions } from '../src/index.js';
import type { S3TestServer } from '@romi/test-utils';

export function clientFor(server: S3TestServer): S3Client {
  return createS3Client({ endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true });
}

/** A client that never retries, so that the first answer to a conditional write (412, or 500 on RGW) reaches the backend. */
export function noRetryClientFor(server: S3TestServer): S3Client {
  const { endpoint, region, credentials } = server;
  return new S3Client({ endpoint, region, credentials, forcePathStyle: true, maxAttempts: 1, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
}

export function randomPrefix(label = 'db'): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

/** Options for an S3DB on `server` (with the shared client unless `ownClient`). */
export function dbOptions(server: S3TestServer, bucket: string, prefix: string, extra: Partial<S3DBOptions> = {}, client?: S3Client): S3DBOptions {
  return {
    bucket,
    prefix,
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    ...(client ? { client } : { credentials: server.credentials }),
    ...extra,
  };
}

export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    return typeof code === 'string' && code.startsWith('ROMI_') ? code : `not a RomiError: ${String(err)}`;
  }
  return 'resolved';
}
