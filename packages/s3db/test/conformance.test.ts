// The shared behaviour suite on S3: patched s3rver always, Ceph radosgw when
// ROMI_TEST_RGW_ENDPOINT is set (scripts/ceph/start.sh; .ci/run does it).
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe } from 'vitest';
import { describeConformance } from '@romi/db-conformance';
import { S3DB } from '../src/index.js';
import { clientFor, dbOptions, randomPrefix } from './helpers.js';
import { s3Targets, type S3TestServer } from '@romi/test-utils';

for (const target of s3Targets()) {
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
