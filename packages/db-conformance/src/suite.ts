/**
 * The behaviour every backend shares (API.md), one set of assertions for memdb, fsdb and s3db.
 * Each test gets a fresh database from the factory; failure paths assert the error code and
 * that the raw storage is byte-for-byte unchanged.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isRomiError, toKey, type DB, type Fileset, type Scan } from '@romi/db-core';
import { listKeys, putText, snapshot, text, type ConformanceContext, type ConformanceFactory, type ConformanceOptions, type Feature } from './context.js';
import { describeOwnership } from './ownership.js';

const INVALID_IDS: Array<[string, unknown]> = [
  ['".."', '..'],
  ['"."', '.'],
  ['a path "a/b"', 'a/b'],
  ['a backslash', 'a\\b'],
  ['the empty string', ''],
  ['256 characters', 'x'.repeat(256)],
  ['a leading dot', '.hidden'],
  ['a space', 'a b'],
  ['non-ASCII', 'été'],
  ['a NUL', 'a\0b'],
  ['a number', 42],
];

const BAD_METADATA: Array<[string, () => unknown]> = [
  ['a function', () => ({ f: () => 1 })],
  ['undefined inside an array', () => ({ a: [1, undefined] })],
  ['a circular object', () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    return o;
  }],
  ['NaN', () => ({ n: NaN })],
  ['Infinity', () => ({ n: Infinity })],
  ['-Infinity', () => ({ n: [-Infinity] })],
  ['a BigInt', () => ({ n: 10n })],
  ['a Date', () => ({ d: new Date(0) })],
  ['a symbol', () => ({ s: Symbol('x') })],
];

const NOT_OBJECTS: Array<[string, unknown]> = [
  ['null', null],
  ['an array', [1, 2]],
  ['a number', 3],
  ['a Map', new Map()],
];

function code(err: unknown): string | undefined {
  return isRomiError(err) ? err.code : `not a RomiError: ${String(err)}`;
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return code(err);
  }
  return 'resolved';
}

export function describeConformance(name: string, factory: ConformanceFactory, options: ConformanceOptions = {}): void {
  const goldenDir = options.goldenDir ?? fileURLToPath(new URL('../../../test-fixtures/golden/', import.meta.url));
  const golden = (file: string): string => readFileSync(`${goldenDir}/${file}`, 'utf8');
  const needs = (feature: Feature): { skip: boolean; suffix: string } => {
    const reason = options.unsupported?.[feature];
    return { skip: reason !== undefined, suffix: reason === undefined ? '' : ` [skipped: ${reason}]` };
  };

  describe(`conformance: ${name}`, { timeout: options.timeout ?? 30_000 }, () => {
    let ctx: ConformanceContext;
    let db: DB;
    const extra: DB[] = [];
    const open = async (): Promise<DB> => {
      const other = await ctx.open();
      extra.push(other);
      return other;
    };
    /** Runs `fn`, expects it to fail with `expected`, and the storage to be unchanged. */
    const failsCleanly = async (expected: string, fn: () => Promise<unknown>): Promise<void> => {
      const before = await snapshot(ctx.backend);
      expect(await codeOf(fn)).toBe(expected);
      expect(await snapshot(ctx.backend)).toEqual(before);
    };
    const fullScan = async (): Promise<{ scan: Scan; fileset: Fileset }> => {
      const scan = await db.createScan('myscan_001', { metadata: { test: 1 } });
      const fileset = await scan.createFileset('fileset_001', { metadata: { test_fileset: 1 } });
      return { scan, fileset };
    };

    beforeEach(async () => {
      ctx = await factory();
      db = ctx.db;
    });
    afterEach(async () => {
      for (const other of extra.splice(0)) await other.disconnect().catch(() => {});
      await db.disconnect().catch(() => {});
      await ctx.dispose?.();
    });

    describe('lifecycle', () => {
      it('connects, reports its state, disconnects idempotently', async () => {
        expect(db.isConnected).toBe(false);
        await db.connect();
        expect(db.isConnected).toBe(true);
        expect(db.readOnly).toBe(false);
        expect(typeof db.url).toBe('string');
        await db.connect(); // connecting again in the same mode is a no-op
        await db.disconnect();
        expect(db.isConnected).toBe(false);
        await db.disconnect();
      });

      it('refuses every operation before connect with ROMI_NOT_CONNECTED', async () => {
        expect(await codeOf(db.listScans())).toBe(ErrorCodes.NOT_CONNECTED);
        expect(await codeOf(db.getScan('x'))).toBe(ErrorCodes.NOT_CONNECTED);
        await failsCleanly(ErrorCodes.NOT_CONNECTED, () => db.createScan('x'));
      });

      it('refuses operations through objects of a disconnected database', async () => {
        await db.connect();
        const { scan, fileset } = await fullScan();
        await db.disconnect();
        expect(await codeOf(scan.getMetadata())).toBe(ErrorCodes.NOT_CONNECTED);
        await failsCleanly(ErrorCodes.NOT_CONNECTED, () => fileset.createFile('f'));
      });

      it('throws ROMI_NOT_A_DATABASE without the marker, writing nothing', async () => {
        await ctx.backend.delete(toKey('romidb'));
        const before = await snapshot(ctx.backend);
        expect(await codeOf(db.connect())).toBe(ErrorCodes.NOT_A_DATABASE);
        expect(await codeOf(db.connect({ readOnly: true }))).toBe(ErrorCodes.NOT_A_DATABASE);
        expect(db.isConnected).toBe(false);
        expect(await snapshot(ctx.backend)).toEqual(before);
      });

      it('lets one writer in: a second writer gets ROMI_DB_BUSY until the first disconnects', async () => {
        await db.connect();
        const second = await open();
        expect(await codeOf(second.connect())).toBe(ErrorCodes.DB_BUSY);
        expect(second.isConnected).toBe(false);
        await db.disconnect();
        await second.connect();
        expect(second.isConnected).toBe(true);
      });

      it('waits for the lock with waitMs', async () => {
        await db.connect();
        const second = await open();
        const started = Date.now();
        const waiting = second.connect({ waitMs: 5_000 });
        setTimeout(() => void db.disconnect(), 300);
        await waiting;
        expect(second.isConnected).toBe(true);
        expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      });

      it('allows read-only connections beside a writer, and refuses their writes with ROMI_READ_ONLY', async () => {
        await db.connect();
        const { scan, fileset } = await fullScan();
        const file = await fileset.createFile('f');
        await file.writeText('hello', 'txt');
        const reader = await open();
        await reader.connect({ readOnly: true });
        expect(reader.readOnly).toBe(true);
        const rScan = await reader.getScan(scan.id);
        const rFileset = await rScan.getFileset(fileset.id);
        const rFile = await rFileset.getFile('f');
        expect(await rFile.readText()).toBe('hello');
        await failsCleanly(ErrorCodes.READ_ONLY, () => reader.createScan('other'));
        await failsCleanly(ErrorCodes.READ_ONLY, () => reader.deleteScan(scan.id));
        await failsCleanly(ErrorCodes.READ_ONLY, () => rScan.setMetadata({ a: 1 }));
        await failsCleanly(ErrorCodes.READ_ONLY, () => rScan.setMetadata('a', 1));
        await failsCleanly(ErrorCodes.READ_ONLY, () => rScan.createFileset('other'));
        await failsCleanly(ErrorCodes.READ_ONLY, () => rScan.deleteFileset(fileset.id));
        await failsCleanly(ErrorCodes.READ_ONLY, () => rFileset.setMetadata({ a: 1 }));
        await failsCleanly(ErrorCodes.READ_ONLY, () => rFileset.createFile('g'));
        await failsCleanly(ErrorCodes.READ_ONLY, () => rFileset.createFiles([{ id: 'g', data: 'x', ext: 'txt' }]));
        await failsCleanly(ErrorCodes.READ_ONLY, () => rFileset.deleteFile('f'));
        await failsCleanly(ErrorCodes.READ_ONLY, () => rFile.setMetadata('a', 1));
        await failsCleanly(ErrorCodes.READ_ONLY, () => rFile.writeBytes(new Uint8Array([1]), 'bin'));
        await failsCleanly(ErrorCodes.READ_ONLY, () => rFile.writeText('x', 'txt'));
        await failsCleanly(ErrorCodes.READ_ONLY, () => reader.check({ fix: true }));
      });

      it('read-only connections see a writer\'s awaited changes after reload()', async () => {
        await db.connect();
        const reader = await open();
        await reader.connect({ readOnly: true });
        expect(await reader.listScans()).toEqual([]);
        const scan = await db.createScan('s1', { metadata: { v: 1 } });
        await reader.reload();
        expect(await reader.listScans()).toEqual(['s1']);
        const rScan = await reader.getScan('s1');
        expect(await rScan.getMetadata('v')).toBe(1);
        await scan.setMetadata('v', 2);
        await scan.createFileset('fs');
        await reader.reload('s1');
        const again = await reader.getScan('s1');
        expect(await again.getMetadata('v')).toBe(2);
        expect(await again.listFilesets()).toEqual(['fs']);
      });

      it('disconnects on `await using`', async () => {
        {
          await using scoped = await open();
          await scoped.connect();
          expect(scoped.isConnected).toBe(true);
          const again = await open();
          expect(await codeOf(again.connect())).toBe(ErrorCodes.DB_BUSY);
        }
        await db.connect();
        expect(db.isConnected).toBe(true);
      });

      it('reads nothing of the scans on connect (lazy)', async () => {
        await db.connect();
        await db.createScan('s1');
        await putText(ctx.backend, 's1/metadata/metadata.json', '{ not json');
        await putText(ctx.backend, 's1/files.json', '{ not json');
        await db.disconnect();
        const other = await open();
        await other.connect();
        expect(await other.listScans()).toEqual(['s1']);
        const scan = await other.getScan('s1');
        expect(await codeOf(scan.getMetadata())).toBe(ErrorCodes.CORRUPT);
        expect(await codeOf(scan.listFilesets())).toBe(ErrorCodes.CORRUPT);
      });
    });

    describe('scans', () => {
      beforeEach(async () => {
        await db.connect();
      });

      it('creates, gets, lists (sorted), checks and deletes scans', async () => {
        expect(await db.listScans()).toEqual([]);
        const b = await db.createScan('scan_b');
        expect(b.id).toBe('scan_b');
        expect(b.db).toBe(db);
        await db.createScan('scan_a', { metadata: { plant: 'arabidopsis' } });
        await db.createScan('scan_c.v2-1');
        expect(await db.listScans()).toEqual(['scan_a', 'scan_b', 'scan_c.v2-1']);
        expect((await db.getScans()).map((s) => s.id)).toEqual(['scan_a', 'scan_b', 'scan_c.v2-1']);
        expect(await db.hasScan('scan_a')).toBe(true);
        expect(await db.hasScan('nope')).toBe(false);
        expect((await db.getScan('scan_a')).id).toBe('scan_a');
        expect(await (await db.getScan('scan_a')).getMetadata()).toEqual({ plant: 'arabidopsis' });
        await db.deleteScan('scan_b');
        expect(await db.listScans()).toEqual(['scan_a', 'scan_c.v2-1']);
        expect(await db.hasScan('scan_b')).toBe(false);
        expect(await listKeys(ctx.backend, 'scan_b/')).toEqual([]);
      });

      it('persists scans for a new DB object on the same storage', async () => {
        await db.createScan('s1', { metadata: { a: [1, 2] } });
        await db.disconnect();
        const other = await open();
        await other.connect();
        expect(await other.listScans()).toEqual(['s1']);
        expect(await (await other.getScan('s1')).getMetadata()).toEqual({ a: [1, 2] });
      });

      it('an empty scan is written as files.json plus metadata/metadata.json', async () => {
        await db.createScan('s1');
        expect(await text(ctx.backend, 's1/files.json')).toBe(golden('empty-files.json'));
        expect(await text(ctx.backend, 's1/metadata/metadata.json')).toBe('{}');
      });

      it('fails with ROMI_NOT_FOUND and ROMI_ALREADY_EXISTS, changing nothing', async () => {
        await db.createScan('s1');
        await failsCleanly(ErrorCodes.NOT_FOUND, () => db.getScan('s2'));
        await failsCleanly(ErrorCodes.NOT_FOUND, () => db.deleteScan('s2'));
        await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => db.createScan('s1'));
        await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => db.createScan('s1', { metadata: { x: 1 } }));
      });

      it('treats folders with files.json or metadata/ as scans, and nothing else', async () => {
        await putText(ctx.backend, 'with_index/files.json', '{"filesets": []}');
        await putText(ctx.backend, 'with_metadata/metadata/metadata.json', '{"a": 1}');
        await putText(ctx.backend, 'not_a_scan/readme.txt', 'hello');
        await putText(ctx.backend, '.hidden/files.json', '{"filesets": []}');
        await putText(ctx.backend, 'loose_file.txt', 'x');
        await db.reload();
        expect(await db.listScans()).toEqual(['with_index', 'with_metadata']);
        expect(await (await db.getScan('with_metadata')).listFilesets()).toEqual([]);
        expect(await db.hasScan('not_a_scan')).toBe(false);
      });

      it('lists and reads scans whose ids we would not create', async () => {
        await putText(ctx.backend, 'old scan é/files.json', '{"filesets": []}');
        await putText(ctx.backend, 'old scan é/metadata/metadata.json', '{"x": 1}');
        await db.reload();
        expect(await db.listScans()).toEqual(['old scan é']);
        expect(await (await db.getScan('old scan é')).getMetadata('x')).toBe(1);
        await failsCleanly(ErrorCodes.INVALID_ID, () => db.createScan('new scan é'));
      });

      it('keeps files it does not manage in a scan folder', async () => {
        const scan = await db.createScan('s1');
        await putText(ctx.backend, 's1/scan.toml', '[scan]\nx = 1\n');
        await putText(ctx.backend, 's1/measures.json', '{"angles": [1.0, 2.5]}');
        await putText(ctx.backend, 's1/webcache/abc.jpeg', 'jpeg');
        await scan.setMetadata('a', 1);
        const fs = await scan.createFileset('fs');
        await (await fs.createFile('f')).writeText('x', 'txt');
        await scan.deleteFileset('fs');
        expect(await text(ctx.backend, 's1/scan.toml')).toBe('[scan]\nx = 1\n');
        expect(await text(ctx.backend, 's1/measures.json')).toBe('{"angles": [1.0, 2.5]}');
        expect(await text(ctx.backend, 's1/webcache/abc.jpeg')).toBe('jpeg');
      });

      it('reads measures.json, {} when absent', async () => {
        const scan = await db.createScan('s1');
        expect(await scan.getMeasures()).toEqual({});
        await putText(ctx.backend, 's1/measures.json', '{"angles": [0.5, 1.0], "internodes": [10, 12.5]}');
        expect(await scan.getMeasures()).toEqual({ angles: [0.5, 1], internodes: [10, 12.5] });
        await putText(ctx.backend, 's1/measures.json', '[1, 2]');
        expect(await codeOf(scan.getMeasures())).toBe(ErrorCodes.CORRUPT);
      });
    });

    describe('filesets and files', () => {
      beforeEach(async () => {
        await db.connect();
      });

      it('creates, gets, lists (in creation order) and deletes filesets', async () => {
        const scan = await db.createScan('s1');
        for (const id of ['zeta', 'alpha', 'mid_1']) await scan.createFileset(id);
        expect(await scan.listFilesets()).toEqual(['zeta', 'alpha', 'mid_1']);
        expect((await scan.getFilesets()).map((f) => f.id)).toEqual(['zeta', 'alpha', 'mid_1']);
        const fs = await scan.getFileset('alpha');
        expect(fs.id).toBe('alpha');
        expect(fs.scan.id).toBe('s1');
        expect(fs.db).toBe(db);
        expect(await scan.hasFileset('alpha')).toBe(true);
        expect(await scan.hasFileset('beta')).toBe(false);
        await scan.deleteFileset('zeta');
        expect(await scan.listFilesets()).toEqual(['alpha', 'mid_1']);
      });

      it('creates, gets, lists (in creation order) and deletes files', async () => {
        const { fileset } = await fullScan();
        for (const id of ['z', 'a', 'm']) await fileset.createFile(id);
        expect(await fileset.listFiles()).toEqual(['z', 'a', 'm']);
        const f = await fileset.getFile('a');
        expect(f.id).toBe('a');
        expect(f.fileset.id).toBe('fileset_001');
        expect(f.scan.id).toBe('myscan_001');
        expect(f.db).toBe(db);
        expect(f.filename).toBeNull();
        expect(await fileset.hasFile('a')).toBe(true);
        expect(await fileset.hasFile('b')).toBe(false);
        await fileset.deleteFile('z');
        expect(await fileset.listFiles()).toEqual(['a', 'm']);
        expect((await fileset.getFiles()).map((x) => x.id)).toEqual(['a', 'm']);
      });

      it('writes files.json exactly as Python does', async () => {
        const scan = await db.createScan('testscan');
        const fs = await scan.createFileset('testfileset');
        await (await fs.createFile('text')).writeText('hello', 'txt');
        await (await fs.createFile('image')).writeBytes(new Uint8Array([137, 80, 78, 71]), '.png');
        expect(await text(ctx.backend, 'testscan/files.json')).toBe(golden('testscan-files.json'));
        expect(await text(ctx.backend, 'testscan/testfileset/text.txt')).toBe('hello');

        const other = await db.createScan('other');
        await (await other.createFileset('fs_b')).createFile('x');
        await other.createFileset('fs_a');
        expect(await text(ctx.backend, 'other/files.json')).toBe(golden('unwritten-files.json'));
      });

      it('deletes a fileset with its files and metadata, and a file with its data and metadata', async () => {
        const { scan, fileset } = await fullScan();
        const f = await fileset.createFile('f', { metadata: { m: 1 } });
        await f.writeText('data', 'txt');
        await (await fileset.createFile('g', { metadata: { m: 2 } })).writeText('more', 'txt');
        await fileset.deleteFile('f');
        expect(await listKeys(ctx.backend, 'myscan_001/')).toEqual([
          'myscan_001/files.json',
          'myscan_001/fileset_001/g.txt',
          'myscan_001/metadata/fileset_001.json',
          'myscan_001/metadata/fileset_001/g.json',
          'myscan_001/metadata/metadata.json',
        ]);
        await scan.deleteFileset('fileset_001');
        expect(await listKeys(ctx.backend, 'myscan_001/')).toEqual(['myscan_001/files.json', 'myscan_001/metadata/metadata.json']);
      });

      it('fails with typed errors at each level, changing nothing', async () => {
        const { scan, fileset } = await fullScan();
        await fileset.createFile('f');
        await failsCleanly(ErrorCodes.NOT_FOUND, () => scan.getFileset('nope'));
        await failsCleanly(ErrorCodes.NOT_FOUND, () => scan.deleteFileset('nope'));
        await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => scan.createFileset('fileset_001'));
        await failsCleanly(ErrorCodes.NOT_FOUND, () => fileset.getFile('nope'));
        await failsCleanly(ErrorCodes.NOT_FOUND, () => fileset.deleteFile('nope'));
        await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => fileset.createFile('f'));
        await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => fileset.createFile('f', { metadata: { a: 1 } }));
        await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => fileset.createFiles([{ id: 'new', data: 'x', ext: 'txt' }, { id: 'f', data: 'y', ext: 'txt' }]));
        await failsCleanly(ErrorCodes.INVALID_ARGUMENT, () => fileset.createFiles([{ id: 'n', data: 'x', ext: 'txt' }, { id: 'n', data: 'y', ext: 'txt' }]));
        const f = await fileset.getFile('f');
        await failsCleanly(ErrorCodes.NOT_FOUND, () => f.readBytes());
        await failsCleanly(ErrorCodes.NOT_FOUND, () => f.readText());
        await failsCleanly(ErrorCodes.INVALID_ARGUMENT, () => f.writeText('x', '../../evil'));
        await failsCleanly(ErrorCodes.INVALID_ARGUMENT, () => f.writeText('x', 'a/b'));
        await failsCleanly(ErrorCodes.INVALID_ARGUMENT, () => f.importFile('/this/path/does/not/exist.png'));
        // Objects that were deleted stop working.
        await fileset.deleteFile('f');
        await failsCleanly(ErrorCodes.NOT_FOUND, () => f.writeText('x', 'txt'));
        await scan.deleteFileset('fileset_001');
        await failsCleanly(ErrorCodes.NOT_FOUND, () => fileset.createFile('g'));
        await failsCleanly(ErrorCodes.NOT_FOUND, () => fileset.listFiles());
      });

      it('reading a file listed in files.json but missing from storage is ROMI_NOT_FOUND', async () => {
        const { fileset } = await fullScan();
        const f = await fileset.createFile('f');
        await f.writeText('x', 'txt');
        await ctx.backend.delete(toKey('myscan_001/fileset_001/f.txt'));
        expect(await codeOf(f.readBytes())).toBe(ErrorCodes.NOT_FOUND);
        const chunks = f.readStream().getReader();
        expect(await codeOf(chunks.read())).toBe(ErrorCodes.NOT_FOUND);
      });
    });

    describe('file data', () => {
      let fileset: Fileset;
      beforeEach(async () => {
        await db.connect();
        ({ fileset } = await fullScan());
      });

      it('round-trips bytes and text, and sets filename', async () => {
        const f = await fileset.createFile('f');
        const bytes = new Uint8Array(256).map((_, i) => i);
        await f.writeBytes(bytes, 'bin');
        expect(f.filename).toBe('f.bin');
        expect(await f.readBytes()).toEqual(bytes);
        const g = await fileset.createFile('g');
        await g.writeText('héllo 🌱\n', '.txt');
        expect(g.filename).toBe('g.txt');
        expect(await g.readText()).toBe('héllo 🌱\n');
        expect((await fileset.getFile('g')).filename).toBe('g.txt');
      });

      it('rewriting with another extension leaves no orphan behind', async () => {
        const f = await fileset.createFile('f');
        await f.writeText('{}', 'json');
        await f.writeText('x = 1', 'toml');
        expect(f.filename).toBe('f.toml');
        expect(await listKeys(ctx.backend, 'myscan_001/fileset_001/')).toEqual(['myscan_001/fileset_001/f.toml']);
        expect(await f.readText()).toBe('x = 1');
      });

      it('streams data in and out', async () => {
        const f = await fileset.createFile('big');
        const chunk = new Uint8Array(64 * 1024).map((_, i) => i % 251);
        async function* source(): AsyncIterable<Uint8Array> {
          for (let i = 0; i < 40; i++) yield chunk;
        }
        await f.writeStream(source(), 'raw');
        let total = 0;
        let sum = 0;
        for await (const part of f.readStream() as unknown as AsyncIterable<Uint8Array>) {
          total += part.byteLength;
          for (let i = 0; i < part.length; i += 997) sum += part[i]!;
        }
        expect(total).toBe(40 * chunk.byteLength);
        expect(sum).toBeGreaterThan(0);
        const web = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('from a '));
            controller.enqueue(new TextEncoder().encode('web stream'));
            controller.close();
          },
        });
        const g = await fileset.createFile('web');
        await g.writeStream(web, 'txt');
        expect(await g.readText()).toBe('from a web stream');
      });

      it('imports a local file, taking the extension from its name', async () => {
        const { mkdtemp, writeFile } = await import('node:fs/promises');
        const { tmpdir } = await import('node:os');
        const dir = await mkdtemp(`${tmpdir()}/romidb-import-`);
        await writeFile(`${dir}/photo.JPG`, 'jpegbytes');
        const f = await fileset.createFile('photo');
        await f.importFile(`${dir}/photo.JPG`);
        expect(f.filename).toBe('photo.JPG');
        expect(await f.readText()).toBe('jpegbytes');
      });

      it('creates many files in one batch with data and metadata', async () => {
        const files = await fileset.createFiles(
          Array.from({ length: 50 }, (_, i) => ({ id: `img_${String(i).padStart(3, '0')}`, data: new Uint8Array([i]), ext: 'png', metadata: { i } })),
          { concurrency: 4 },
        );
        expect(files).toHaveLength(50);
        expect(files[7]!.filename).toBe('img_007.png');
        expect(await fileset.listFiles()).toEqual(files.map((f) => f.id));
        expect(await (await fileset.getFile('img_042')).readBytes()).toEqual(new Uint8Array([42]));
        expect(await (await fileset.getFile('img_042')).getMetadata('i')).toBe(42);
        const unwritten = await fileset.createFiles([{ id: 'later' }]);
        expect(unwritten[0]!.filename).toBeNull();
      });

      it.skipIf(needs('localPath').skip)(`gives the real local path of written data${needs('localPath').suffix}`, async () => {
        const f = await fileset.createFile('f');
        expect(f.localPath()).toBeUndefined();
        await f.writeText('local', 'txt');
        const path = f.localPath();
        expect(path).toMatch(/myscan_001\/fileset_001\/f\.txt$/);
        expect(readFileSync(path!, 'utf8')).toBe('local');
      });

      it.skipIf(!needs('localPath').skip)(`gives no local path where the backend has none${needs('localPath').skip ? '' : ' [skipped: this backend has local paths]'}`, async () => {
        const f = await fileset.createFile('f');
        await f.writeText('x', 'txt');
        expect(f.localPath()).toBeUndefined();
      });
    });

    describe('ids', () => {
      beforeEach(async () => {
        await db.connect();
      });

      for (const [label, id] of INVALID_IDS) {
        it(`refuses ${label} as an id at every level with ROMI_INVALID_ID`, async () => {
          const { scan, fileset } = await fullScan();
          await failsCleanly(ErrorCodes.INVALID_ID, () => db.createScan(id as string));
          await failsCleanly(ErrorCodes.INVALID_ID, () => scan.createFileset(id as string));
          await failsCleanly(ErrorCodes.INVALID_ID, () => fileset.createFile(id as string));
          await failsCleanly(ErrorCodes.INVALID_ID, () => fileset.createFiles([{ id: id as string, data: 'x', ext: 'txt' }]));
        });
      }

      it('refuses reserved names', async () => {
        const { scan } = await fullScan();
        for (const id of ['romidb', 'lock']) await failsCleanly(ErrorCodes.INVALID_ID, () => db.createScan(id));
        for (const id of ['metadata', 'files.json', 'measures.json', 'webcache']) await failsCleanly(ErrorCodes.INVALID_ID, () => scan.createFileset(id));
      });

      it('accepts 255 characters, dots, dashes and underscores', async () => {
        const long = 'a'.repeat(255);
        const scan = await db.createScan(long);
        const fs = await scan.createFileset('A-b_c.1');
        await (await fs.createFile('x.y-z_0')).writeText('ok', 'txt');
        expect(await db.listScans()).toEqual([long]);
      });

      it('refuses lookups that would leave the database root', async () => {
        const { scan, fileset } = await fullScan();
        for (const id of ['..', '.', 'a/b', '../x', '']) {
          await failsCleanly(ErrorCodes.INVALID_ID, () => db.getScan(id));
          await failsCleanly(ErrorCodes.INVALID_ID, () => db.deleteScan(id));
          await failsCleanly(ErrorCodes.INVALID_ID, () => scan.getFileset(id));
          await failsCleanly(ErrorCodes.INVALID_ID, () => scan.deleteFileset(id));
          await failsCleanly(ErrorCodes.INVALID_ID, () => fileset.getFile(id));
          await failsCleanly(ErrorCodes.INVALID_ID, () => fileset.deleteFile(id));
        }
      });

      it('never follows a file name from files.json out of the root', async () => {
        const scan = await db.createScan('s1');
        await putText(ctx.backend, 'secret.txt', 'secret');
        await putText(ctx.backend, 's1/files.json', JSON.stringify({ filesets: [{ files: [{ file: '../../secret.txt', id: 'evil' }, { file: '../secret.txt', id: 'evil2' }], id: 'fs' }] }));
        await db.reload();
        const fs = await (await db.getScan('s1')).getFileset('fs');
        for (const id of ['evil', 'evil2']) {
          const f = await fs.getFile(id);
          const c = await codeOf(f.readBytes());
          expect([ErrorCodes.INVALID_KEY, ErrorCodes.CORRUPT]).toContain(c);
        }
        expect(await text(ctx.backend, 'secret.txt')).toBe('secret');
        expect(scan.id).toBe('s1');
      });
    });

    describe('metadata', () => {
      let scan: Scan;
      let fileset: Fileset;
      beforeEach(async () => {
        await db.connect();
        ({ scan, fileset } = await fullScan());
      });

      it('merges top-level keys shallowly at every level and persists before resolving', async () => {
        const file = await fileset.createFile('f', { metadata: { a: 1 } });
        for (const holder of [scan, fileset, file]) {
          await holder.setMetadata({ nested: { x: 1, y: 2 }, keep: true });
          await holder.setMetadata({ nested: { z: 3 } });
          await holder.setMetadata('single', 'value');
          expect(await holder.getMetadata('nested')).toEqual({ z: 3 });
          expect(await holder.getMetadata('keep')).toBe(true);
          expect(await holder.getMetadata('single')).toBe('value');
        }
        expect(await scan.getMetadata()).toEqual({ test: 1, nested: { z: 3 }, keep: true, single: 'value' });
        expect(await file.getMetadata()).toEqual({ a: 1, nested: { z: 3 }, keep: true, single: 'value' });
        await db.disconnect();
        const other = await open();
        await other.connect();
        const s2 = await other.getScan('myscan_001');
        const f2 = await (await s2.getFileset('fileset_001')).getFile('f');
        expect(await s2.getMetadata('nested')).toEqual({ z: 3 });
        expect(await f2.getMetadata()).toEqual({ a: 1, nested: { z: 3 }, keep: true, single: 'value' });
      });

      it('returns copies, and stores copies', async () => {
        const value = { list: [1, 2], obj: { a: 1 } };
        await scan.setMetadata('v', value);
        value.list.push(3);
        const got = await scan.getMetadata<typeof value>('v');
        expect(got).toEqual({ list: [1, 2], obj: { a: 1 } });
        got.obj.a = 99;
        const all = await scan.getMetadata();
        (all as Record<string, unknown>).test = 'changed';
        expect(await scan.getMetadata('v')).toEqual({ list: [1, 2], obj: { a: 1 } });
        expect(await scan.getMetadata('test')).toBe(1);
      });

      it('returns the fallback for a missing key, and {} for an object that never had metadata', async () => {
        expect(await scan.getMetadata('missing')).toBeUndefined();
        expect(await scan.getMetadata('missing', 'fallback')).toBe('fallback');
        expect(await fileset.getMetadata('missing', 42)).toBe(42);
        const f = await fileset.createFile('bare');
        expect(await f.getMetadata()).toEqual({});
        expect(await listKeys(ctx.backend, 'myscan_001/metadata/fileset_001/')).toEqual([]);
      });

      it('writes metadata JSON exactly as Python does', async () => {
        const values = JSON.parse(golden('metadata-values.json')) as Record<string, unknown>;
        await db.createScan('golden', { metadata: values });
        expect(await text(ctx.backend, 'golden/metadata/metadata.json')).toBe(golden('metadata-values.json'));
        const other = await db.createScan('golden2');
        await other.setMetadata(values);
        expect(await text(ctx.backend, 'golden2/metadata/metadata.json')).toBe(golden('metadata-values.json'));
      });

      it('keeps the text of numbers it did not change (276.0 stays 276.0)', async () => {
        const f = await fileset.createFile('00001_rgb');
        await putText(ctx.backend, 'myscan_001/metadata/fileset_001/00001_rgb.json', golden('pose-before.json'));
        await db.reload();
        const file = await (await (await db.getScan('myscan_001')).getFileset('fileset_001')).getFile('00001_rgb');
        expect(await file.getMetadata('approximate_pose')).toEqual([76.64343138951801, 343.64146101970397, 80, 276, 0]);
        await file.setMetadata('exposure', 0.25);
        expect(await text(ctx.backend, 'myscan_001/metadata/fileset_001/00001_rgb.json')).toBe(golden('pose-after-set.json'));
        // Writing back a value read unchanged keeps its text too.
        const pose = await file.getMetadata('approximate_pose');
        await file.setMetadata({ approximate_pose: pose, exposure: 0.25 });
        expect(await text(ctx.backend, 'myscan_001/metadata/fileset_001/00001_rgb.json')).toBe(golden('pose-after-set.json'));
        expect(f.id).toBe('00001_rgb');
      });

      for (const [label, make] of BAD_METADATA) {
        it(`refuses ${label} with ROMI_INVALID_METADATA, changing nothing`, async () => {
          const file = await fileset.createFile('f');
          await failsCleanly(ErrorCodes.INVALID_METADATA, () => scan.setMetadata(make() as Record<string, unknown>));
          await failsCleanly(ErrorCodes.INVALID_METADATA, () => scan.setMetadata('k', make()));
          await failsCleanly(ErrorCodes.INVALID_METADATA, () => fileset.setMetadata(make() as Record<string, unknown>));
          await failsCleanly(ErrorCodes.INVALID_METADATA, () => file.setMetadata(make() as Record<string, unknown>));
          await failsCleanly(ErrorCodes.INVALID_METADATA, () => db.createScan('new_scan', { metadata: make() as Record<string, unknown> }));
          await failsCleanly(ErrorCodes.INVALID_METADATA, () => scan.createFileset('new_fs', { metadata: make() as Record<string, unknown> }));
          await failsCleanly(ErrorCodes.INVALID_METADATA, () => fileset.createFile('new_f', { metadata: make() as Record<string, unknown> }));
          await failsCleanly(ErrorCodes.INVALID_METADATA, () => fileset.createFiles([{ id: 'new_f', metadata: make() as Record<string, unknown> }]));
        });
      }

      for (const [label, value] of NOT_OBJECTS) {
        it(`refuses ${label} as a metadata object`, async () => {
          await failsCleanly(ErrorCodes.INVALID_METADATA, () => scan.setMetadata(value as Record<string, unknown>));
          await failsCleanly(ErrorCodes.INVALID_METADATA, () => db.createScan('x', { metadata: value as Record<string, unknown> }));
        });
      }

      it('refuses setMetadata(key) without a value', async () => {
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => (scan.setMetadata as unknown as (k: string) => Promise<void>)('k'));
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => scan.setMetadata('k', undefined));
      });

      it('stores "__proto__" as a plain key', async () => {
        await scan.setMetadata(JSON.parse('{"__proto__": {"polluted": true}}'));
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.keys(await scan.getMetadata())).toContain('__proto__');
      });

      it('reports corrupt metadata JSON with ROMI_CORRUPT and never rewrites it', async () => {
        await putText(ctx.backend, 'myscan_001/metadata/metadata.json', '{"truncated": ');
        await db.reload();
        const s = await db.getScan('myscan_001');
        expect(await codeOf(s.getMetadata())).toBe(ErrorCodes.CORRUPT);
        await failsCleanly(ErrorCodes.CORRUPT, () => s.setMetadata('a', 1));
        await putText(ctx.backend, 'myscan_001/metadata/metadata.json', '[1, 2]');
        await db.reload();
        await failsCleanly(ErrorCodes.CORRUPT, async () => (await db.getScan('myscan_001')).setMetadata('a', 1));
      });
    });

    describe('queries', () => {
      beforeEach(async () => {
        await db.connect();
        await db.createScan('s1', { metadata: { species: 'arabidopsis', biome: 'tropical_forest', object: { age: 30, tags: ['a', 'b'] } } });
        await db.createScan('s2', { metadata: { species: 'tomato', object: { age: 12, tags: ['b'] } } });
        await db.createScan('s3');
      });

      it('selects scans by recursive partial match', async () => {
        expect(await db.listScans({ query: {} })).toEqual(['s1', 's2', 's3']);
        expect(await db.listScans({ query: { species: 'tomato' } })).toEqual(['s2']);
        expect(await db.listScans({ query: { object: { age: 30 } } })).toEqual(['s1']);
        expect(await db.listScans({ query: { object: { tags: ['b'] } } })).toEqual(['s1', 's2']);
        expect(await db.listScans({ query: { object: { tags: ['a', 'b'] } } })).toEqual(['s1']);
        expect(await db.listScans({ query: { object: { tags: ['a', 'b', 'c'] } } })).toEqual([]);
        expect(await db.listScans({ query: { missing: 'x' } })).toEqual([]);
        expect(await db.listScans({ query: { missing: {} } })).toEqual(['s1', 's2', 's3']);
        expect(await db.listScans({ query: { species: 'tom.*' } })).toEqual([]);
        expect((await db.getScans({ query: { species: 'arabidopsis' } })).map((s) => s.id)).toEqual(['s1']);
      });

      it('treats strings as anchored regular expressions when fuzzy', async () => {
        expect(await db.listScans({ query: { biome: 'tropic.*' }, fuzzy: true })).toEqual(['s1']);
        expect(await db.listScans({ query: { biome: 'tropic' }, fuzzy: true })).toEqual([]);
        expect(await db.listScans({ query: { species: 'ara|tom.*' }, fuzzy: true })).toEqual(['s2']);
        expect(await db.listScans({ query: { species: '(ara.*|tom.*)' }, fuzzy: true })).toEqual(['s1', 's2']);
        expect(await db.listScans({ query: { object: { tags: ['[ab]'] } }, fuzzy: true })).toEqual(['s1', 's2']);
      });

      it('filters filesets and files the same way', async () => {
        const scan = await db.getScan('s1');
        await scan.createFileset('images', { metadata: { channel: 'rgb' } });
        await scan.createFileset('masks', { metadata: { channel: 'mask' } });
        expect(await scan.listFilesets({ query: { channel: 'rgb' } })).toEqual(['images']);
        const fs = await scan.getFileset('images');
        await fs.createFile('a', { metadata: { 'random image': true } });
        await fs.createFile('b', { metadata: { 'random image': false } });
        await fs.createFile('c');
        expect(await fs.listFiles({ query: { 'random image': true } })).toEqual(['a']);
        expect((await fs.getFiles({ query: { 'random image': false } })).map((f) => f.id)).toEqual(['b']);
        expect(await fs.listFiles({ query: { nonexistent_key: 'nonexistent_value' } })).toEqual([]);
      });

      it('refuses a malformed query or regular expression with ROMI_INVALID_ARGUMENT', async () => {
        expect(await codeOf(db.listScans({ query: [] as unknown as Record<string, unknown> }))).toBe(ErrorCodes.INVALID_ARGUMENT);
        expect(await codeOf(db.listScans({ query: { species: '(' }, fuzzy: true }))).toBe(ErrorCodes.INVALID_ARGUMENT);
      });
    });

    describe('concurrency', () => {
      beforeEach(async () => {
        await db.connect();
      });

      it('parallel createScan of one id: exactly one wins', async () => {
        const results = await Promise.allSettled(Array.from({ length: 8 }, () => db.createScan('race', { metadata: { n: 1 } })));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(code(r.reason)).toBe(ErrorCodes.ALREADY_EXISTS);
        expect(await db.listScans()).toEqual(['race']);
      });

      it('parallel setMetadata of different keys through one DB object: none lost', async () => {
        const { scan, fileset } = await fullScan();
        const file = await fileset.createFile('f');
        await Promise.all(
          [scan, fileset, file].flatMap((holder) => Array.from({ length: 25 }, (_, i) => holder.setMetadata(`k${i}`, i))),
        );
        for (const holder of [scan, fileset, file]) {
          const md = await holder.getMetadata();
          for (let i = 0; i < 25; i++) expect(md[`k${i}`]).toBe(i);
        }
        await db.reload();
        const md = await (await db.getScan('myscan_001')).getMetadata();
        expect(Object.keys(md)).toHaveLength(26);
      });

      it('parallel createFile and createFileset calls lose no index entry', async () => {
        const { scan, fileset } = await fullScan();
        await Promise.all([
          ...Array.from({ length: 30 }, (_, i) => fileset.createFile(`f${i}`)),
          ...Array.from({ length: 10 }, (_, i) => scan.createFileset(`fs${i}`)),
        ]);
        await db.reload();
        const s = await db.getScan('myscan_001');
        expect((await s.listFilesets()).length).toBe(11);
        expect((await (await s.getFileset('fileset_001')).listFiles()).length).toBe(30);
      });
    });

    describe('check()', () => {
      let fileset: Fileset;
      beforeEach(async () => {
        await db.connect();
        ({ fileset } = await fullScan());
        await (await fileset.createFile('a', { metadata: { m: 1 } })).writeText('a', 'txt');
        await (await fileset.createFile('b')).writeText('b', 'txt');
      });

      it('reports a healthy database as ok', async () => {
        const report = await db.check();
        expect(report).toEqual({ ok: true, problems: [] });
      });

      it('finds missing-file, unlisted-file, unlisted-fileset, corrupt-json and orphan-metadata', async () => {
        await ctx.backend.delete(toKey('myscan_001/fileset_001/a.txt'));
        await putText(ctx.backend, 'myscan_001/fileset_001/c.txt', 'c');
        await putText(ctx.backend, 'myscan_001/extra_fs/x.bin', 'x');
        await putText(ctx.backend, 'myscan_001/metadata/fileset_001/ghost.json', '{}');
        await putText(ctx.backend, 'myscan_001/metadata/fileset_001/b.json', '{broken');
        const before = await snapshot(ctx.backend);
        const report = await db.check();
        expect(await snapshot(ctx.backend)).toEqual(before);
        expect(report.ok).toBe(false);
        const kinds = report.problems.map((p) => `${p.kind}:${p.key}`).sort();
        expect(kinds).toEqual([
          'corrupt-json:myscan_001/metadata/fileset_001/b.json',
          'missing-file:myscan_001/fileset_001/a.txt',
          'orphan-metadata:myscan_001/metadata/fileset_001/ghost.json',
          'unlisted-file:myscan_001/extra_fs/x.bin',
          'unlisted-file:myscan_001/fileset_001/c.txt',
          'unlisted-fileset:myscan_001/extra_fs/',
        ]);
      });

      it('reports an unreadable files.json as corrupt-json', async () => {
        await putText(ctx.backend, 'myscan_001/files.json', '{"filesets": 3}');
        const report = await db.check();
        expect(report.problems.map((p) => p.kind)).toEqual(['corrupt-json']);
      });

      it('fix re-indexes unlisted files and drops entries whose data is gone, deleting no data', async () => {
        await ctx.backend.delete(toKey('myscan_001/fileset_001/a.txt'));
        await putText(ctx.backend, 'myscan_001/fileset_001/c.txt', 'c');
        await putText(ctx.backend, 'myscan_001/extra_fs/x.bin', 'x');
        const keysBefore = await listKeys(ctx.backend);
        const report = await db.check({ fix: true });
        // Everything is repaired but the metadata of "a", whose entry was dropped: fix keeps it.
        expect(report.ok).toBe(false);
        expect(report.problems.filter((p) => !p.fixed)).toEqual([expect.objectContaining({ kind: 'orphan-metadata', file: 'a' })]);
        const keysAfter = await listKeys(ctx.backend);
        for (const key of keysBefore) expect(keysAfter).toContain(key);
        expect(keysAfter.filter((k) => /myscan_001\/files_.*\.json$/.test(k))).toHaveLength(1);
        const scan = await db.getScan('myscan_001');
        expect(await scan.listFilesets()).toEqual(['fileset_001', 'extra_fs']);
        const fs = await scan.getFileset('fileset_001');
        expect(await fs.listFiles()).toEqual(['b', 'c']);
        expect(await (await fs.getFile('c')).readText()).toBe('c');
        expect(await (await (await scan.getFileset('extra_fs')).getFile('x')).readText()).toBe('x');
        expect(await db.check()).toEqual({ ok: false, problems: [expect.objectContaining({ kind: 'orphan-metadata', file: 'a' })] });
      });
    });


    describeOwnership({ ctx: () => ctx, db: () => db, codeOf });
  });
}
