// The fault matrix on S3 (patched s3rver): every call of an operation in turn answers with an
// error after it has acted ("lost": the request landed, the answer did not), the failure that
// object storage adds to a disk's. Faults before a call acts are storage-independent: memdb's
// matrix runs them.
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { API_OPERATIONS, describeFaultMatrix, FaultyBackend, fill, type FaultLevel } from '@romi/db-conformance';
import { S3Backend } from '../src/index.js';
import { clientFor, randomPrefix } from './helpers.js';
import { startS3rver, type S3TestServer } from '@romi/test-utils';

let server: S3TestServer;
let client: S3Client;
let bucket: string;
beforeAll(async () => {
  server = await startS3rver();
  bucket = await server.bucket();
  client = clientFor(server);
});
afterAll(async () => {
  client?.destroy();
  await server?.close();
});

const s3: FaultLevel = {
  name: 'backend',
  faults: ['lost'],
  // ETags of single-part objects are the MD5 of their bytes: one listing tells the content.
  contentOf: async (backend) => {
    const out = new Map<string, string>();
    for await (const entry of backend.list('')) {
      if (entry.kind === 'object' && entry.key !== 'lock') out.set(entry.key.replace(/\/files_\d{8}_\d{6}(_\d+)?\.json$/, '/files_<time>.json'), `${entry.size}:${entry.etag}`);
    }
    return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
  },
  create: async (content) => {
    const raw = new S3Backend({ bucket, prefix: randomPrefix('faults'), endpoint: server.endpoint, region: server.region, forcePathStyle: true, client, leaseMs: 5_000, verifyConditionalWrites: false });
    await fill(raw, content);
    const dispose = async () => {
      const keys: string[] = [];
      for await (const entry of raw.list('', { internal: true })) if (entry.kind === 'object') keys.push(entry.key);
      await Promise.all(keys.map((key) => raw.delete(key)));
    };
    return { raw, faulty: (plan) => new FaultyBackend(raw, plan), dispose };
  },
};

// The operations whose S3 paths differ from a file system's (conditional creates, streams,
// folder markers, prefix deletes); all of them run on memdb and fsdb.
const S3_OPERATIONS = API_OPERATIONS.filter((op) =>
  ['createScan', 'createFileset', 'createFiles', 'writeBytes (new extension)', 'writeStream', 'file.setMetadata', 'deleteFileset'].includes(op.name),
);

describeFaultMatrix('s3db (s3rver)', [s3], S3_OPERATIONS, { timeout: 120_000 });
