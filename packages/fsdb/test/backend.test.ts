/**
 * The Backend contract on the real disk (@romi/db-conformance), then what only the local-folder
 * backend has: symlinks, dead writers' temp files, fsync, check() on folders, large files.
 */
import nodeFs from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, statfs, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isRomiError } from '@romi/db-core';
import { describeBackend, FaultPlan, faultyFs } from '@romi/db-conformance';
import { BIG_FILE, spawnProc } from '@romi/test-utils';
import { FSDB, FsBackend } from '../src/index.js';

async function codeOf(p: Promise<unknown> | (() => Promise<unknown>)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'resolved';
  } catch (err) {
    return isRomiError(err) ? err.code : String(err);
  }
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

// A root inside a temp folder: after each test, nothing may have landed beside it. Both ways of
// calling the file system: synchronous calls for small objects (the default), and promises only.
for (const syncIO of [true, false]) {
  describeBackend(`fs (real disk${syncIO ? '' : ', syncIO: false'})`, async () => {
    const dir = await mkdtemp(`${tmpdir()}/romidb-backend-`);
    const root = `${dir}/root`;
    await mkdir(root);
    return {
      backend: new FsBackend(root, { syncIO }),
      reopen: () => new FsBackend(root, { syncIO }),
      dispose: async () => {
        const beside = await readdir(dir);
        await rm(dir, { recursive: true, force: true });
        expect(beside).toEqual(['root']);
      },
    };
  });
}

