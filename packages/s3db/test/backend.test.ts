// The Backend contract (@romi/db-conformance) on S3, then what only S3Backend and S3DB have:
// prefixes in a bucket, unquoted ETags, injected 409/500/lost answers of conditional writes, the
// conditional-write probe, multipart uploads, errors without secrets, the lease, URLs.
// On s3rver always, on radosgw when configured.
import { createHash } from 'node:crypto';
import { ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isRomiError, LockLostError, openDB, type Body, type Key } from '@romi/db-core';
import { describeBackend } from '@romi/db-conformance';
import { parseS3Url, S3Backend, S3DB, type S3BackendOptions } from '../src/index.js';
import { clientFor, codeOf, dbOptions, noRetryClientFor, randomPrefix } from './helpers.js';
import { everyRendering, randomBucketName, suiteS3Targets, type S3TestServer } from '@romi/test-utils';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');

async function* chunks(total: number, size = 1 << 20): AsyncIterable<Uint8Array> {
  for (let sent = 0, n = 0; sent < total; n++) {
    const part = new Uint8Array(Math.min(size, total - sent)).fill(n & 255);
    sent += part.length;
    yield part;
  }
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of stream as unknown as AsyncIterable<Uint8Array>) parts.push(p);
  return new Uint8Array(Buffer.concat(parts));
}

async function listAll(backend: S3Backend, prefix: string, delimiter?: '/'): Promise<string[]> {
  const out: string[] = [];
  for await (const e of backend.list(prefix, delimiter ? { delimiter } : {})) out.push(`${e.kind === 'prefix' ? 'P' : 'O'} ${e.key}`);
  return out.sort();
}

type Fault = 'conflict' | 'fail-before' | 'fail-after' | 'precondition-after';

/** A client whose conditional PUTs fail as told, before any SDK retry (initialize step). */
function faultyClient(server: S3TestServer, faults: Fault[], onFault?: (f: Fault) => Promise<void>): S3Client {
  const client = clientFor(server);
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { IfMatch?: string; IfNoneMatch?: string; Body?: unknown };
      const conditional = input.IfMatch !== undefined || input.IfNoneMatch !== undefined;
      if (!conditional || faults.length === 0 || input.Body === undefined) return next(args);
      const fault = faults.shift()!;
      await onFault?.(fault);
      const fake = (status: number, name: string): Error => Object.assign(new Error(`injected ${name}`), { name, Code: name, $metadata: { httpStatusCode: status } });
      if (fault === 'conflict') throw fake(409, 'ConditionalRequestConflict');
      if (fault === 'fail-before') throw fake(500, 'InternalError');
      await next(args);
      throw fault === 'fail-after' ? fake(500, 'InternalError') : fake(412, 'PreconditionFailed');
    },
    { step: 'initialize', name: 'romiFaults' },
  );
  return client;
}

