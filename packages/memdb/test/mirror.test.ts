import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isRomiError, mirror, type Backend, type MirrorProgress } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import { dummyDB, MemDB } from '../src/index.js';

/** Every key with its bytes, except mirror manifests and the lock. */
async function contents(backend: Backend, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of backend.list(prefix)) {
    if (e.kind !== 'object' || e.key.startsWith('lock') || e.key.startsWith('.romidb-mirror')) continue;
    out[e.key] = e.key.endsWith('/') ? '' : Buffer.from((await backend.get(e.key)).bytes).toString('base64');
  }
  return out;
}

async function sourceDB(): Promise<MemDB> {
  const db = (await dummyDB({ withFile: true })) as MemDB;
  const scan = await db.createScan('plant_2', { metadata: { species: 'tomato' } });
  const fs = await scan.createFileset('images');
  await fs.createFiles(Array.from({ length: 30 }, (_, i) => ({ id: `img_${i}`, data: new Uint8Array(1000 + i).fill(i), ext: 'png', metadata: { i } })));
  await scan.createFileset('empty');
  await db.disconnect();
  return db;
}

/** Each file below `dir` (romidb's own included) with its inode and mtime: what a write changes. */
async function fileVersions(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(dir, { recursive: true })) {
    const st = await stat(`${dir}/${name}`);
    if (st.isFile()) out[name] = `${st.ino}.${st.mtimeMs}`;
  }
  return out;
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function freshFsdb(): Promise<FSDB> {
  const dir = await mkdtemp(`${tmpdir()}/romidb-mirror-`);
  dirs.push(dir);
  return FSDB.init(dir);
}

describe('mirror()', () => {
  it('copies memdb → fsdb → memdb byte for byte, and a second run copies nothing', async () => {
    const src = await sourceDB();
    const mid = await freshFsdb();
    const first = await mirror(src, mid);
    expect(first.copied).toBeGreaterThan(60);
    expect(first.bytes).toBeGreaterThan(30_000);
    const back = new MemDB();
    await mirror(mid, back);
    const want = await contents(src.backend);
    expect(await contents(mid.backend)).toEqual(want);
    expect(await contents(back.backend)).toEqual(want);

    // Nothing changed: nothing is written, the manifests included (only the lock comes and goes).
    const before = await fileVersions(mid.path);
    const again = await mirror(src, mid);
    expect(again).toEqual({ copied: 0, skipped: first.copied, deleted: 0, bytes: 0, conflicts: [] });
    expect(await fileVersions(mid.path)).toEqual(before);
    expect(Object.keys(before).some((k) => k.startsWith('.romidb-mirror/'))).toBe(true);
  });

  it('copies data and metadata before files.json, scan by scan', async () => {
    const src = await sourceDB();
    const events: MirrorProgress[] = [];
    await mirror(src, await freshFsdb(), { concurrency: 4, onProgress: (e) => events.push(e) });
    const keys = events.filter((e) => e.phase === 'copy' || e.phase === 'index').map((e) => e.key!);
    for (const scan of ['myscan_001', 'plant_2']) {
      const ofScan = keys.filter((k) => k.startsWith(`${scan}/`));
      expect(ofScan.at(-1)).toBe(`${scan}/files.json`);
    }
    expect(events.at(-1)!.phase).toBe('done');
  });

  it('copies what changed, deletes what is gone with `delete`, reports with `dryRun`', async () => {
    const src = await sourceDB();
    const dst = await freshFsdb();
    await mirror(src, dst);
    await src.connect();
    const fs = await (await src.getScan('plant_2')).getFileset('images');
    await (await fs.getFile('img_3')).writeBytes(new Uint8Array([9, 9, 9]), 'png');
    await fs.deleteFile('img_4');
    await src.deleteScan('myscan_001');
    await src.disconnect();

    const dry = await mirror(src, dst, { delete: true, dryRun: true });
    expect(dry.copied).toBe(2); // img_3.png and files.json
    expect(dry.deleted).toBeGreaterThanOrEqual(3); // img_4.png, its metadata, the scan myscan_001
    const untouched = await contents(dst.backend);
    expect(untouched['plant_2/images/img_4.png']).toBeDefined();

    const withoutDelete = await mirror(src, dst);
    expect(withoutDelete.deleted).toBe(0);
    expect((await contents(dst.backend))['plant_2/images/img_4.png']).toBeDefined();
    const real = await mirror(src, dst, { delete: true });
    expect(real.copied).toBe(0);
    expect(real.deleted).toBe(dry.deleted);
    expect(await contents(dst.backend)).toEqual(await contents(src.backend));
  });

  it('resumes after being interrupted: the result equals a clean copy', async () => {
    const src = await sourceDB();
    const dst = await freshFsdb();
    const abort = new AbortController();
    let n = 0;
    const err = await mirror(src, dst, {
      concurrency: 1,
      signal: abort.signal,
      onProgress: (e) => {
        if (e.phase === 'copy' && ++n === 25) abort.abort();
      },
    }).catch((e: unknown) => e);
    expect(isRomiError(err, ErrorCodes.ABORTED)).toBe(true);
    expect(dst.isConnected).toBe(false);
    const resumed = await mirror(src, dst);
    expect(resumed.skipped).toBeGreaterThanOrEqual(20);
    expect(await contents(dst.backend)).toEqual(await contents(src.backend));
    expect((await mirror(src, dst)).copied).toBe(0);
  });

  it('mirrors only the scans asked for, by URL too', async () => {
    const src = await sourceDB();
    const dst = await freshFsdb();
    const r = await mirror(src, `file://${dst.path}`, { scans: ['plant_2'] });
    expect(r.copied).toBeGreaterThan(30);
    await dst.connect({ readOnly: true });
    expect(await dst.listScans()).toEqual(['plant_2']);
    await dst.disconnect();
    const err = await mirror(src, dst, { scans: ['nope'] }).catch((e: unknown) => e);
    expect(isRomiError(err, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
  });

  it('holds the destination lock: a busy destination is refused, changing nothing', async () => {
    const src = await sourceDB();
    const dst = await freshFsdb();
    const other = new FSDB(dst.path);
    await other.connect();
    const before = await contents(dst.backend);
    const err = await mirror(src, dst.path).catch((e: unknown) => e);
    expect(isRomiError(err, ErrorCodes.DB_BUSY)).toBe(true);
    expect(await contents(dst.backend)).toEqual(before);
    await other.disconnect();
  });
});
