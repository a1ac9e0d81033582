// 2,500 files in one fileset: every listing pages past 1,000 keys, and a fileset delete
// takes several DeleteObjects calls. On s3rver always, on radosgw when configured.
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3DB } from '../src/index.js';
import { clientFor, dbOptions, randomPrefix } from './helpers.js';
import { s3Targets, type S3TestServer } from '@romi/test-utils';

const COUNT = 2_500;

for (const target of s3Targets()) {
  describe(`scale on ${target.kind}`, { timeout: 180_000 }, () => {
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

    it(`${COUNT} files in one fileset: batch write, paged listings, check, reopen, delete`, async () => {
      const prefix = randomPrefix();
      const opts = dbOptions(server, bucket, prefix, {}, client);
      const db = await S3DB.init(opts);
      await db.connect();
      const times: Record<string, number> = {};
      const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
        const t0 = performance.now();
        try {
          return await fn();
        } finally {
          times[label] = Math.round(performance.now() - t0);
        }
      };
      const ids = Array.from({ length: COUNT }, (_, i) => `img_${String(i).padStart(5, '0')}`);
      const fileset = await (await db.createScan('big_scan')).createFileset('images');
      await timed('createFiles', () =>
        fileset.createFiles(
          ids.map((id, i) => ({ id, data: `pixel ${i}`, ext: 'png', ...(i % 10 === 0 ? { metadata: { i } } : {}) })),
          { concurrency: 16 },
        ),
      );

      // Raw listings through the backend: recursive and one level, both past 1,000 keys.
      const listed = await timed('list', async () => {
        const keys: string[] = [];
        for await (const e of db.backend.list('big_scan/images/')) if (e.kind === 'object') keys.push(e.key);
        return keys;
      });
      expect(listed).toHaveLength(COUNT); // the folder's own marker is not one of its entries
      expect(new Set(listed).size).toBe(listed.length);
      let oneLevel = 0;
      for await (const e of db.backend.list('big_scan/images/', { delimiter: '/' })) if (e.kind === 'object') oneLevel++;
      expect(oneLevel).toBe(COUNT);

      const report = await timed('check', () => db.check());
      expect(report).toEqual({ ok: true, problems: [] });
      await db.disconnect();

      const reader = new S3DB(opts);
      await reader.connect({ readOnly: true });
      const rFileset = await (await reader.getScan('big_scan')).getFileset('images');
      expect(await timed('listFiles', () => rFileset.listFiles())).toEqual(ids);
      const files = await timed('getFiles', () => rFileset.getFiles());
      expect(files.map((f) => f.filename)).toEqual(ids.map((id) => `${id}.png`));
      expect(await files[1234]!.readText()).toBe('pixel 1234');
      expect(await rFileset.listFiles({ query: { i: 2490 } })).toEqual(['img_02490']);
      await reader.disconnect();

      await db.connect();
      await timed('deleteFileset', async () => (await db.getScan('big_scan')).deleteFileset('images'));
      const left: string[] = [];
      for await (const e of db.backend.list('big_scan/')) if (e.kind === 'object') left.push(e.key);
      expect(left.sort()).toEqual(['big_scan/files.json', 'big_scan/metadata/metadata.json']);
      await db.disconnect();
      console.log(`[${target.kind}] ${COUNT} files (ms): ${JSON.stringify(times)}`);
    });
  });
}
