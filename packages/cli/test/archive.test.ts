// export / import archive: round trips, Python-made archives, and hostile archives.
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, FIXTURES, REAL_PLANT, tempDir, tree } from './helpers.js';

type Run = Awaited<ReturnType<typeof cli>>['run'];
let run: Run;
let source: string;

async function newDb(name = 'db'): Promise<string> {
  const db = join(await tempDir(), name);
  expect((await run(['--db', db, 'init'])).code).toBe(0);
  return db;
}

/** Writes a .tar.gz of the given entries (tar-stream headers; body as text). */
async function makeArchive(path: string, entries: Array<Partial<tar.Header> & { name: string; body?: string }>): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(Readable.from(pack), createGzip(), createWriteStream(path));
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body === undefined) pack.entry(header, cb);
      else pack.entry(header, Buffer.from(body), cb);
    });
  }
  pack.finalize();
  await done;
}

beforeAll(async () => {
  ({ run } = await cli());
  source = await newDb('source');
  expect((await run(['--db', source, 'import', 'images', join(REAL_PLANT, 'images'), '--scan', 'plant_a'])).code).toBe(0);
  await run(['--db', source, 'meta', 'set', 'plant_a', 'species', 'arabidopsis']);
  await run(['--db', source, 'meta', 'set', 'plant_a/images/00001_rgb', 'pose', '[76.6, 343.6, 80, 276.0, 0]']);
  const data = join(await tempDir(), 'data');
  await mkdir(data);
  for (const name of ['PointCloud.ply', 'measures.json', 'predicted.csv', 'palette_arabi.png']) await copyFile(join(FIXTURES, 'io/real', name), join(data, name));
  const folder = await run(['--db', source, 'import', 'folder', data, '--scan', 'plant_b']);
  expect(folder.code, folder.err).toBe(0);
});

describe('export then import', () => {
  it('a scan round-trips byte for byte, and check is clean', async () => {
    const out = join(await tempDir(), 'plant_a.tar.gz');
    const exported = await run(['--db', source, '--json', 'export', 'plant_a', out]);
    expect(exported.code, exported.err).toBe(0);
    expect(JSON.parse(exported.out)).toMatchObject({ scans: ['plant_a'], archive: out });
    const names = execFileSync('tar', ['tzf', out], { encoding: 'utf8' }).trim().split('\n');
    expect(names[0]).toBe('plant_a/');
    expect(names.at(-1)).toBe('plant_a/files.json');
    expect(names).toContain('plant_a/metadata/images/00001_rgb.json');

    const target = await newDb('target');
    const imported = await run(['--db', target, '--json', 'import', 'archive', out]);
    expect(imported.code, imported.err).toBe(0);
    expect(JSON.parse(imported.out)).toMatchObject({ scans: ['plant_a'], problems: [] });
    expect(await tree(join(target, 'plant_a'))).toEqual(await tree(join(source, 'plant_a')));
    expect((await run(['--db', target, 'check'])).out).toBe('ok\n');

    // The same scan again is refused, and changes nothing.
    const before = await tree(target);
    const again = await run(['--db', target, 'import', 'archive', out]);
    expect(again.code).toBe(1);
    expect(again.err).toBe('romidb: Scan "plant_a" already exists\n');
    expect(await tree(target)).toEqual(before);
  });

  it('files larger than the 8 MiB buffer limit are streamed both ways', async () => {
    const dir = await tempDir();
    const big = join(dir, 'volume.bin');
    await writeFile(big, randomBytes(9 * 1024 * 1024 + 17));
    const db = await newDb();
    expect((await run(['--db', db, 'import', 'file', big, 'plant_c/raw'])).code).toBe(0);
    const out = join(dir, 'plant_c.tar.gz');
    expect((await run(['--db', db, 'export', 'plant_c', out])).code).toBe(0);
    const target = await newDb();
    const r = await run(['--db', target, 'import', 'archive', out]);
    expect(r.code, r.err).toBe(0);
    expect(await tree(join(target, 'plant_c'))).toEqual(await tree(join(db, 'plant_c')));
    const cat = await run(['--db', target, 'cat', 'plant_c/raw/volume']);
    expect(cat.stdout.equals(await readFile(big))).toBe(true);
  });

  it('"all" exports the whole database with its marker; it imports into another database', async () => {
    const out = join(await tempDir(), 'all.tar.gz');
    expect((await run(['--db', source, 'export', 'all', out])).code).toBe(0);
    expect(execFileSync('tar', ['tzf', out], { encoding: 'utf8' }).split('\n')[0]).toBe('romidb');
    const target = await newDb();
    const r = await run(['--db', target, '--json', 'import', 'archive', out]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ scans: ['plant_a', 'plant_b'], skipped: ['romidb'] });
    const skipLock = (rel: string) => rel === 'lock' || rel.startsWith('.romidb-');
    expect(await tree(target, skipLock)).toEqual(await tree(source, skipLock));
  });

  it('archives made by tar from Python-style folders import too ("./" prefixes, a tarred database folder)', async () => {
    const dir = await tempDir();
    const scanTar = join(dir, 'scan.tar.gz');
    execFileSync('tar', ['czf', scanTar, '-C', dirname(REAL_PLANT), 'real_plant']);
    const dbTar = join(dir, 'db.tar.gz');
    const pyDb = join(dir, 'pydb');
    await mkdir(pyDb);
    await writeFile(join(pyDb, 'romidb'), '');
    execFileSync('cp', ['-r', REAL_PLANT, join(pyDb, 'plant_py')]);
    execFileSync('tar', ['czf', dbTar, '-C', dir, 'pydb']);

    const target = await newDb();
    const a = await run(['--db', target, 'import', 'archive', scanTar]);
    // The fixture is a trimmed copy of a real scan: its files.json lists files that were left out.
    expect(a.err).not.toMatch(/Refusing/);
    expect(await tree(join(target, 'real_plant'))).toEqual(await tree(REAL_PLANT));
    const b = await run(['--db', target, '--json', 'import', 'archive', dbTar]);
    expect(JSON.parse(b.out).scans).toEqual(['plant_py']);
    expect(await tree(join(target, 'plant_py'))).toEqual(await tree(REAL_PLANT));

    const plain = join(dir, 'dot2.tar.gz');
    execFileSync('tar', ['czf', plain, '-C', join(pyDb), '.']);
    const target2 = await newDb();
    const c = await run(['--db', target2, '--json', 'import', 'archive', plain]);
    expect(JSON.parse(c.out)).toMatchObject({ scans: ['plant_py'], skipped: ['romidb'] });
  });
});