describe('FsBackend', () => {
  let dir: string;
  let outside: string;
  beforeEach(async () => {
    dir = await mkdtemp(`${tmpdir()}/romidb-fs-`);
    outside = await mkdtemp(`${tmpdir()}/romidb-outside-`);
    await writeFile(`${outside}/secret.txt`, 'secret');
    await FSDB.init(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('a synchronous write() that writes nothing fails the put with ROMI_STORAGE, leaving no object and no temporary file', async () => {
    const plan = new FaultPlan();
    const backend = new FsBackend(dir, { fs: faultyFs(nodeFs, plan), realDisk: true });
    await backend.put('first.bin', bytes('x'));
    // The calls of a put in a folder already written to; a short write of one byte writes none.
    plan.count();
    await backend.put('second.bin', bytes('x'));
    const k = plan.log.findIndex((call) => call.startsWith('fs.writeSync')) + 1;
    expect(k).toBeGreaterThan(0);
    const before = (await readdir(dir)).sort();
    plan.arm(k, 'short');
    expect(await codeOf(backend.put('third.bin', bytes('x')))).toBe(ErrorCodes.STORAGE);
    plan.disarm();
    expect((await readdir(dir)).sort()).toEqual(before);
  });

  it('refuses symlinks that point outside the root, for reads and writes', async () => {
    await symlink(outside, `${dir}/escape`);
    await symlink(`${outside}/secret.txt`, `${dir}/link.txt`);
    const backend = new FsBackend(dir);
    expect(await codeOf(backend.get('escape/secret.txt'))).toBe(ErrorCodes.INVALID_KEY);
    expect(await codeOf(backend.get('link.txt'))).toBe(ErrorCodes.INVALID_KEY);
    expect(await codeOf(backend.put('escape/new.txt', bytes('x')))).toBe(ErrorCodes.INVALID_KEY);
    expect(await codeOf(backend.head('escape/secret.txt'))).toBe(ErrorCodes.INVALID_KEY);
    const listed: string[] = [];
    for await (const e of backend.list('')) listed.push(e.key);
    expect(listed).toEqual(['romidb']);
    expect(await readdir(outside)).toEqual(['secret.txt']);
  });

  it('follows symlinks that stay inside the root', async () => {
    await mkdir(`${dir}/real`);
    await writeFile(`${dir}/real/a.txt`, 'inside');
    await symlink(`${dir}/real`, `${dir}/alias`);
    const backend = new FsBackend(dir);
    expect(new TextDecoder().decode((await backend.get('alias/a.txt')).bytes)).toBe('inside');
  });

  it('a scan folder linked to the outside is not listed and cannot be read', async () => {
    await mkdir(`${outside}/scan`);
    await writeFile(`${outside}/scan/files.json`, '{"filesets": []}');
    await symlink(`${outside}/scan`, `${dir}/evil_scan`);
    const db = new FSDB(dir);
    await db.connect({ readOnly: true });
    expect(await db.listScans()).toEqual([]);
    expect([ErrorCodes.NOT_FOUND, ErrorCodes.INVALID_KEY]).toContain(await codeOf(db.getScan('evil_scan')));
    await db.reload();
    // Without the cached listing, the lookup itself refuses to follow the link.
    expect(await codeOf(db.getScan('evil_scan'))).toBe(ErrorCodes.INVALID_KEY);
    await db.disconnect();
  });

  it('a writer removes the temporary files of dead writers from the folders it writes to', async () => {
    await mkdir(`${dir}/s/f`, { recursive: true });
    const dead = (2 ** 22 + 12345).toString(36); // above the kernel's pid_max: never alive
    await writeFile(`${dir}/s/f/.romidb-${dead}-0-abc.tmp`, 'left by a killed writer');
    await writeFile(`${dir}/s/f/.romidb-${process.pid.toString(36)}-0-abc.tmp`, 'ours, in flight');
    const backend = new FsBackend(dir);
    await backend.put('s/f/new.bin', bytes('x'));
    expect((await readdir(`${dir}/s/f`)).sort()).toEqual([`.romidb-${process.pid.toString(36)}-0-abc.tmp`, 'new.bin']);
  });

  it('writes with fsync when asked', async () => {
    const db = new FSDB(dir, { fsync: true });
    await db.connect();
    const fs = await (await db.createScan('s')).createFileset('f');
    await (await fs.createFile('x')).writeText('durable', 'txt');
    expect(await readFile(`${dir}/s/f/x.txt`, 'utf8')).toBe('durable');
    expect(db.backend.capabilities.fsync).toBe(true);
    await db.disconnect();
  });

  it('check() reports a fileset whose folder is missing, and fix recreates it', async () => {
    const db = new FSDB(dir);
    await db.connect();
    await (await db.createScan('s')).createFileset('empty');
    await rm(`${dir}/s/empty`, { recursive: true });
    const report = await db.check();
    expect(report.problems.map((p) => `${p.kind}:${p.key}`)).toEqual(['missing-fileset:s/empty/']);
    expect((await db.check({ fix: true })).ok).toBe(true);
    expect(await readdir(`${dir}/s/empty`)).toEqual([]);
    await db.disconnect();
  });

  it('check() reports unsafe names in files.json without following them', async () => {
    await mkdir(`${dir}/s/fs`, { recursive: true });
    await writeFile(`${dir}/s/files.json`, JSON.stringify({ filesets: [{ files: [{ file: '../../../etc/passwd', id: 'p' }], id: 'fs' }, { files: [], id: '..' }] }));
    const db = new FSDB(dir);
    await db.connect({ readOnly: true });
    const kinds = (await db.check()).problems.map((p) => p.kind).sort();
    expect(kinds).toEqual(['unsafe-name', 'unsafe-name']);
    await db.disconnect();
  });
});

// The 2 GiB round trip needs room for the file in the temp folder.
const freeBytes = await statfs(tmpdir()).then((s) => s.bavail * s.bsize);
const roomFor2GiB = freeBytes > 3 * 2 ** 30;

describe('large files', () => {
  const reason = roomFor2GiB ? '' : ` [skipped: only ${(freeBytes / 2 ** 30).toFixed(1)} GiB free in ${tmpdir()}]`;
  it.skipIf(!roomFor2GiB)(`writes and reads 2 GiB through streams with RSS under 200 MB${reason}`, { timeout: 300_000 }, async () => {
    const dir = await mkdtemp(`${tmpdir()}/romidb-big-`);
    try {
      await FSDB.init(dir);
      // A first tiny run fills the transpile cache, so the measured run does not load the compiler.
      await spawnProc(BIG_FILE, [dir, '1000'], { imports: ['@romi/fsdb'] }).waitFor(/^ok /, 60_000);
      await rm(`${dir}/big`, { recursive: true });
      const size = 2 * 2 ** 30;
      const child = spawnProc(BIG_FILE, [dir, String(size)], { imports: ['@romi/fsdb'] });
      const line = await child.waitFor(/^ok /, 280_000);
      const [, sha1Written, sha1Read, total, rssMB] = line.split(' ');
      expect(sha1Read).toBe(sha1Written);
      expect(Number(total)).toBe(size);
      expect(Number(rssMB)).toBeLessThan(200);
      console.log(`2 GiB stream round trip: peak RSS ${rssMB} MB`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
