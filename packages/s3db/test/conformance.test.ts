// The shared behaviour suite on S3: patched s3rver always, Ceph radosgw when
// ROMI_TEST_RGW_ENDPOINT is set (scripts/ceph/start.sh; .ci/run does it).
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { describeConformance } from '@romi/db-conformance';
import { S3DB } from '../src/index.js';
import { clientFor, dbOptions, randomPrefix } from './helpers.js';
import { suiteS3Targets, type S3TestServer } from '@romi/test-utils';

const targets = suiteS3Targets();
// In `pnpm test:slow` this file runs on radosgw only: without one, it says so.
if (targets.length === 0) it.skip('runs on radosgw in pnpm test:slow: ROMI_TEST_RGW_ENDPOINT is not set (scripts/ceph/start.sh)', () => {});
for (const target of targets) {
  describe(`s3db on ${target.kind}`, () => {
    let server: S3TestServer;
    let client: S3Client;
    let bucket: string;
    beforeAll(async () => {
      server = await target.start();
      bucket = await server.bucket();
      client = clientFor(server);
    });
    afterAll(async () => {
      client?.destroy();
      await server?.close();
    });

    describeConformance(
      `s3db (${target.kind})`,
      async () => {
        // A fresh prefix in one bucket per test: buckets are slow to create on RGW.
        const opts = dbOptions(server, bucket, randomPrefix(), { leaseMs: 5_000 }, client);
        const db = await S3DB.init(opts);
        return { db, backend: db.backend, open: () => new S3DB(opts) };
      },
      { timeout: 60_000 },
    );
  });
}
