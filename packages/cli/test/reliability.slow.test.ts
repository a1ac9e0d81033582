// What a hostile tester found against 100bd8d, through the built binary: each test failed there.
// Full disks and read-only folders are real: small tmpfs mounts (these tests need root).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, collect, REAL_PLANT, spawnCli, tempDir, tree } from './helpers.js';

type Cli = Awaited<ReturnType<typeof cli>>;
let run: Cli['run'];
let home: string;

const mounts: string[] = [];
const mountRoot = mkdtempSync(join(tmpdir(), 'romidb-mounts-'));
/** Whether this process may mount a tmpfs (root in a namespace that allows it). */
const CAN_MOUNT = (() => {
  const probe = join(mountRoot, 'probe');
  try {
    execFileSync('mkdir', ['-p', probe]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  }
})();
/** The name of a test that needs a tmpfs: it says why when it is skipped. */
const onTmpfs = (name: string): string => (CAN_MOUNT ? name : `${name} [skipped: mounting a small tmpfs (a real full disk, a real read-only folder) needs root]`);

/** A fresh tmpfs of `size` (e.g. "1m"), with extra mount options. */
function tmpfs(size: string, extra = ''): string {
  const dir = join(mountRoot, `m${mounts.length}`);
  execFileSync('mkdir', ['-p', dir]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${extra}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

beforeAll(async () => {
  ({ run, home } = await cli());
});

afterAll(() => {
  for (const dir of mounts.splice(0)) execFileSync('umount', ['-l', dir]);
  rmSync(mountRoot, { recursive: true, force: true });
});

async function newDb(): Promise<string> {
  const db = join(await tempDir(), 'db');
  expect((await run(['--db', db, 'init'])).code).toBe(0);
  return db;
}

/** A tar.gz of the given entries, in this order (body as text or bytes). */
async function makeArchive(path: string, entries: Array<Partial<tar.Header> & { name: string; body?: string | Uint8Array }>): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(Readable.from(pack), createGzip({ level: 1 }), createWriteStream(path));
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

/** A scan of `count` files of `size` random bytes, data first and its index last (as export writes). */
function scanEntries(scan: string, count: number, size: number): Array<{ name: string; body: string | Uint8Array }> {
  const files = Array.from({ length: count }, (_, i) => ({ file: `f${i}.bin`, id: `f${i}` }));
  return [
    ...files.map((f) => ({ name: `${scan}/fs/${f.file}`, body: randomBytes(size) })),
    { name: `${scan}/metadata/metadata.json`, body: '{}' },
    { name: `${scan}/files.json`, body: JSON.stringify({ filesets: [{ files, id: 'fs' }] }) },
  ];
}

const errorOf = (stderr: string): { code: string; message: string } => JSON.parse(stderr).error;

describe('nothing the user had is deleted (findings 1–3)', () => {
  it('demo refuses a folder that holds anything it did not make, and replaces only its own scan', async () => {
    const thesis = join(await tempDir(), 'thesis');
    await mkdir(join(thesis, 'chapters'), { recursive: true });
    await writeFile(join(thesis, 'main.tex'), 'years of work');
    await writeFile(join(thesis, 'chapters/1.tex'), 'chapter one');
    const before = await tree(thesis);
    const r = await run(['demo', thesis]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^romidb: Cannot create the demo database in "[^\n]*thesis"[^\n]*\n$/);
    expect(await tree(thesis)).toEqual(before);

    const db = await newDb();
    expect((await run(['--db', db, 'import', 'images', join(REAL_PLANT, 'images'), '--scan', 'mine'])).code).toBe(0);
    const dbBefore = await tree(db);
    expect((await run(['demo', db])).code).toBe(1);
    expect(await tree(db)).toEqual(dbBefore);

    const demo = join(await tempDir(), 'demo');
    expect((await run(['demo', demo])).code).toBe(0);
    expect((await run(['--db', demo, 'import', 'images', join(REAL_PLANT, 'images'), '--scan', 'mine'])).code).toBe(0);
    const again = await run(['--json', 'demo', demo]);
    expect(again.code, again.err).toBe(0);
    const printed = JSON.parse(again.out);
    expect(printed.scans.map((s: { id: string }) => s.id)).toEqual(['mine', 'myscan_001']);
    expect(printed.scans[1].filesets[0].files).toHaveLength(99);
    expect((await run(['--db', demo, 'check'])).out).toBe('ok\n');
  });

  it('import images refuses a scan folder that already holds other files', async () => {
    const db = await newDb();
    await mkdir(join(db, 'plant_001/figures'), { recursive: true });
    await writeFile(join(db, 'plant_001/thesis.tex'), 'years of work');
    await writeFile(join(db, 'plant_001/figures/fig1.png'), 'png');
    const before = await tree(db);
    const r = await run(['--json', '--db', db, 'import', 'images', join(REAL_PLANT, 'images'), '--scan', 'plant_001']);
    expect(r.code).toBe(1);
    expect(errorOf(r.err).code).toBe('ROMI_ALREADY_EXISTS');
    expect(await tree(db)).toEqual(before);
  });

  it('import folder refuses a fileset folder holding unlisted data; check --fix keeps that data', async () => {
    const db = await newDb();
    const notes = join(await tempDir(), 'notes');
    await mkdir(notes);
    await writeFile(join(notes, 'a.txt'), 'a');
    expect((await run(['--db', db, 'import', 'folder', notes, '--scan', 'plant'])).code).toBe(0);
    const masks = join(await tempDir(), 'masks');
    await mkdir(masks);
    await writeFile(join(masks, 'm1.png'), 'new mask');
    await mkdir(join(db, 'plant/masks'));
    await writeFile(join(db, 'plant/masks/old_mask.png'), 'the only copy');
    const before = await tree(db);
    const r = await run(['--json', '--db', db, 'import', 'folder', masks, '--scan', 'plant']);
    expect(r.code).toBe(1);
    expect(errorOf(r.err).code).toBe('ROMI_ALREADY_EXISTS');
    expect(await tree(db)).toEqual(before);
    expect((await run(['--db', db, 'check', '--fix'])).code).toBe(0);
    expect(await readFile(join(db, 'plant/masks/old_mask.png'), 'utf8')).toBe('the only copy');
  });

  it('Ctrl-C during an import removes exactly what the import created', async () => {
    const db = await newDb();
    expect((await run(['--db', db, 'import', 'images', join(REAL_PLANT, 'images'), '--scan', 'kept'])).code).toBe(0);
    const src = join(await tempDir(), 'many');
    await mkdir(src);
    for (let i = 0; i < 1500; i++) await writeFile(join(src, `img_${String(i).padStart(4, '0')}.png`), randomBytes(2048));
    const before = await tree(db, (rel) => rel === 'lock');
    const child = spawnCli(['--db', db, 'import', 'images', src, '--scan', 'big'], { home });
    const done = collect(child);
    for (;;) {
      const names = await readdir(join(db, 'big/images')).catch(() => [] as string[]);
      if (names.some((n) => n.endsWith('.png'))) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(1);
    expect(r.err).toBe('romidb: interrupted\n');
    expect(await tree(db, (rel) => rel === 'lock')).toEqual(before);
  });
});

describe('failures are loud and leave nothing hidden (findings 5–7)', () => {
  it('import archive refuses, before writing anything, entries that could only fail halfway', async () => {
    const dir = await tempDir();
    const cases: Record<string, Array<{ name: string; body?: string }>> = {
      'is both a file and a folder': [
        { name: 's/files.json', body: '{"filesets": []}' },
        { name: 's/a', body: 'a file' },
        { name: 's/a/b', body: 'below the file' },
      ],
      'is a name longer than 255 bytes': [
        { name: 's/files.json', body: '{"filesets": []}' },
        { name: `s/fs/${'n'.repeat(300)}.png`, body: 'x' },
      ],
    };
    for (const [why, entries] of Object.entries(cases)) {
      const db = await newDb();
      const archive = join(dir, `${why.length}.tar.gz`);
      await makeArchive(archive, entries);
      const r = await run(['--db', db, 'import', 'archive', archive]);
      expect(r.code, why).toBe(1);
      expect(r.err).toMatch(/^romidb: Refusing archive "[^"]+": [^\n]*nothing was imported\n$/);
      expect(r.err.includes(why) || r.err.includes('both a file and a folder')).toBe(true);
      expect(await readdir(db)).toEqual(['romidb']);
    }
  });

  it('archive bombs are refused at the header that passes a limit, in bounded time and memory', async () => {
    const dir = await tempDir();
    const db = await newDb();
    // A header declaring 10 GiB, followed by 1 MiB of its zeros: refused before the rest is read.
    const bomb = join(dir, 'bomb.tar.gz');
    const header = tar.pack();
    const entry = header.entry({ name: 's/fs/zeros.bin', size: 10 * 2 ** 30 });
    entry.write(Buffer.alloc(1 << 20));
    const chunks: Buffer[] = [];
    header.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((r) => setTimeout(r, 50));
    await pipeline(Readable.from([Buffer.concat(chunks)]), createGzip(), createWriteStream(bomb));
    const started = Date.now();
    const r = await run(['--db', db, 'import', 'archive', bomb]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^romidb: Refusing archive "[^"]+": its entries hold more than 10 GiB \(at "s\/fs\/zeros\.bin"\), over 200× the archive's [^\n]*nothing was imported\n$/);
    expect(Date.now() - started).toBeLessThan(20_000);
    // A files.json entry too large to read whole.
    const big = join(dir, 'big-index.tar.gz');
    await makeArchive(big, [{ name: 's/metadata/metadata.json', body: '{}' }, { name: 's/files.json', body: `{"filesets": [], "pad": "${'x'.repeat(3 << 20)}"}` }]);
    const j = await run(['--db', db, 'import', 'archive', big, '--max-json-size', '1M']);
    expect(j.code).toBe(1);
    expect(j.err).toMatch(/"s\/files\.json" is a JSON file of 3\.0 MiB, over the limit of 1\.0 MiB \(--max-json-size\); nothing was imported/);
    expect((await run(['--db', db, 'import', 'archive', big, '--max-json-size', 'lots'])).code).toBe(2);
    expect(await readdir(db)).toEqual(['romidb']);
  });

  it('Ctrl-C during an archive import takes back the scans it claimed', async () => {
    const dir = await tempDir();
    const archive = join(dir, 'two.tar.gz');
    await makeArchive(archive, [...scanEntries('s1', 40, 1 << 16), ...scanEntries('s2', 1500, 1 << 16)]);
    const db = await newDb();
    const child = spawnCli(['--db', db, 'import', 'archive', archive], { home });
    const done = collect(child);
    for (;;) {
      const names = await readdir(join(db, 's2/fs')).catch(() => [] as string[]);
      if (names.length > 5) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(1);
    expect(r.err).toBe('romidb: interrupted\n');
    expect(await readdir(db)).toEqual(['romidb']);
  });

  it('a killed archive import is reported by check, removed by check --fix, and can be done again', async () => {
    const dir = await tempDir();
    const archive = join(dir, 'one.tar.gz');
    await makeArchive(archive, scanEntries('s', 1500, 1 << 16));
    const db = await newDb();
    const child = spawnCli(['--db', db, 'import', 'archive', archive], { home });
    const done = collect(child);
    for (;;) {
      const names = await readdir(join(db, 's/fs')).catch(() => [] as string[]);
      if (names.length > 5) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGKILL');
    await done;
    expect((await run(['--db', db, 'ls'])).out).toBe('');
    const check = await run(['--json', '--db', db, 'check']);
    expect(check.code).toBe(1);
    const kinds = JSON.parse(check.out).problems.map((p: { kind: string; key: string }) => `${p.kind} ${p.key}`);
    expect(kinds).toContain('incomplete-scan s/');
    const fix = await run(['--db', db, 'check', '--fix']);
    expect(fix.code, fix.out + fix.err).toBe(0);
    expect((await run(['--db', db, 'check'])).out).toBe('ok\n');
    const again = await run(['--db', db, 'import', 'archive', archive]);
    expect(again.code, again.err).toBe(0);
    expect((await run(['--db', db, 'ls', 's/fs'])).out.split('\n').filter(Boolean)).toHaveLength(1500);
  });

  it.skipIf(!CAN_MOUNT)(onTmpfs('an archive import that meets a full disk exits 1 with one line and leaves nothing'), async () => {
    const dir = await tempDir();
    const archive = join(dir, 'many.tar.gz');
    await makeArchive(archive, scanEntries('s', 300, 64));
    // Room for the bytes, not for the files: the disk fills up partway.
    const disk = tmpfs('8m', ',nr_inodes=120');
    const db = join(disk, 'db');
    expect((await run(['--db', db, 'init'])).code).toBe(0);
    const r = await run(['--db', db, 'import', 'archive', archive]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^romidb: [^\n]*ENOSPC[^\n]*\n$/);
    expect(await readdir(db)).toEqual(['romidb']);
    expect((await run(['--db', db, 'check'])).out).toBe('ok\n');
    const json = await run(['--json', '--db', db, 'import', 'archive', archive]);
    expect(errorOf(json.err).code).toBe('ROMI_STORAGE');
  });

  it.skipIf(!CAN_MOUNT)(onTmpfs('export to a full disk or a read-only folder: one line (JSON with --json), no temporary file'), async () => {
    const db = await newDb();
    const data = join(await tempDir(), 'data');
    await mkdir(data);
    await writeFile(join(data, 'noise.bin'), randomBytes(3 << 20));
    expect((await run(['--db', db, 'import', 'folder', data, '--scan', 's'])).code).toBe(0);
    const full = tmpfs('1m');
    const out = join(full, 's.tar.gz');
    const r = await run(['--db', db, 'export', 's', out]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`romidb: Cannot write "${out}": no space left on the device\n`);
    expect(await readdir(full)).toEqual([]);
    const json = await run(['--json', '--db', db, 'export', 's', out]);
    expect(json.code).toBe(1);
    expect(errorOf(json.err)).toEqual({ code: 'ROMI_STORAGE', message: `Cannot write "${out}": no space left on the device` });
    const readOnly = tmpfs('1m', ',ro');
    const ro = await run(['--db', db, 'export', 's', join(readOnly, 's.tar.gz')]);
    expect(ro.code).toBe(1);
    expect(ro.err).toBe(`romidb: Cannot write "${join(readOnly, 's.tar.gz')}": read-only file system\n`);
  });

  it.skipIf(!CAN_MOUNT)(onTmpfs('taking the lock on a full disk leaves no lock and no empty owner file'), async () => {
    const disk = tmpfs('256k');
    const db = join(disk, 'db');
    expect((await run(['--db', db, 'init'])).code).toBe(0);
    await writeFile(join(disk, 'filler'), Buffer.alloc(256 << 10)).catch(() => {});
    const r = await run(['--json', '--db', db, 'meta', 'set', 'x', 'a', '1']);
    expect(r.code).toBe(1);
    expect(errorOf(r.err).code).toBe('ROMI_STORAGE');
    expect((await readdir(db)).sort()).toEqual(['romidb']);
  });
});

describe('copies taken beside a running writer (finding 8)', () => {
  it('mirror and export copy only what one read of each files.json lists', async () => {
    const src = await newDb();
    const writer = spawn(process.execPath, [fileURLToPath(new URL('procs/busy-writer.mjs', import.meta.url)), src], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        writer.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
        writer.on('exit', (code) => reject(new Error(`writer exited (${code})`)));
      });
      const dir = await tempDir();
      for (let round = 0; round < 4; round++) {
        const dst = join(dir, `copy${round}`);
        const m = await run(['mirror', src, dst, '--init']);
        expect(m.code, m.err).toBe(0);
        const check = JSON.parse((await run(['--json', '--db', dst, 'check'])).out);
        expect(check.problems.filter((p: { kind: string }) => p.kind === 'missing-file')).toEqual([]);

        const out = join(dir, `s${round}.tar.gz`);
        const e = await run(['--db', src, 'export', 's', out]);
        expect(e.code, e.err).toBe(0);
        const unpacked = join(dir, `unpacked${round}`);
        await mkdir(unpacked);
        execFileSync('tar', ['xzf', out, '-C', unpacked]);
        await writeFile(join(unpacked, 'romidb'), '');
        const exported = JSON.parse((await run(['--json', '--db', unpacked, 'check'])).out);
        expect(exported.problems.filter((p: { kind: string }) => p.kind === 'missing-file')).toEqual([]);
      }
    } finally {
      // Stopped and gone before the folder is removed (it would fail on a database deleted under it).
      if (writer.exitCode === null && writer.signalCode === null) {
        const exited = new Promise((resolve) => writer.once('exit', resolve));
        writer.kill('SIGTERM');
        await exited;
      }
    }
  });
});

describe('Python interop through the command line (findings 13–14)', () => {
  it('meta set keeps number texts as Python wrote them: 276.0, -0.0, 1e-05', async () => {
    const db = await newDb();
    expect((await run(['--db', db, 'import', 'images', join(REAL_PLANT, 'images'), '--scan', 's'])).code).toBe(0);
    expect((await run(['--db', db, 'meta', 'set', 's', 'age', '276.0'])).code).toBe(0);
    const file = join(await tempDir(), 'meta.json');
    await writeFile(file, '{"pose": [76.6, -0.0, 1e-05], "zero": -0.0}');
    expect((await run(['--db', db, 'meta', 'set', 's/images', '--file', file])).code).toBe(0);
    expect(await readFile(join(db, 's/metadata/metadata.json'), 'utf8')).toBe('{\n    "age": 276.0\n}');
    expect(await readFile(join(db, 's/metadata/images.json'), 'utf8')).toBe('{\n    "pose": [\n        76.6,\n        -0.0,\n        1e-05\n    ],\n    "zero": -0.0\n}');
  });
});

describe('smaller findings: typed errors and exit codes', () => {
  it('init on a file, import archive of a folder, an unreadable image: one typed line, exit 1', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'plain'), 'x');
    const init = await run(['--json', '--db', join(dir, 'plain'), 'init']);
    expect(init.code).toBe(1);
    expect(errorOf(init.err).code).toBe('ROMI_INVALID_ARGUMENT');
    const under = await run(['--db', join(dir, 'plain', 'db'), 'init']);
    expect(under.err).toMatch(/^romidb: Cannot make "[^"]+" a database: it, or a folder above it, is a file\n$/);
    const db = await newDb();
    const folder = await run(['--db', db, 'import', 'archive', dir]);
    expect(folder.code).toBe(1);
    expect(folder.err).toMatch(/^romidb: Cannot read archive "[^"]+": not a regular file\n$/);
    const images = join(dir, 'images');
    await mkdir(images);
    await writeFile(join(images, 'a.png'), 'png');
    await symlink(join(dir, 'gone.png'), join(images, 'b.png'));
    const unreadable = await run(['--db', db, 'import', 'images', images]);
    expect(unreadable.code).toBe(1);
    expect(unreadable.err).toMatch(/^romidb: Cannot read "[^"]+b\.png": ENOENT\n$/);
    expect(await readdir(db)).toEqual(['romidb']);
    // Permission denied (root reads anything: the binary runs with reads of that image failing).
    await rm(join(images, 'b.png'));
    await writeFile(join(images, 'b.png'), 'png');
    const preload = join(dir, 'eacces.mjs');
    await writeFile(preload, `import fs from 'node:fs';\nconst readFile = fs.promises.readFile;\nfs.promises.readFile = async (p, ...rest) => { if (String(p).endsWith('b.png')) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }); return readFile(p, ...rest); };\n`);
    const child = spawn(process.execPath, ['--import', preload, fileURLToPath(new URL('../dist/bin.js', import.meta.url)), '--db', db, 'import', 'images', images], { stdio: ['ignore', 'pipe', 'pipe'] });
    const denied = await collect(child);
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/^romidb: Cannot read "[^"]+b\.png": permission denied\n$/);
    expect(await readdir(db)).toEqual(['romidb']);
  });

  it('check --scan of an unknown scan fails; a malformed --scan or --fuzzy regex is a usage error', async () => {
    const db = await newDb();
    const nope = await run(['--json', '--db', db, 'check', '--scan', 'nope']);
    expect(nope.code).toBe(1);
    expect(errorOf(nope.err).code).toBe('ROMI_NOT_FOUND');
    expect((await run(['--db', db, 'check', '--scan', '../x'])).code).toBe(2);
    expect((await run(['--db', db, 'check', '--scan', '..'])).code).toBe(2);
    const regex = await run(['--db', db, 'ls', '--query', '{"a": "("}', '--fuzzy']);
    expect(regex.code).toBe(2);
    expect(regex.err).toMatch(/^romidb: --query: /);
  });

  it('check --fix repairs every other scan past a hostile id and a fileset linked outside the database', async () => {
    const db = await newDb();
    const outside = join(await tempDir(), 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret.bin'), 'outside');
    const index = (filesets: unknown[]) => JSON.stringify({ filesets });
    await mkdir(join(db, 'a_hostile/metadata'), { recursive: true });
    await writeFile(join(db, 'a_hostile/files.json'), index([{ id: 'fs', files: [{ id: '../../x', file: 'gone.bin' }] }]));
    await mkdir(join(db, 'a_hostile/fs'));
    await mkdir(join(db, 'b_linked/metadata'), { recursive: true });
    await writeFile(join(db, 'b_linked/files.json'), index([{ id: 'fs', files: [{ id: 'secret', file: 'secret.bin' }] }]));
    await symlink(outside, join(db, 'b_linked/fs'));
    await mkdir(join(db, 'c_plain/fs'), { recursive: true });
    await writeFile(join(db, 'c_plain/files.json'), index([{ id: 'fs', files: [] }]));
    await writeFile(join(db, 'c_plain/fs/unlisted.bin'), 'u');
    const linked = await readFile(join(db, 'b_linked/files.json'));
    const fix = await run(['--json', '--db', db, 'check', '--fix']);
    const report = JSON.parse(fix.out);
    expect(fix.code).toBe(1);
    expect(report.problems.filter((p: { scan: string; fixed?: boolean }) => p.scan === 'c_plain' && !p.fixed)).toEqual([]);
    expect(report.problems.some((p: { scan: string; kind: string }) => p.scan === 'b_linked' && p.kind === 'unsafe-name')).toBe(true);
    expect(await readFile(join(db, 'b_linked/files.json'))).toEqual(linked);
    expect(await readdir(outside)).toEqual(['secret.bin']);
    expect((await run(['--db', db, 'ls', 'c_plain/fs'])).out).toBe('unlisted\tunlisted.bin\n');
  });

  it('a command that stops before finishing (a stream that never ends) still exits 1', async () => {
    // Fault injection: every file read stream of the process yields nothing and never ends,
    // so nothing is left for Node to wait for; the binary must not report success.
    const dir = await tempDir();
    const preload = join(dir, 'stalled-streams.mjs');
    await writeFile(preload, "import fs from 'node:fs';\nimport { syncBuiltinESMExports } from 'node:module';\nimport { Readable } from 'node:stream';\nfs.createReadStream = () => new Readable({ read() {} });\nsyncBuiltinESMExports();\n");
    const archive = join(dir, 'a.tar.gz');
    await makeArchive(archive, scanEntries('s', 2, 16));
    const db = await newDb();
    const child = spawn(process.execPath, ['--import', preload, fileURLToPath(new URL('../dist/bin.js', import.meta.url)), '--db', db, 'import', 'archive', archive], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = await collect(child);
    expect(r.code).toBe(1);
    expect(r.err).toBe('romidb: internal error: the command stopped before it finished; nothing it did is confirmed (run "romidb check")\n');
    // The lock's owner note stays behind (its process is gone, so the next writer takes over).
    expect((await readdir(db)).filter((n) => !n.startsWith('.romidb-lock'))).toEqual(['romidb']);
    expect((await run(['--db', db, 'check'])).out).toBe('ok\n');
  });
});
