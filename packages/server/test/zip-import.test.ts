// importZipScan (POST /archive/<scan_id>'s import) on every backend: a GET archive of a fixture
// scan posted back is the same scan (owner set), a zipped scan folder is stripped, webcache/ is
// skipped, a large entry is streamed; and every hostile or broken archive (links, "..", absolute
// names, duplicates, file/folder conflicts, encryption, bombs, lying sizes, cut or foreign files,
// taken ids, failures and aborts mid-import) is refused with its code and leaves storage as it was.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { deflateRawSync } from 'node:zlib';
import yazl from 'yazl';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJson, RomiDB, StorageError, toKey, type Backend } from '@romi/db-core';
import { scanArchive } from '../src/archive.js';
import { importZipScan } from '../src/zip-import.js';
import { targets } from './harness.js';

/** Every stored object and its version tag. */
async function snapshot(backend: Backend): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of backend.list('')) if (e.kind === 'object') out.set(e.key, e.etag);
  return out;
}

/** The objects under `scan/` (folders, romidb's own and webcache/ left out), by scan-relative name. */
async function scanObjects(backend: Backend, scan: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const e of backend.list(toKey(`${scan}/`))) {
    const rel = e.key.slice(scan.length + 1);
    if (e.kind !== 'object' || e.key.endsWith('/') || rel.startsWith('webcache/') || rel.includes('.romidb-')) continue;
    out.set(rel, Buffer.from((await backend.get(toKey(e.key))).bytes));
  }
  return out;
}

interface RawEntry {
  name: string | Buffer;
  data?: Buffer;
  /** Deflate the data (else stored). */
  deflate?: boolean;
  /** The uncompressed size written in the headers (default: the real one). */
  declared?: number;
  /** Unix mode in the external attributes (default: a regular file, or a folder for "…/"). */
  mode?: number;
  flags?: number;
  /** Another name in the local header. */
  localName?: string;
}

/** A ZIP written byte by byte, for what yazl refuses to make (CRCs left 0: yauzl does not check them). */
function rawZip(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name, 'utf8');
    const localName = e.localName === undefined ? name : Buffer.from(e.localName, 'utf8');
    const data = e.data ?? Buffer.alloc(0);
    const packed = e.deflate ? deflateRawSync(data) : data;
    // Traditional encryption prefixes the data with a 12-byte header.
    const body = (e.flags ?? 0) & 1 ? Buffer.concat([Buffer.alloc(12), packed]) : packed;
    const size = e.declared ?? data.length;
    const folder = name.toString('utf8').endsWith('/');
    const mode = e.mode ?? (folder ? 0o040755 : 0o100644);
    const flags = (e.flags ?? 0) | 0x800;
    const method = e.deflate ? 8 : 0;
    // The fields local and central headers share, in the same order (version needed … name length).
    const common = (header: Buffer, at: number, nameLength: number) => {
      header.writeUInt16LE(20, at);
      header.writeUInt16LE(flags, at + 2);
      header.writeUInt16LE(method, at + 4);
      header.writeUInt16LE(0x21, at + 8);
      header.writeUInt32LE(body.length, at + 14);
      header.writeUInt32LE(size, at + 18);
      header.writeUInt16LE(nameLength, at + 22);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    common(local, 4, localName.length);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    common(central, 6, name.length);
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, localName, body);
    centrals.push(central, name);
    offset += local.length + localName.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A valid scan's entries, to which each hostile test adds one. */
const SCAN: RawEntry[] = [
  { name: 'files.json', data: Buffer.from('{"filesets": [{"id": "images", "files": [{"id": "a", "file": "a.jpg"}]}]}') },
  { name: 'metadata/metadata.json', data: Buffer.from('{"object": {"species": "Arabidopsis thaliana"}}') },
  { name: 'images/a.jpg', data: Buffer.from('not really a jpeg') },
];