describe('hostile archives are refused and write nothing', () => {
  const scan = [
    { name: 'ok_scan/', type: 'directory' as const },
    { name: 'ok_scan/files.json', body: '{"filesets": []}' },
  ];
  const cases: Record<string, Array<Partial<tar.Header> & { name: string; body?: string }>> = {
    'a ".." entry': [...scan, { name: 'ok_scan/../../escaped.txt', body: 'x' }],
    'a leading ".."': [{ name: '../escaped.txt', body: 'x' }, ...scan],
    'an absolute path': [...scan, { name: '/tmp/romidb-escaped.txt', body: 'x' }],
    'a symlink pointing outside': [...scan, { name: 'ok_scan/images', type: 'symlink', linkname: '/etc' }],
    'a relative symlink': [...scan, { name: 'ok_scan/link', type: 'symlink', linkname: '../../outside' }],
    'a hard link': [...scan, { name: 'ok_scan/hard', type: 'link', linkname: '/etc/passwd' }],
    'a device': [...scan, { name: 'ok_scan/dev', type: 'character-device', devmajor: 1, devminor: 3 }],
    'a fifo': [...scan, { name: 'ok_scan/fifo', type: 'fifo' }],
    'an invalid scan id': [{ name: 'bad scan!/files.json', body: '{}' }],
    'a folder that is not a scan': [...scan, { name: 'notascan/x.txt', body: 'x' }],
    'a file outside any scan': [...scan, { name: 'loose.txt', body: 'x' }],
    'a temporary name': [...scan, { name: 'ok_scan/.romidb-tmp', body: 'x' }],
    'a backslash': [...scan, { name: 'ok_scan/a\\..\\b', body: 'x' }],
  };

  const reasons: Record<string, string> = {
    'a ".." entry': 'is a ".." segment',
    'a leading ".."': 'is a ".." segment',
    'an absolute path': 'is an absolute path',
    'a symlink pointing outside': 'is a symlink entry',
    'a relative symlink': 'is a symlink entry',
    'a hard link': 'is a link entry',
    'a device': 'is a character-device entry',
    'a fifo': 'is a fifo entry',
    'an invalid scan id': 'is not a valid scan id',
    'a folder that is not a scan': 'is not a scan',
    'a file outside any scan': 'is a file outside any scan folder',
    'a temporary name': 'reserved for temporary files',
    'a backslash': 'is not a valid key',
  };

  it.each(Object.keys(cases))('%s', async (what) => {
    const dir = await tempDir();
    const archive = join(dir, 'evil.tar.gz');
    await makeArchive(archive, cases[what]!);
    const target = join(dir, 'deep/er/db');
    expect((await run(['--db', target, 'init'])).code).toBe(0);
    const before = await tree(dir);
    const r = await run(['--db', target, 'import', 'archive', archive]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^romidb: Refusing archive "[^"]+": [^\n]*nothing was imported\n$/);
    expect(r.err).toContain(reasons[what]);
    expect(await tree(dir)).toEqual(before);
    expect(await readdir('/tmp').then((n) => n.includes('romidb-escaped.txt'))).toBe(false);
  });

  it('a symlink already in the target folder is not followed either', async () => {
    // Not an archive entry, but the same escape: the backend refuses keys that lead outside.
    const dir = await tempDir();
    const target = join(dir, 'db');
    await run(['--db', target, 'init']);
    await symlink(dir, join(target, 'ok_scan'));
    const archive = join(dir, 'scan.tar.gz');
    await makeArchive(archive, [{ name: 'ok_scan/files.json', body: '{"filesets": []}' }, { name: 'ok_scan/x.txt', body: 'x' }]);
    const r = await run(['--db', target, 'import', 'archive', archive]);
    expect(r.code).toBe(1);
    expect(r.err).toBe('romidb: Invalid storage key "ok_scan/files.json": resolves outside the database root (symlink)\n');
    expect(await readdir(dir)).not.toContain('x.txt');
  });

  it('files that are not archives', async () => {
    const dir = await tempDir();
    const target = await newDb();
    await writeFile(join(dir, 'junk.tar.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5]));
    const junk = await run(['--db', target, 'import', 'archive', join(dir, 'junk.tar.gz')]);
    expect(junk.code).toBe(1);
    expect(junk.err).toMatch(/^romidb: Cannot read archive ".*junk.tar.gz": [^\n]+\n$/);
    const missing = await run(['--db', target, 'import', 'archive', join(dir, 'none.tar.gz')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^romidb: Cannot read archive ".*none.tar.gz": no such file\n$/);
    expect(await readdir(target)).toEqual(['romidb']);
  });
});
