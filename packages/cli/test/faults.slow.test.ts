// The fault matrix through the command line: every writing command, in process (main()), on a
// database whose k-th I/O call fails. A command either succeeds and leaves what a clean run
// leaves, or exits 1 with one "romidb: …" line; the database is then as the API matrix demands.
import nodeFs from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { registerScheme, type Backend, type DB } from '@romi/db-core';
import { describeFaultMatrix, faultyFs, FaultyBackend, fill, type Content, type FaultLevel, type FaultOp, type FaultPlan } from '@romi/db-conformance';
import { FsBackend, type FsLike } from '@romi/fsdb';
import { createFsFromVolume, Volume } from 'memfs';
import { main } from '../src/main.js';
import { REAL_PLANT } from './helpers.js';

/** The database the next command opens at fault://db. */
let current: DB | undefined;
registerScheme('fault', () => current!);

const base = nodeFs.existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
let work: string;
let archive: string;
let source: string;

beforeAll(async () => {
  work = await mkdtemp(join(base, 'romidb-cli-faults-'));
  // Inputs: two images, a folder of notes, an archive of one scan, a database to mirror from.
  await mkdir(join(work, 'notes'));
  await writeFile(join(work, 'notes/a.txt'), 'a');
  await writeFile(join(work, 'notes/b.txt'), 'b'.repeat(3000));
  await mkdir(join(work, 'images'));
  for (const name of ['00000_rgb.jpg', '00001_rgb.jpg']) await cp(join(REAL_PLANT, 'images', name), join(work, 'images', name));
  source = join(work, 'source');
  expect(await cli(['--db', source, 'init'])).toBe(0);
  expect(await cli(['--db', source, 'import', 'folder', join(work, 'notes'), '--scan', 'mirrored'])).toBe(0);
  archive = join(work, 'scan.tar.gz');
  expect(await cli(['--db', source, 'export', 'mirrored', archive])).toBe(0);
  expect(await cli(['--db', source, 'meta', 'set', 'mirrored', 'k', '1'])).toBe(0);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

let stderr = '';

/** Runs a command line in process; its stderr is kept in `stderr`. */
async function cli(args: string[]): Promise<number> {
  stderr = '';
  const sink = { write: () => true, once: () => undefined };
  const err = { write: (chunk: string | Uint8Array) => ((stderr += String(chunk)), true), once: () => undefined };
  return main(['node', 'romidb', ...args], { stdout: sink, stderr: err, env: {} });
}

/** A command on fault://db: a failure must be one line, and leave no archive behind. */
function command(name: string, args: () => string[], after?: (code: number) => Promise<void>): FaultOp {
  return {
    name,
    connect: false,
    run: async (db) => {
      current = db;
      const code = await cli(args());
      await after?.(code);
      return code;
    },
    failed: (code) => {
      if (code === 0) return false;
      if (code !== 1 || !/^romidb: [^\n]+\n$/.test(stderr)) throw new Error(`exit ${String(code)} with ${JSON.stringify(stderr)}`);
      return true;
    },
  };
}

const out = () => join(work, 'out', 'export.tar.gz');

const COMMANDS: FaultOp[] = [
  command('import images', () => ['--db', 'fault://db', 'import', 'images', join(work, 'images'), '--scan', 'new_scan']),
  command('import folder', () => ['--db', 'fault://db', 'import', 'folder', join(work, 'notes'), '--scan', 'plant', '--fileset', 'notes']),
  command('import file', () => ['--db', 'fault://db', 'import', 'file', join(work, 'notes/b.txt'), 'plant/images', '--id', 'b', '--metadata', '{"k": 1}']),
  command('import archive', () => ['--db', 'fault://db', 'import', 'archive', archive]),
  command('meta set', () => ['--db', 'fault://db', 'meta', 'set', 'plant/images/f0', 'pose', '[76.6, 276.0]']),
  command('mirror', () => ['mirror', source, 'fault://db']),
  command(
    'export',
    () => ['--db', 'fault://db', 'export', 'plant', out()],
    async (code) => {
      // A failed export leaves nothing in the folder; a successful one leaves the archive.
      const names = await readdir(join(work, 'out'));
      if (names.length !== (code === 0 ? 1 : 0)) throw new Error(`export exited ${code} and left ${JSON.stringify(names)}`);
      await rm(join(work, 'out'), { recursive: true });
      await mkdir(join(work, 'out'));
    },
  ),
];

beforeAll(async () => {
  await mkdir(join(work, 'out'));
});

let stores = 0;

/** memdb storage, reached through faults as `faulty` says. */
const memoryLevel = (name: string, faults: FaultLevel['faults'], faulty: (fs: FsLike, raw: FsBackend, url: string) => (plan: FaultPlan) => Backend): FaultLevel => ({
  name: `memdb ${name}`,
  faults,
  create: async (content: Content) => {
    const volume = new Volume();
    volume.mkdirSync('/db', { recursive: true });
    const fs = createFsFromVolume(volume) as unknown as FsLike;
    const url = `memory://cli-faults-${++stores}`;
    const raw = new FsBackend('/db', { fs, url });
    await fill(raw, content);
    return { raw, faulty: faulty(fs, raw, url), dispose: async () => {} };
  },
});

/** fsdb on a real file system, node:fs failing under it. */
const diskLevel: FaultLevel = {
  name: 'fsdb fs',
  faults: ['ENOSPC'],
  create: async (content) => {
    const dir = await mkdtemp(join(base, 'romidb-cli-faults-db-'));
    const raw = new FsBackend(dir);
    await fill(raw, content);
    return { raw, faulty: (plan) => new FsBackend(dir, { fs: faultyFs(nodeFs, plan), realDisk: true }), dispose: () => rm(dir, { recursive: true, force: true }) };
  },
};

describeFaultMatrix(
  'romidb commands',
  [
    memoryLevel('backend', ['EIO', 'lost'], (_fs, raw) => (plan) => new FaultyBackend(raw, plan)),
    memoryLevel('fs', ['ENOSPC', 'short'], (fs, _raw, url) => (plan) => new FsBackend('/db', { fs: faultyFs(fs, plan), url })),
    diskLevel,
  ],
  COMMANDS,
);