const targets = suiteS3Targets();
// In `pnpm test:slow` this file runs on radosgw only: without one, it says so.
if (targets.length === 0) it.skip('runs on radosgw in pnpm test:slow: ROMI_TEST_RGW_ENDPOINT is not set (scripts/ceph/start.sh)', () => {});
for (const target of targets) {
  describe(`S3Backend on ${target.kind}`, { timeout: 60_000 }, () => {
    let server: S3TestServer;
    let client: S3Client;
    let bucket: string;
    const extraClients: S3Client[] = [];
    beforeAll(async () => {
      server = await target.start();
      bucket = await server.bucket();
      client = clientFor(server);
    });
    afterAll(async () => {
      for (const c of extraClients) c.destroy();
      client?.destroy();
      await server?.close();
    });
    const backendAt = (prefix: string, extra: Partial<S3BackendOptions> = {}, c: S3Client = client): S3Backend => new S3Backend(dbOptions(server, bucket, prefix, extra, c));

    // A fresh prefix per test in one bucket (buckets are slow to create on RGW). Other objects get
    // their own client without SDK retries, so that a loser's first answer of a conditional race
    // (412, or 500 on RGW) reaches the backend's conditional-write protocol.
    describeBackend(
      target.kind,
      async () => {
        const opts = dbOptions(server, bucket, randomPrefix(), {}, client);
        const clients: S3Client[] = [];
        const reopen = (): S3Backend => {
          const own = noRetryClientFor(server);
          clients.push(own);
          return new S3Backend({ ...opts, client: own });
        };
        return { backend: new S3Backend(opts), reopen, dispose: async () => clients.forEach((c) => c.destroy()) };
      },
      // 1,100 PUTs take seconds here; the s3db scale test pages through 2,500 keys on every S3 target.
      { timeout: 60_000, skipPaging: 'S3 listings and folder deletes past 1,000 keys: the s3db scale test' },
    );

    // Listings, folders, deletes and keys leaving the root in general: the Backend contract above.
    it('keeps every key under its prefix: a sibling prefix sharing its name and raw objects beside it stay apart', async () => {
      const root = randomPrefix();
      const b = backendAt(`${root}/a/b`);
      const sibling = backendAt(`${root}/a/bc`);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${root}/a/b-outside`, Body: 'x' }));
      await sibling.put('scan/files.json', enc('{}'));
      for (const key of ['scan/files.json', 'scan/fs/x.txt', 'top.txt']) await b.put(key, enc(key));
      expect(await listAll(b, '')).toEqual(['O scan/files.json', 'O scan/fs/x.txt', 'O top.txt']);
      expect(await listAll(b, '', '/')).toEqual(['O top.txt', 'P scan/']);
      expect(await listAll(sibling, '')).toEqual(['O scan/files.json']);
      // The raw bucket: everything is under "<prefix>/".
      const raw = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${root}/` }));
      const rawKeys = (raw.Contents ?? []).map((o) => o.Key!);
      expect(rawKeys.filter((key) => !key.startsWith(`${root}/a/b/`) && !key.startsWith(`${root}/a/bc/`))).toEqual([`${root}/a/b-outside`]);
      await b.delete('scan/');
      expect(await listAll(b, '')).toEqual(['O top.txt']);
      expect(await listAll(sibling, '')).toEqual(['O scan/files.json']);
      // "." segments, which a URL may resolve, are refused too (a file system resolves them inside the root).
      for (const bad of ['a/./b', 'a/..', './x'] as Key[]) {
        expect(await codeOf(b.get(bad))).toBe(ErrorCodes.INVALID_KEY);
        expect(await codeOf(b.put(bad, enc('x')))).toBe(ErrorCodes.INVALID_KEY);
      }
    });

    // Create-only, compare-and-swap and their races between clients: the Backend contract above.
    it('keeps ETags unquoted everywhere, and takes them quoted or not in If-Match', async () => {
      const b = backendAt(randomPrefix());
      const created = await b.put('k.json', enc('{"v": 1}'), { ifNoneMatch: '*' });
      expect(created.etag).not.toMatch(/"/);
      expect((await b.get('k.json')).meta.etag).toBe(created.etag);
      expect((await b.head('k.json'))?.etag).toBe(created.etag);
      const listed = [];
      for await (const e of b.list('')) if (e.kind === 'object') listed.push(e.etag);
      expect(listed).toEqual([created.etag]);
      // A quoted ETag given back is accepted too (it is sent in the form the server takes).
      const second = await b.put('k.json', enc('{"v": 2}'), { ifMatch: `"${created.etag}"` });
      expect(dec((await b.get('k.json')).bytes)).toBe('{"v": 2}');
      expect(second.etag).toBe((await b.head('k.json'))?.etag);
      expect(second.etag).not.toMatch(/"/);
    });

    it('settles 409 conflicts, 500s and lost answers of conditional writes (injected faults)', async () => {
      const prefix = randomPrefix();
      const plain = backendAt(prefix);
      const faults: Fault[] = [];
      const faulty = backendAt(prefix, {}, faultyClient(server, faults, async (f) => {
        if (f === 'fail-before' && interfere) await plain.put('k', enc('someone else'));
      }));
      let interfere = false;
      const start = await plain.put('k', enc('v0'));

      // 409 ConditionalRequestConflict twice, then through.
      faults.push('conflict', 'conflict');
      const m1 = await faulty.put('k', enc('v1'), { ifMatch: start.etag });
      expect(dec((await plain.get('k')).bytes)).toBe('v1');
      expect(m1.etag).toBe((await plain.head('k'))?.etag);
      // 409 every time: a condition failure in the end, nothing written.
      faults.push(...Array<Fault>(10).fill('conflict'));
      expect(await codeOf(faulty.put('k', enc('never'), { ifMatch: m1.etag }))).toBe(ErrorCodes.CONDITION_FAILED);
      faults.length = 0;
      expect(dec((await plain.get('k')).bytes)).toBe('v1');
      // The write landed but the answer was a 500 (or a 412 from a retry of it): our nonce says it is ours.
      faults.push('fail-after');
      const m2 = await faulty.put('k', enc('v2'), { ifMatch: m1.etag });
      expect(m2.etag).toBe((await plain.head('k'))?.etag);
      faults.push('precondition-after');
      const m3 = await faulty.put('k', enc('v3'), { ifMatch: m2.etag });
      expect(m3.etag).toBe((await plain.head('k'))?.etag);
      faults.push('precondition-after');
      await faulty.put('new-key', enc('created'), { ifNoneMatch: '*' });
      expect(dec((await plain.get('new-key')).bytes)).toBe('created');
      // A 500 that did not land while the condition still holds: retried.
      faults.push('fail-before');
      const m4 = await faulty.put('k', enc('v4'), { ifMatch: m3.etag });
      expect(dec((await plain.get('k')).bytes)).toBe('v4');
      // A 500 (as RGW gives losers) while someone else changed the object: a condition failure.
      interfere = true;
      faults.push('fail-before');
      expect(await codeOf(faulty.put('k', enc('v5'), { ifMatch: m4.etag }))).toBe(ErrorCodes.CONDITION_FAILED);
      expect(dec((await plain.get('k')).bytes)).toBe('someone else');
    });

    it('refuses to write to a store that ignores conditional writes (probe at the first lock)', async () => {
      const prefix = randomPrefix();
      await S3DB.init(dbOptions(server, bucket, prefix, {}, client));
      // A client that drops the conditional headers behaves like a store that ignores them.
      const ignoring = clientFor(server);
      extraClients.push(ignoring);
      ignoring.middlewareStack.add(
        (next) => async (args) => {
          const input = args.input as { IfMatch?: string; IfNoneMatch?: string };
          delete input.IfMatch;
          delete input.IfNoneMatch;
          return next(args);
        },
        { step: 'initialize', name: 'dropConditions' },
      );
      const db = new S3DB(dbOptions(server, bucket, prefix, {}, ignoring));
      const err = await db.connect().catch((e: unknown) => e);
      expect(isRomiError(err, ErrorCodes.NOT_SUPPORTED)).toBe(true);
      expect((err as Error).message).toContain('If-None-Match: * on an existing key');
      expect(db.isConnected).toBe(false);
      expect(await listAll(db.backend, '')).toEqual(['O romidb']); // no probe, no lease left behind
      const risky = new S3DB(dbOptions(server, bucket, prefix, { verifyConditionalWrites: false }, ignoring));
      await risky.connect();
      await risky.disconnect();
      // A store that honours them passes the probe, once per backend object.
      const fine = new S3DB(dbOptions(server, bucket, prefix, {}, client));
      await fine.connect();
      await fine.disconnect();
      await fine.connect();
      await fine.disconnect();
      expect(await listAll(fine.backend, '')).toEqual(['O romidb']);
    });

    // Streams of a few MiB, empty ones, web streams, conditional streams, failing bodies and
    // pre-aborted calls: the Backend contract above. Here: what goes multipart.
    it('streams bodies beyond one part as multipart uploads; conditional streams are bounded', async () => {
      const b = backendAt(randomPrefix());
      const size = 20 * 1024 * 1024 + 12345;
      const parts: Uint8Array[] = [];
      for await (const c of chunks(size)) parts.push(c);
      const expected = new Uint8Array(Buffer.concat(parts));
      const meta = await b.put('big.bin', chunks(size));
      expect(meta.size).toBe(size);
      const head = await b.head('big.bin');
      expect(head?.size).toBe(size);
      expect(head?.etag).toBe(meta.etag);
      expect(head?.etag).toMatch(/-3$/); // 8 MiB parts
      expect(sha1((await b.get('big.bin')).bytes)).toBe(sha1(expected));
      const { stream, meta: streamMeta } = await b.getStream('big.bin');
      expect(streamMeta.etag).toBe(meta.etag);
      expect(sha1(await collect(stream))).toBe(sha1(expected));
      // Conditional streams are buffered to be sent as one conditional PUT, up to a bound.
      const small = backendAt(b.prefix, { maxConditionalStreamBytes: 2048 });
      expect(await codeOf(small.put('cond.txt', chunks(3000, 1000), { ifNoneMatch: '*' }))).toBe(ErrorCodes.NOT_SUPPORTED);
      expect(await b.head('cond.txt')).toBeUndefined();
      // A body that fails after a part was uploaded: a storage error naming the cause, and no object.
      async function* failing(): AsyncIterable<Uint8Array> {
        yield new Uint8Array(6 << 20);
        yield new Uint8Array(6 << 20);
        throw new Error('disk went away');
      }
      const failed = await b.put('failed.bin', failing()).catch((e: unknown) => e);
      expect(isRomiError(failed, ErrorCodes.STORAGE)).toBe(true);
      expect((failed as Error).message, (failed as Error).message).toContain('disk went away');
      expect(await b.head('failed.bin')).toBeUndefined();
      await b.delete('big.bin');
    });

    it('an abort after some parts were uploaded leaves no object, and cancels the multipart upload', async () => {
      const b = backendAt(randomPrefix());
      const controller = new AbortController();
      async function* slow(): AsyncIterable<Uint8Array> {
        for (let i = 0; i < 40; i++) {
          if (i === 12) controller.abort();
          yield new Uint8Array(1 << 20);
        }
      }
      expect(await codeOf(b.put('aborted.bin', slow(), { signal: controller.signal }))).toBe(ErrorCodes.ABORTED);
      expect(await b.head('aborted.bin')).toBeUndefined();
      // The multipart upload it had started is cancelled (in the background, just after).
      // s3rver has no ListMultipartUploads; RGW does.
      if (target.kind === 's3rver') return;
      const pending = async (): Promise<number> =>
        ((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${b.prefix}/` }))).Uploads ?? []).length;
      // Up to 30 s: on a loaded machine the abort request itself can take seconds.
      for (const deadline = Date.now() + 30_000; Date.now() < deadline && (await pending()) > 0; ) await new Promise((r) => setTimeout(r, 100));
      expect(await pending()).toBe(0);
    });

    it('maps failures to typed errors that never show a credential', async () => {
      const secret = 'romi-very-secret-value-0123456789';
      const keyId = 'AKIAROMIWRONGKEY0001';
      const wrongKey = new S3Backend({ bucket, prefix: 'x', endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: { accessKeyId: keyId, secretAccessKey: secret } });
      const unreachable = new S3Backend({ bucket, endpoint: 'http://127.0.0.1:9', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: keyId, secretAccessKey: secret } });
      const cases: Array<[string, S3Backend]> = [['wrong access key', wrongKey], ['unreachable endpoint', unreachable]];
      if (target.kind === 'radosgw') {
        // RGW checks signatures (s3rver does not): the right key id with a wrong secret.
        cases.push(['wrong secret', new S3Backend({ bucket, prefix: 'x', endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: { accessKeyId: server.credentials.accessKeyId, secretAccessKey: secret } })]);
      }
      for (const [label, backend] of cases) {
        for (const call of [() => backend.get('k'), () => backend.put('k', enc('v'), { ifNoneMatch: '*' }), () => backend.head('k'), () => backend.lock('lock')]) {
          let err: unknown;
          try {
            await call();
          } catch (e) {
            err = e;
          }
          expect(isRomiError(err, ErrorCodes.STORAGE), `${label}: ${String(err)}`).toBe(true);
          const shown = everyRendering(err);
          expect(shown).not.toContain(secret);
          expect(shown).not.toContain(keyId);
          if (label === 'unreachable endpoint') expect((err as Error).message).toMatch(/cannot reach/);
          else expect((err as Error).message).toMatch(/access denied/);
        }
        await backend.close();
      }
    });

    it('fails clearly on a missing bucket and on a prefix without a database', async () => {
      const missing = randomBucketName('romi-missing');
      const init = await S3DB.init(dbOptions(server, missing, 'db', {}, client)).catch((e: unknown) => e);
      expect(isRomiError(init, ErrorCodes.STORAGE)).toBe(true);
      expect((init as Error).message).toMatch(/does not exist/);
      const db = new S3DB(dbOptions(server, missing, 'db', {}, client));
      const connect = await db.connect().catch((e: unknown) => e);
      expect(isRomiError(connect, ErrorCodes.STORAGE)).toBe(true);
      expect((connect as Error).message).toMatch(/does not exist/);
      expect(await codeOf(new S3DB(dbOptions(server, bucket, randomPrefix('nodb'), {}, client)).connect())).toBe(ErrorCodes.NOT_A_DATABASE);
    });

    it('init writes the marker and nothing else, and may run twice', async () => {
      const prefix = randomPrefix();
      const db = await S3DB.init(dbOptions(server, bucket, prefix, {}, client));
      await S3DB.init(dbOptions(server, bucket, prefix, {}, client));
      expect(await listAll(db.backend, '')).toEqual(['O romidb']);
      expect(db.url).toBe(`s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}&forcePathStyle=true`);
      expect(db.backend.capabilities).toEqual({ conditionalWrites: 'global', localPaths: false, lockScope: 'global', fsync: false });
    });

    it('opens s3:// URLs with credentials from the AWS environment; the URL carries no secret', async () => {
      const prefix = randomPrefix();
      await S3DB.init(dbOptions(server, bucket, prefix, {}, client));
      const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
      process.env.AWS_ACCESS_KEY_ID = server.credentials.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = server.credentials.secretAccessKey;
      try {
        const url = `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}&forcePathStyle=true`;
        const db = (await openDB(url)) as S3DB;
        expect(db).toBeInstanceOf(S3DB);
        expect(db.isConnected).toBe(true);
        expect(db.url).toBe(url);
        expect(db.url).not.toContain(server.credentials.secretAccessKey);
        await db.createScan('from_url');
        expect(await db.listScans()).toEqual(['from_url']);
        await db.close();
        const reader = await openDB(url, { readOnly: true });
        expect(await reader.listScans()).toEqual(['from_url']);
        await (reader as S3DB).close();
      } finally {
        if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
        else process.env.AWS_ACCESS_KEY_ID = saved.id;
        if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
        else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      }
    });

    describe('the writer lease', () => {
      const leaseBody = (over: Record<string, unknown>): Uint8Array =>
        enc(JSON.stringify({ tool: 'romidb', owner: 'someone', host: 'other-host', pid: 4242, acquired: new Date().toISOString(), leaseMs: 30_000, version: 1, ...over }));

      it('is renewed while held, names its holder, and is removed on disconnect', async () => {
        const prefix = randomPrefix();
        const db = await S3DB.init(dbOptions(server, bucket, prefix, { leaseMs: 1_500 }, client));
        await db.connect();
        const first = JSON.parse(dec((await db.backend.get('lock')).bytes)) as { version: number; pid: number; expires: string };
        await new Promise((r) => setTimeout(r, 3_200));
        const later = JSON.parse(dec((await db.backend.get('lock')).bytes)) as { version: number; pid: number; expires: string };
        expect(later.pid).toBe(process.pid);
        expect(later.version).toBeGreaterThan(first.version + 1);
        expect(Date.parse(later.expires)).toBeGreaterThan(Date.now());
        const info = await db.backend.inspectLock('lock');
        expect(info).toMatchObject({ stale: false });
        expect(info?.owner).toContain(`pid ${process.pid} on `);
        await db.createScan('s'); // still held, two leases later
        expect((await db.check()).problems).toEqual([]);
        await db.disconnect();
        expect(await db.backend.head('lock')).toBeUndefined();
      });

      it('makes a second writer busy (naming the holder) until it expires, then lets it take over at once', async () => {
        const prefix = randomPrefix();
        const db = await S3DB.init(dbOptions(server, bucket, prefix, {}, client));
        await db.backend.put('lock', leaseBody({ expires: new Date(Date.now() + 60_000).toISOString() }));
        const busy = await db.connect().catch((e: unknown) => e);
        expect(isRomiError(busy, ErrorCodes.DB_BUSY)).toBe(true);
        expect((busy as Error).message).toContain('pid 4242 on other-host');
        const reader = new S3DB(dbOptions(server, bucket, prefix, {}, client));
        await reader.connect({ readOnly: true });
        expect((await reader.check()).problems).toEqual([]);
        await db.backend.put('lock', leaseBody({ expires: new Date(Date.now() - 1_000).toISOString() }));
        expect((await reader.check()).problems.map((p) => p.kind)).toEqual(['stale-lock']);
        const t0 = Date.now();
        await db.connect();
        expect(Date.now() - t0).toBeLessThan(2_000);
        expect((await db.backend.inspectLock('lock'))?.owner).toContain(`pid ${process.pid} `);
        await db.disconnect();
        await reader.disconnect();
      });

      it('never takes over a lock object it did not write; forceUnlock removes it', async () => {
        const prefix = randomPrefix();
        const db = await S3DB.init(dbOptions(server, bucket, prefix, {}, client));
        await db.backend.put('lock', enc(''));
        expect(await codeOf(db.connect())).toBe(ErrorCodes.DB_BUSY);
        expect(await codeOf(db.connect({ waitMs: 500 }))).toBe(ErrorCodes.DB_BUSY);
        expect(await db.backend.inspectLock('lock')).toMatchObject({ foreign: true });
        expect((await db.backend.get('lock')).bytes.byteLength).toBe(0);
        await S3DB.forceUnlock(dbOptions(server, bucket, prefix));
        await db.connect();
        await db.disconnect();
      });

      it('a writer whose lease was taken fails its next write with ROMI_LOCK_LOST, calls onLost, and leaves the new lease alone', async () => {
        const prefix = randomPrefix();
        const db = await S3DB.init(dbOptions(server, bucket, prefix, { leaseMs: 900 }, client));
        await db.connect();
        const scan = await db.createScan('s');
        await db.backend.forceUnlock('lock');
        const other = new S3DB(dbOptions(server, bucket, prefix, { leaseMs: 900 }, client));
        await other.connect();
        // By now a renewal of the first lease has failed, or (on a starved event loop) its deadline passed.
        await new Promise((r) => setTimeout(r, 1_000));
        expect(await codeOf(scan.setMetadata('a', 1))).toBe(ErrorCodes.LOCK_LOST);
        expect(await codeOf(db.createScan('t'))).toBe(ErrorCodes.LOCK_LOST);
        await db.disconnect();
        expect((await other.backend.inspectLock('lock'))?.owner).toContain(`pid ${process.pid} `);
        await (await other.getScan('s')).setMetadata('b', 2);
        await other.disconnect();
      });

      it('stops trusting its lease once renewals have failed until its local deadline (no write after it)', async () => {
        const prefix = randomPrefix();
        await S3DB.init(dbOptions(server, bucket, prefix, {}, client));
        let failLease = false;
        const flaky = clientFor(server);
        extraClients.push(flaky);
        flaky.middlewareStack.add(
          (next) => async (args) => {
            const input = args.input as { Key?: string; IfMatch?: string };
            if (failLease && input.Key === `${prefix}/lock` && input.IfMatch !== undefined) {
              throw Object.assign(new Error('connect ECONNRESET'), { code: 'ECONNRESET', $metadata: {} });
            }
            return next(args);
          },
          { step: 'initialize', name: 'failLease' },
        );
        const lost: Error[] = [];
        const backend = backendAt(prefix, { leaseMs: 600 }, flaky);
        const handle = await backend.lock('lock', { onLost: (e) => lost.push(e) });
        handle.assertHeld();
        failLease = true;
        await new Promise((r) => setTimeout(r, 800));
        expect(() => handle.assertHeld()).toThrow(LockLostError);
        expect(lost).toHaveLength(1);
        // Expired and never renewed: the lease is left for the next writer, which takes it at once.
        await handle.release();
        const other = new S3DB(dbOptions(server, bucket, prefix, {}, client));
        await other.connect();
        await other.disconnect();
      });
    });
  });
}

describe('s3:// URLs', () => {
  it('parse into options, and print back without secrets', () => {
    expect(parseS3Url('s3://my-bucket/labs/plants?endpoint=http%3A%2F%2F127.0.0.1%3A7480&region=eu-west-3&forcePathStyle=true&leaseMs=5000')).toEqual({
      bucket: 'my-bucket',
      prefix: 'labs/plants',
      endpoint: 'http://127.0.0.1:7480',
      region: 'eu-west-3',
      forcePathStyle: true,
      leaseMs: 5000,
    });
    expect(parseS3Url('s3://bucket')).toEqual({ bucket: 'bucket' });
    expect(parseS3Url('s3://bucket/')).toEqual({ bucket: 'bucket' });
    expect(parseS3Url('s3://bucket/a%20b/c/')).toEqual({ bucket: 'bucket', prefix: 'a b/c' });
    expect(new S3DB({ bucket: 'bkt', prefix: '/x/y/', credentials: { accessKeyId: 'AKIAIDONOTSHOW000001', secretAccessKey: 'do-not-show' } }).url).toBe('s3://bkt/x/y');
  });

  it('refuse credentials, unknown parameters and bad names with ROMI_INVALID_ARGUMENT, without echoing secrets', async () => {
    const refused = [
      's3://bkt/p?accessKeyId=AKIASECRETVALUE00001',
      's3://bkt/p?secretAccessKey=super-secret-value',
      's3://bkt/p?sessionToken=super-secret-value',
      's3://bkt/p?AWS_SECRET_ACCESS_KEY=super-secret-value',
      's3://AKIASECRETVALUE00001:super-secret-value@bkt/p',
      's3://bkt/p?endpoint=http%3A%2F%2Fuser%3Asuper-secret-value%40host',
      's3://bkt/p?colour=blue',
      's3://bkt/p?forcePathStyle=maybe',
      's3:///p',
    ];
    for (const url of refused) {
      let err: unknown;
      try {
        const opts = parseS3Url(url);
        new S3DB(opts);
      } catch (e) {
        err = e;
      }
      expect(isRomiError(err, ErrorCodes.INVALID_ARGUMENT), url).toBe(true);
      expect(everyRendering(err)).not.toContain('super-secret-value');
      expect(everyRendering(err)).not.toContain('AKIASECRETVALUE00001');
    }
    expect(await codeOf(openDB('s3://bkt/p?secretAccessKey=super-secret-value'))).toBe(ErrorCodes.INVALID_ARGUMENT);
    for (const bad of ['..', 'a/../b', 'a//b']) expect(await codeOf(() => new S3DB({ bucket: 'bkt', prefix: bad }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(await codeOf(() => new S3DB({ bucket: 'B@d!' }))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});

export type { Body };
