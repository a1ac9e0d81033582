// S3-protocol servers for the tests and the bench.
//
// - startS3rver(): the patched s3rver (patches/s3rver@3.7.1.patch) in this process,
//   on 127.0.0.1, a random port and a fresh temp directory. Always available.
// - radosgwFromEnv(): a Ceph radosgw started by scripts/ceph/start.sh, when
//   ROMI_TEST_RGW_ENDPOINT (+ _ACCESS_KEY, _SECRET_KEY) is set.
// - s3Targets(): both, so a suite can `describe.each` over them.
//
// See this package's README for what each server supports.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';

import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';

type S3ServerKind = 's3rver' | 'radosgw';

interface S3TestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What a test needs to build an S3Client for a running server. */
export interface S3TestServer {
  kind: S3ServerKind;
  endpoint: string;
  region: string;
  credentials: S3TestCredentials;
  forcePathStyle: true;
  /** Creates a fresh, empty bucket (random name unless given) and returns its name. */
  bucket(name?: string): Promise<string>;
  /** s3rver: stops it and deletes its directory. radosgw: deletes the buckets this handle created. */
  close(): Promise<void>;
}

export interface S3Target {
  kind: S3ServerKind;
  start(): Promise<S3TestServer>;
}

const REGION = 'us-east-1';

// The AWS SDK prints a Node-22 notice on Node 20 for every client otherwise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Bucket names: 3-63 chars of [a-z0-9-]; random so tests never share one. */
export function randomBucketName(prefix = 'romi-test'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** A handle on a running server: an admin client that makes buckets, and `close(admin, buckets made)`. */
function handle(kind: S3ServerKind, endpoint: string, credentials: S3TestCredentials, close: (admin: S3Client, buckets: Set<string>) => Promise<void>): S3TestServer {
  const admin = new S3Client({ endpoint, region: REGION, credentials, forcePathStyle: true });
  const buckets = new Set<string>();
  return {
    kind,
    endpoint,
    region: REGION,
    credentials,
    forcePathStyle: true,
    async bucket(name = randomBucketName()) {
      await admin.send(new CreateBucketCommand({ Bucket: name }));
      buckets.add(name);
      return name;
    },
    async close() {
      try {
        await close(admin, buckets);
      } finally {
        admin.destroy();
      }
    },
  };
}

export async function startS3rver(): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'romi-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  const { port } = await server.run();
  return handle('s3rver', `http://127.0.0.1:${port}`, { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, async () => {
    // Test clients may still hold keep-alive sockets; close() alone would wait for them.
    const httpServer = (server as unknown as { httpServer?: Server }).httpServer;
    const closed = server.close();
    httpServer?.closeAllConnections();
    await closed;
    await rm(directory, { recursive: true, force: true });
  });
}

/** The radosgw from scripts/ceph/start.sh, or undefined when its env is not set. */
export function radosgwFromEnv(env: NodeJS.ProcessEnv = process.env): S3TestServer | undefined {
  const endpoint = env.ROMI_TEST_RGW_ENDPOINT;
  if (!endpoint) return undefined;
  const accessKeyId = env.ROMI_TEST_RGW_ACCESS_KEY;
  const secretAccessKey = env.ROMI_TEST_RGW_SECRET_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(
      'ROMI_TEST_RGW_ENDPOINT is set but ROMI_TEST_RGW_ACCESS_KEY / ROMI_TEST_RGW_SECRET_KEY are not',
    );
  }
  return handle('radosgw', endpoint, { accessKeyId, secretAccessKey }, async (admin, buckets) => {
    // The cluster outlives the tests and its memstore OSD is RAM: give the space back.
    for (const bucket of buckets) await deleteBucketAndContents(admin, bucket);
    buckets.clear();
  });
}

async function deleteBucketAndContents(client: S3Client, bucket: string): Promise<void> {
  let continuationToken: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: continuationToken }),
    );
    const objects = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (objects.length) {
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
    }
    continuationToken = page.NextContinuationToken;
  } while (continuationToken);
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const upload of uploads.Uploads ?? []) {
    await client.send(
      new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key!, UploadId: upload.UploadId! }),
    );
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/**
 * The servers of the large suites (conformance, backend contract), split so that `pnpm test`
 * stays quick: s3rver there, radosgw in `pnpm test:slow` (ROMI_TESTS=slow, when
 * ROMI_TEST_RGW_ENDPOINT is set), both with ROMI_TESTS=all.
 */
export function suiteS3Targets(env: NodeJS.ProcessEnv = process.env): S3Target[] {
  const all = s3Targets(env);
  if (env.ROMI_TESTS === 'all') return all;
  return all.filter((t) => (env.ROMI_TESTS === 'slow') === (t.kind === 'radosgw'));
}

/** s3rver always; radosgw too when ROMI_TEST_RGW_ENDPOINT is set. */
export function s3Targets(env: NodeJS.ProcessEnv = process.env): S3Target[] {
  const targets: S3Target[] = [{ kind: 's3rver', start: startS3rver }];
  if (env.ROMI_TEST_RGW_ENDPOINT) {
    targets.push({ kind: 'radosgw', start: async () => radosgwFromEnv(env)! });
  }
  return targets;
}
