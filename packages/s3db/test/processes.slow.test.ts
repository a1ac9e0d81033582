// The writer lease across real processes, and a 100 MB file through streams with bounded
// memory, on every S3 test server (s3rver always, radosgw when configured).
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, type Scan } from '@romi/db-core';
import { S3DB, s3Url } from '../src/index.js';
import { clientFor, dbOptions, randomPrefix } from './helpers.js';
import { BIG_FILE, s3Targets, spawnProc, type Proc, type S3TestServer } from '@romi/test-utils';

const LEASE_MS = 3_000;

for (const target of s3Targets()) {
  describe(`processes on ${target.kind}`, { timeout: 120_000 }, () => {
    let server: S3TestServer;
    let client: S3Client;
    let bucket: string;
    const children: Proc[] = [];
    beforeAll(async () => {
      server = await target.start();
      bucket = await server.bucket();
      client = clientFor(server);
    });
    afterEach(() => {
      for (const c of children.splice(0)) {
        if (c.exitCode === null) {
          c.kill('SIGCONT');
          c.kill('SIGKILL');
        }
      }
    });
    afterAll(async () => {
      client?.destroy();
      await server?.close();
    });

    /** A fresh database; returns its URL (no secrets) and the env that gives a child the credentials. */
    const freshDb = async (): Promise<{ prefix: string; url: string; env: NodeJS.ProcessEnv }> => {
      const prefix = randomPrefix();
      await S3DB.init(dbOptions(server, bucket, prefix, {}, client));
      const url = `${s3Url({ bucket, prefix, endpoint: server.endpoint, region: server.region, forcePathStyle: true })}&leaseMs=${LEASE_MS}`;
      const env = { AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey };
      return { prefix, url, env };
    };
    const WRITER = new URL('procs/writer.ts', import.meta.url);
    // The shared BIG_FILE script opens any URL: it is given the package of the s3: scheme.
    const start = (script: URL, args: string[], env: NodeJS.ProcessEnv): Proc => {
      const c = spawnProc(script, args, { env, imports: ['@romi/s3db'] });
      children.push(c);
      return c;
    };

    it('two processes racing for the writer lease: exactly one wins, round after round', async () => {
      const { url, env } = await freshDb();
      const racers = [start(WRITER, [url], env), start(WRITER, [url], env)];
      await Promise.all(racers.map((c) => c.waitFor(/^ready$/)));
      for (const c of racers) expect(await c.next()).toBe('ready');
      for (let round = 0; round < 5; round++) {
        for (const c of racers) c.send('go');
        const outcomes = await Promise.all(racers.map((c) => c.next()));
        expect(outcomes.filter((l) => l.startsWith('connected '))).toHaveLength(1);
        expect(outcomes.filter((l) => l === `busy ${ErrorCodes.DB_BUSY}`)).toHaveLength(1);
        const winner = racers[outcomes.findIndex((l) => l.startsWith('connected '))]!;
        winner.send('release');
        expect(await winner.next()).toBe('released');
      }
      for (const c of racers) c.send('exit');
      await Promise.all(racers.map((c) => c.exited));
    });

    it('a lease holder frozen past its expiry is taken over; resumed, its next write fails with ROMI_LOCK_LOST', async () => {
      const { prefix, url, env } = await freshDb();
      const holder = start(WRITER, [url], env);
      await holder.waitFor(/^ready$/);
      holder.send('go');
      await holder.waitFor(/^connected /);
      holder.send('write');
      await holder.waitFor(/^wrote 3$/);
      // Another writer is refused while the holder renews its lease.
      const other = new S3DB(dbOptions(server, bucket, prefix, { leaseMs: LEASE_MS }, client));
      expect((await other.connect().catch((e: { code?: string }) => e))?.code).toBe(ErrorCodes.DB_BUSY);

      holder.kill('SIGSTOP');
      const frozenAt = Date.now();
      await other.connect({ waitMs: 4 * LEASE_MS });
      const waited = Date.now() - frozenAt;
      // Not stolen early: the lease had to run out first (it was renewed at most LEASE_MS/3 before the freeze).
      expect(waited).toBeGreaterThan(LEASE_MS / 2);
      const info = await other.backend.inspectLock('lock');
      expect(info?.owner).toContain(`pid ${process.pid} `);

      // The new owner writes where the frozen one was writing, and elsewhere.
      const held: Scan = await other.getScan('held');
      const before = (await held.getMetadata('tick')) as number;
      await held.setMetadata({ tick: -1, owner: 'new' });
      const fs = await (await other.createScan('after_takeover')).createFileset('fs');
      await (await fs.createFile('f')).writeText('new owner data', 'txt');

      holder.kill('SIGCONT');
      expect(await holder.waitFor(/^write-failed/, 20_000)).toBe(`write-failed ${ErrorCodes.LOCK_LOST}`);
      // Everything the frozen writer reported as written happened before the takeover.
      const wrote = holder.lines.filter((l) => l.startsWith('wrote ')).map((l) => Number(l.slice(6)));
      expect(Math.max(...wrote)).toBeLessThanOrEqual(before);

      holder.send('exit');
      await holder.exited;
      // Its disconnect did not remove the new owner's lease, and the new owner's data is intact.
      await other.reload();
      expect(await (await other.getScan('held')).getMetadata()).toEqual({ tick: -1, owner: 'new' });
      const again = await (await (await other.getScan('after_takeover')).getFileset('fs')).getFile('f');
      expect(await again.readText()).toBe('new owner data');
      expect((await other.backend.inspectLock('lock'))?.owner).toContain(`pid ${process.pid} `);
      await (await other.getScan('held')).setMetadata('still', 'writable');
      await other.disconnect();
      expect(await other.backend.inspectLock('lock')).toBeUndefined();
    });

    it('writes and reads a 100 MB file through streams with RSS below 200 MB (child process)', async () => {
      // A first tiny run fills the loader's transpile cache: the measured child then runs without
      // the TypeScript compiler in memory, and RSS measures romidb and the SDK only.
      const warm = await freshDb();
      await start(BIG_FILE, [warm.url, '1000'], warm.env).waitFor(/^ok /, 60_000);
      const { prefix, url, env } = await freshDb();
      const size = 100 * 1024 * 1024;
      const child = start(BIG_FILE, [url, String(size)], env);
      const line = await child.waitFor(/^ok /, 110_000);
      const [, sha1w, sha1r, bytes, peakMb, writeMs, readMs, baseMb, writePeakMb] = line.split(' ');
      console.log(`[${target.kind}] 100 MB: peak RSS ${peakMb} MB (${baseMb} MB at start, ${writePeakMb} MB while writing), write ${writeMs} ms, read ${readMs} ms`);
      expect(sha1r).toBe(sha1w);
      expect(Number(bytes)).toBe(size);
      expect(Number(peakMb)).toBeLessThan(200);
      await child.exited;
      // It was stored as one object of that size (multipart), and is gone with its scan.
      const db = new S3DB(dbOptions(server, bucket, prefix, {}, client));
      const meta = await db.backend.head('big/data/blob.bin');
      expect(meta?.size).toBe(size);
      expect(meta?.etag).toMatch(/-\d+$/);
      await db.connect();
      await db.deleteScan('big');
      expect(await db.backend.head('big/data/blob.bin')).toBeUndefined();
      await db.disconnect();
    });
  });
}
