import { dummyDB } from '@romi/memdb';
import { describe, expect, it } from 'vitest';
import {
  ndarray,
  readCSV,
  readImage,
  readJSON,
  readNpy,
  readNpz,
  readPointCloud,
  readTOML,
  readTriangleMesh,
  readVolume,
  writeCSV,
  writeImage,
  writeJSON,
  writeNpy,
  writeNpz,
  writePointCloud,
  writeTOML,
  writeTriangleMesh,
  writeVolume,
  type NDArray,
} from '../src/index.js';
import { romiError, sameBytes } from './helpers.js';

// The same round trips as plantdb's test_io.py, through a real database File (memdb).
async function fileset() {
  const db = await dummyDB({ withFile: true });
  const fs = await (await db.getScan('myscan_001')).getFileset('fileset_001');
  return { db, fs };
}

describe('io through database Files (memdb)', () => {
  it("reads dummyDB's images and JSON", async () => {
    const { fs, db } = await fileset();
    const dummy = await readImage(await fs.getFile('dummy_image'));
    expect(dummy).toEqual({ data: new Uint8Array([255, 0, 0, 255]), width: 2, height: 2, channels: 1 });
    const test = await readImage(await fs.getFile('test_image'));
    expect([test.width, test.height, test.channels]).toEqual([50, 50, 3]);
    expect(await readJSON(await fs.getFile('test_json'))).toEqual({ 'Who you gonna call?': 'Ghostbuster' });
    await db.disconnect();
  });

  it('png and jpg: 1×1 zeros; the file gets the extension', async () => {
    const { fs, db } = await fileset();
    for (const ext of ['png', 'jpg']) {
      const f = await fs.createFile(`test_${ext}`);
      const img = { data: new Uint8Array(3), width: 1, height: 1, channels: 3 as const };
      await writeImage(f, img, ext);
      expect(f.filename).toBe(`test_${ext}.${ext}`);
      expect(await readImage(f)).toEqual(img);
    }
    await db.disconnect();
  });

  it('json and toml dicts', async () => {
    const { fs, db } = await fileset();
    const j = await fs.createFile('test_json2');
    await writeJSON(j, { test: { json: 1 } });
    expect(j.filename).toBe('test_json2.json');
    expect(await readJSON(j)).toEqual({ test: { json: 1 } });
    const t = await fs.createFile('test_toml');
    await writeTOML(t, { test: { toml: 1 } });
    expect(t.filename).toBe('test_toml.toml');
    expect(await t.readText()).toBe('[test]\ntoml = 1\n');
    expect(await readTOML(t)).toEqual({ test: { toml: 1 } });
    const c = await fs.createFile('test_csv');
    await writeCSV(c, [['a', 'b,c'], ['1', '2']]);
    expect(await readCSV(c)).toEqual([['a', 'b,c'], ['1', '2']]);
    await db.disconnect();
  });

  it('volume: random 50×50×200 float64 through the default tiff, exactly; then as npz', async () => {
    const { fs, db } = await fileset();
    const f = await fs.createFile('test_volume');
    const vol = ndarray('float64', [50, 50, 200]);
    for (let i = 0; i < vol.data.length; i++) vol.data[i] = Math.random();
    await writeVolume(f, vol);
    expect(f.filename).toBe('test_volume.tiff');
    const back = await readVolume(f);
    expect(back.shape).toEqual([50, 50, 200]);
    expect(sameBytes(back.data, vol.data)).toBe(true);
    // rewriting with another extension replaces the file
    await writeVolume(f, vol, 'npz');
    expect(f.filename).toBe('test_volume.npz');
    expect(sameBytes((await readVolume(f)).data, vol.data)).toBe(true);
    await db.disconnect();
  });

  it('npz: 5 arrays "0".."4" of 10×10×3; npy', async () => {
    const { fs, db } = await fileset();
    const f = await fs.createFile('test_npz');
    const arrays: Record<string, NDArray> = {};
    for (let k = 0; k < 5; k++) {
      arrays[String(k)] = ndarray('float64', [10, 10, 3]);
      arrays[String(k)].data.forEach((_, i, d) => ((d as Float64Array)[i] = Math.random()));
    }
    await writeNpz(f, arrays);
    expect(f.filename).toBe('test_npz.npz');
    expect(await readNpz(f)).toEqual(arrays);
    const g = await fs.createFile('test_npy');
    await writeNpy(g, arrays['0']);
    expect(g.filename).toBe('test_npy.npy');
    expect(await readNpy(g)).toEqual(arrays['0']);
    await db.disconnect();
  });

  it('point cloud of one point, and a triangle mesh', async () => {
    const { fs, db } = await fileset();
    const f = await fs.createFile('test_pcd');
    await writePointCloud(f, { points: new Float64Array([1, 2, 3]) });
    expect(f.filename).toBe('test_pcd.ply');
    expect(Array.from((await readPointCloud(f)).points)).toEqual([1, 2, 3]);
    const m = await fs.createFile('test_mesh');
    const mesh = { vertices: new Float64Array([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]), triangles: new Uint32Array([0, 1, 2, 0, 1, 3]) };
    await writeTriangleMesh(m, mesh);
    expect(await readTriangleMesh(m)).toEqual(mesh);
    await db.disconnect();
  });

  it('errors about a database File name the scan, fileset and file', async () => {
    const { fs, db } = await fileset();
    const err = await romiError(async () => readPointCloud(await fs.getFile('test_json')));
    expect(err.code).toBe('ROMI_CORRUPT');
    expect(err.message).toContain('myscan_001/fileset_001/test_json.json');
    // never written: the File's own FileNotFoundError comes through
    const empty = await fs.createFile('never_written');
    expect((await romiError(() => readImage(empty))).code).toBe('ROMI_NOT_FOUND');
    await db.disconnect();
  });

  it('an aborted signal stops a read before any I/O', async () => {
    const { fs, db } = await fileset();
    const ac = new AbortController();
    ac.abort();
    expect((await romiError(async () => readImage(await fs.getFile('dummy_image'), { signal: ac.signal }))).code).toBe('ROMI_ABORTED');
    await db.disconnect();
  });
});