/** A ZIP made by yazl (as plantdb's clients make them). */
async function yazlZip(path: string, entries: Array<{ name: string; data?: Buffer; folder?: boolean }>): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    if (e.folder) zip.addEmptyDirectory(e.name);
    else zip.addBuffer(e.data ?? Buffer.alloc(0), e.name);
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'romidb-zip-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each(targets())('$name', (target) => {
  let made: Awaited<ReturnType<typeof target.make>>;
  let db: RomiDB;

  beforeEach(async () => {
    made = await target.make();
    db = new RomiDB(made.backend);
    await db.connect();
  });
  afterEach(async () => {
    await db.disconnect();
    await made.dispose();
  });
  afterAll(() => target.close());

  async function zipFile(bytes: Buffer): Promise<string> {
    const path = join(dir, `upload-${Math.random().toString(36).slice(2)}.zip`);
    await writeFile(path, bytes);
    return path;
  }

  /** The import refused with `code`, storage exactly as it was; returns the message. */
  async function refused(path: string, code: string, scan = 'new_scan', opts: Partial<Parameters<typeof importZipScan>[3]> = {}): Promise<string> {
    const before = await snapshot(made.backend);
    const err = await importZipScan(db, scan, path, { owner: 'alice', ...opts }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string },
    );
    expect(err, 'the import should fail').toBeDefined();
    expect(err!.code, err!.message).toBe(code);
    expect(await snapshot(made.backend)).toEqual(before);
    if (scan !== 'real_plant') expect(await db.hasScan(scan)).toBe(false);
    return err!.message;
  }

  it('a GET archive posted back is the same scan, owned by the uploader', async () => {
    const path = join(dir, 'real_plant_analyzed.zip');
    await pipeline(await scanArchive(made.backend, 'real_plant_analyzed'), createWriteStream(path));
    const result = await importZipScan(db, 'round_trip', path, { owner: 'alice' });
    const original = await scanObjects(made.backend, 'real_plant_analyzed');
    const copy = await scanObjects(made.backend, 'round_trip');
    expect([...copy.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [rel, bytes] of original) {
      if (rel === 'metadata/metadata.json') continue;
      expect(copy.get(rel)!.equals(bytes), rel).toBe(true);
    }
    expect(parseJson(copy.get('metadata/metadata.json')!)).toEqual({ ...(parseJson(original.get('metadata/metadata.json')!) as object), owner: 'alice' });
    expect(result.scan).toBe('round_trip');
    expect([...result.files].sort()).toEqual([...original.keys()].map((k) => `round_trip/${k}`).sort());
    expect(result.files.at(-1)).toBe('round_trip/files.json');
    expect(await made.backend.head(toKey('round_trip/.romidb-pending'))).toBeUndefined();
    // The new scan is seen at once, with the same filesets and files.
    const [a, b] = [await db.getScan('real_plant_analyzed'), await db.getScan('round_trip')];
    const ids = async (s: typeof a) => Promise.all((await s.listFilesets()).map(async (fs) => [fs, await (await s.getFileset(fs)).listFiles()]));
    expect(await ids(b)).toEqual(await ids(a));
    expect((await db.check({ scans: ['round_trip'] })).problems).toEqual([]);
  });

  it('strips one single top folder, skips webcache/, adds the metadata, streams a large entry', async () => {
    const path = join(dir, 'folder.zip');
    const big = Buffer.alloc(9 << 20, 7);
    await yazlZip(path, [
      { name: 'my_scan/', folder: true },
      { name: 'my_scan/files.json', data: Buffer.from('{"filesets": [{"id": "images", "files": [{"id": "big", "file": "big.bin"}]}]}') },
      { name: 'my_scan/images/big.bin', data: big },
      { name: 'my_scan/empty/', folder: true },
      { name: 'my_scan/webcache/thumb.jpg', data: Buffer.from('cached') },
      { name: '__MACOSX/my_scan/._files.json', data: Buffer.from('fork') },
    ]);
    const result = await importZipScan(db, 'from_folder', path, { owner: 'alice', fullname: 'Alice A.' });
    expect([...result.files].sort()).toEqual(['from_folder/files.json', 'from_folder/images/big.bin', 'from_folder/metadata/metadata.json']);
    const stored = await scanObjects(made.backend, 'from_folder');
    expect([...stored.keys()].sort()).toEqual(['files.json', 'images/big.bin', 'metadata/metadata.json']);
    expect(stored.get('images/big.bin')!.equals(big)).toBe(true);
    const metadata = parseJson(stored.get('metadata/metadata.json')!) as Record<string, unknown>;
    expect(metadata).toMatchObject({ owner: 'alice', created_by: 'Alice A.' });
    expect(metadata.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/);
    expect(metadata.last_modified).toBe(metadata.created);
    const scan = await db.getScan('from_folder');
    expect(await scan.getMetadata('owner')).toBe('alice');
    expect((await (await scan.getFileset('images')).getFile('big')).id).toBe('big');
  });

  it('keeps a metadata-only scan at the top (metadata/ is not a folder to strip)', async () => {
    const path = await zipFile(rawZip([{ name: 'metadata/metadata.json', data: Buffer.from('{"owner": "alice", "a": 1}') }]));
    const result = await importZipScan(db, 'meta_only', path, { owner: 'alice' });
    expect(result.files).toEqual(['meta_only/metadata/metadata.json']);
    // Already the uploader's: the archive's bytes are kept as they are.
    expect((await scanObjects(made.backend, 'meta_only')).get('metadata/metadata.json')!.toString()).toBe('{"owner": "alice", "a": 1}');
  });

  it("takes permissions without a file type (Python's ZipFile.writestr: 0o600) as files and folders by name", async () => {
    const path = await zipFile(rawZip([{ name: 'files.json', data: Buffer.from('{"filesets": []}'), mode: 0o600 }, { name: 'images/', mode: 0o700 }, { name: 'images/a.jpg', data: Buffer.from('a'), mode: 0o600 }]));
    const result = await importZipScan(db, 'from_python', path, { owner: 'alice' });
    expect([...result.files].sort()).toEqual(['from_python/files.json', 'from_python/images/a.jpg', 'from_python/metadata/metadata.json']);
  });

  it('refuses hostile entry names and special entries', async () => {
    const cases: Array<[RawEntry, RegExp]> = [
      [{ name: '../x', data: Buffer.from('x') }, /"\.\." segment/],
      [{ name: 'images/../../x', data: Buffer.from('x') }, /"\.\." segment/],
      [{ name: '/etc/x', data: Buffer.from('x') }, /absolute/],
      [{ name: 'C:/x', data: Buffer.from('x') }, /absolute/],
      [{ name: 'images\\x', data: Buffer.from('x') }, /not a valid key/],
      [{ name: './files2.json', data: Buffer.from('x') }, /"\." segment/],
      [{ name: 'images/./b.jpg', data: Buffer.from('x') }, /not a valid key/],
      [{ name: 'images//b.jpg', data: Buffer.from('x') }, /not a valid key/],
      [{ name: 'images/.romidb-pending', data: Buffer.from('x') }, /reserved/],
      [{ name: 'images/link', data: Buffer.from('/etc/passwd'), mode: 0o120777 }, /link or other special/],
      [{ name: 'images/fifo', mode: 0o010644 }, /link or other special/],
      [{ name: 'images/dir', mode: 0o040755 }, /folder whose name does not end/],
      [{ name: Buffer.from([0x69, 0x2f, 0xff, 0xfe]), data: Buffer.from('x') }, /not UTF-8/],
      [{ name: 'images/b.jpg', data: Buffer.from('x'), flags: 1 }, /encrypted/],
      [{ name: 'images/b.jpg', data: Buffer.from('x'), localName: 'images/c.jpg' }, /local header/],
      [{ name: 'images/a.jpg', data: Buffer.from('again') }, /appears twice/],
      [{ name: 'images/a.jpg/b', data: Buffer.from('x') }, /both a file and a folder/],
    ];
    for (const [entry, why] of cases) {
      const message = await refused(await zipFile(rawZip([...SCAN, entry])), 'ROMI_INVALID_ARGUMENT');
      expect(message, String(entry.name)).toMatch(why);
    }
  });

  it('refuses what is not a ZIP, a cut ZIP, and a ZIP without a scan', async () => {
    expect(await refused(await zipFile(Buffer.from('PK not a zip at all, just text\n'.repeat(10))), 'ROMI_INVALID_ARGUMENT')).toMatch(/not a ZIP archive/);
    const whole = rawZip(SCAN);
    expect(await refused(await zipFile(whole.subarray(0, whole.length - 30)), 'ROMI_INVALID_ARGUMENT')).toMatch(/not a ZIP archive/);
    expect(await refused(await zipFile(rawZip([{ name: 'images/a.jpg', data: Buffer.from('x') }])), 'ROMI_INVALID_ARGUMENT')).toMatch(/holds no scan/);
    expect(await refused(await zipFile(rawZip([{ name: 'a/files.json', data: Buffer.from('{}') }, { name: 'b/files.json', data: Buffer.from('{}') }])), 'ROMI_INVALID_ARGUMENT')).toMatch(/holds no scan/);
  });

  it('refuses a taken scan id and an occupied folder', async () => {
    const path = await zipFile(rawZip(SCAN));
    await refused(path, 'ROMI_ALREADY_EXISTS', 'real_plant');
    await made.backend.put(toKey('occupied/stray.txt'), Buffer.from('not romidb'));
    expect(await refused(path, 'ROMI_ALREADY_EXISTS', 'occupied')).toMatch(/occupied\/stray\.txt/);
  });

  it('refuses archives over the limits, by their headers', async () => {
    // A bomb: 80 MiB of zeros in a few KiB, over 200× the archive and the 64 MiB floor.
    const bomb = await zipFile(rawZip([...SCAN, { name: 'images/bomb.bin', data: Buffer.alloc(80 << 20), deflate: true }]));
    expect(await refused(bomb, 'ROMI_INVALID_ARGUMENT')).toMatch(/200× the archive/);
    const path = await zipFile(rawZip([...SCAN, { name: 'images/b.bin', data: Buffer.alloc(1000) }]));
    expect(await refused(path, 'ROMI_INVALID_ARGUMENT', 'new_scan', { limits: { maxBytes: 500 } })).toMatch(/limit of 500 bytes/);
    expect(await refused(path, 'ROMI_INVALID_ARGUMENT', 'new_scan', { limits: { maxJsonBytes: 20 } })).toMatch(/JSON file/);
  });

  it('refuses entries whose data lies about their size, while inflating, and removes what was written', async () => {
    // The directory says 10 bytes; the deflated data holds 100 KiB.
    const liar = await zipFile(rawZip([...SCAN, { name: 'images/liar.bin', data: Buffer.alloc(100 << 10, 1), deflate: true, declared: 10 }]));
    expect(await refused(liar, 'ROMI_INVALID_ARGUMENT')).toMatch(/liar\.bin.*cannot be read/);
    // Fewer bytes than declared.
    const short = await zipFile(rawZip([...SCAN, { name: 'images/short.bin', data: Buffer.alloc(1000, 1), deflate: true, declared: 5000 }]));
    expect(await refused(short, 'ROMI_INVALID_ARGUMENT')).toMatch(/short\.bin/);
    // Corrupt deflate data.
    const bad = rawZip([...SCAN, { name: 'images/bad.bin', data: Buffer.alloc(1000, 1), deflate: true }]);
    const at = bad.indexOf(deflateRawSync(Buffer.alloc(1000, 1)));
    bad.fill(0xff, at, at + 4);
    expect(await refused(await zipFile(bad), 'ROMI_INVALID_ARGUMENT')).toMatch(/bad\.bin/);
  });

  it('removes everything on a storage failure or an abort mid-import', async () => {
    const path = await zipFile(rawZip([...SCAN, { name: 'images/b.jpg', data: Buffer.from('b') }, { name: 'images/c.jpg', data: Buffer.from('c') }]));
    const backend = made.backend as Backend & { put: Backend['put'] };
    const put = backend.put.bind(backend);
    try {
      backend.put = async (key, body, opts) => {
        if (key === 'new_scan/images/c.jpg') throw new StorageError('disk on fire');
        return put(key, body, opts);
      };
      await refused(path, 'ROMI_STORAGE');
      const controller = new AbortController();
      backend.put = async (key, body, opts) => {
        const done = await put(key, body, opts);
        if (key === 'new_scan/images/b.jpg') controller.abort();
        return done;
      };
      await refused(path, 'ROMI_ABORTED', 'new_scan', { signal: controller.signal });
    } finally {
      backend.put = put;
    }
    // And then it imports.
    await importZipScan(db, 'new_scan', path, { owner: 'alice' });
    expect(await db.hasScan('new_scan')).toBe(true);
  });
});
