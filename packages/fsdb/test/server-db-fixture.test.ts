/**
 * The fixture database of the @romi/server tests: test-fixtures/server-db (made by
 * make_server_db.py there; see its PROVENANCE.md). This checks that romidb reads it as described:
 * its scans, filesets and files, the metadata the server needs, and that check() finds nothing but
 * the broken index it contains on purpose. It works on a copy in a temp folder, read-only, and
 * checks that the fixture itself is left unchanged.
 */
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isRomiError } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';

const SERVER_DB = fileURLToPath(new URL('../../../test-fixtures/server-db/', import.meta.url));

const LONG_FS = 'VirtualPlant_arabidopsis_note___BRANCHON___fal___angles____inte_a7299a0b5f';
const FS_COLMAP = 'Colmap_True_null_SIMPLE_RADIAL_ffcef49fdc';
const FS_PCD = 'PointCloud_1_0_1_0_10_0_7ee836e5a9';
const FS_MESH = 'TriangleMesh_9_most_connected_t_open3d_00e095c359';
const FS_SKEL = 'CurveSkeleton__TriangleMesh_0393cb5708';
const FS_ANGLES = 'AnglesAndInternodes_1_0_2_0_6_0_6dd64fc595';
const IMAGES6 = ['00000_rgb', '00001_rgb', '00002_rgb', '00003_rgb', '00004_rgb', '00005_rgb'];

/** Every regular file under `root` (relative POSIX paths) → sha256, sorted by path. */
async function treeDigest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(rel === '' ? root : `${root}/${rel}`, { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else out[path] = createHash('sha256').update(await readFile(`${root}/${path}`)).digest('hex');
    }
  };
  await walk('');
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return isRomiError(err) ? err.code : `not a RomiError: ${String(err)}`;
  }
  return 'resolved';
}

let before: Record<string, string>;
beforeAll(async () => {
  before = await treeDigest(SERVER_DB);
});
afterAll(async () => {
  expect(await treeDigest(SERVER_DB)).toEqual(before);
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A read-only FSDB over a fresh copy of test-fixtures/server-db. */
async function openCopy(): Promise<{ db: FSDB; dir: string }> {
  const dir = await mkdtemp(`${tmpdir()}/romidb-server-db-`);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await cp(SERVER_DB, dir, { recursive: true });
  const db = new FSDB(dir);
  cleanups.push(() => db.disconnect());
  await db.connect({ readOnly: true });
  return { db, dir };
}

describe('test-fixtures/server-db', () => {
  it('has the five scans; the broken index is a scan whose reads fail as corrupt', async () => {
    const { db } = await openCopy();
    expect(await db.listScans()).toEqual(['broken_index', 'no_images', 'real_plant', 'real_plant_analyzed', 'virtual_plant']);
    const broken = await db.getScan('broken_index');
    expect(await codeOf(broken.listFilesets())).toBe('ROMI_CORRUPT');
    expect(await broken.getMetadata()).toEqual({ object: { environment: 'none', plant_id: 'broken_index' } });
  });

  it('lists the filesets and files of each scan in files.json order', async () => {
    const { db } = await openCopy();
    const layout = async (scanId: string): Promise<Array<[string, string[]]>> => {
      const scan = await db.getScan(scanId);
      const out: Array<[string, string[]]> = [];
      for (const fs of await scan.getFilesets()) out.push([fs.id, await fs.listFiles()]);
      return out;
    };
    expect(await layout('real_plant')).toEqual([['images', IMAGES6]]);
    expect(await layout('virtual_plant')).toEqual([
      [LONG_FS, ['VirtualPlant_mtl']],
      ['images', ['00000_rgb', '00000_leaf', '00000_stem']],
    ]);
    expect(await layout('real_plant_analyzed')).toEqual([
      ['images', IMAGES6],
      [FS_COLMAP, ['points3d', 'images', 'cameras', 'sparse']],
      [FS_PCD, ['PointCloud']],
      [FS_MESH, ['TriangleMesh']],
      [FS_SKEL, ['CurveSkeleton']],
      [FS_ANGLES, ['AnglesAndInternodes']],
    ]);
    expect(await layout('no_images')).toEqual([['notes', ['readme']]]);
    expect(await (await db.getScan('no_images')).hasFileset('images')).toBe(false);

    // Every listed file is present and readable.
    let files = 0;
    for (const scanId of ['real_plant', 'virtual_plant', 'real_plant_analyzed', 'no_images']) {
      for (const fs of await (await db.getScan(scanId)).getFilesets()) {
        for (const file of await fs.getFiles()) {
          expect((await file.readBytes()).length, `${scanId}/${fs.id}/${file.id}`).toBeGreaterThan(0);
          files++;
        }
      }
    }
    expect(files).toBe(6 + 4 + (6 + 4 + 1 + 1 + 1 + 1) + 1);
  });

  it('has the metadata the server reads: scan object and date, workspace, channels, colmap_camera, measures', async () => {
    const { db } = await openCopy();
    const analyzed = await db.getScan('real_plant_analyzed');
    expect(await analyzed.getMetadata('acquisition_date')).toBe('2023-12-15 16:37:15');
    expect(await analyzed.getMetadata('object')).toMatchObject({ environment: 'Lyon indoor', species: 'Arabidopsis thaliana', plant_id: 'Col-0_real_plant' });
    const images = await analyzed.getFileset('images');
    expect(await images.getMetadata('acquisition_date')).toBe('2023-12-15 16:37:15');
    expect(await images.getMetadata('workspace')).toEqual({ x: [340, 440], y: [330, 410], z: [-180, 105] });
    expect(await images.getMetadata('channels')).toEqual(['rgb']);
    for (const file of await images.getFiles()) {
      const cam = (await file.getMetadata('colmap_camera')) as { camera_model: { model: string; width: number; height: number; params: number[] }; rotmat: number[][]; tvec: number[] };
      expect(cam.camera_model).toMatchObject({ id: 1, model: 'OPENCV', width: 1440, height: 1080 });
      expect(cam.camera_model.params).toHaveLength(8);
      expect(cam.rotmat.map((row) => row.length)).toEqual([3, 3, 3]);
      expect(cam.tvec).toHaveLength(3);
      expect(await file.getMetadata('channel')).toBe('rgb');
    }
    const first = await images.getFile('00000_rgb');
    expect(await first.getMetadata('colmap_camera')).toMatchObject({ rotmat: [[0, -1, 0], [0, 0, -1], [1, 0, 0]], tvec: [375, 80, -75] });

    expect(Object.keys(await analyzed.getMeasures()).sort()).toEqual(['angles', 'internodes']);
    expect(Object.keys(await (await db.getScan('real_plant')).getMeasures()).sort()).toEqual(['angles', 'internodes']);
    expect(await (await db.getScan('virtual_plant')).getMeasures()).toEqual({});

    const skeleton = JSON.parse(await (await (await analyzed.getFileset(FS_SKEL)).getFile('CurveSkeleton')).readText()) as { points: number[][]; lines: number[][] };
    expect(skeleton.points.length).toBe(30);
    for (const [i, j] of skeleton.lines) expect(i < skeleton.points.length && j < skeleton.points.length).toBe(true);
    const seq = JSON.parse(await (await (await analyzed.getFileset(FS_ANGLES)).getFile('AnglesAndInternodes')).readText()) as Record<string, unknown[]>;
    expect(Object.keys(seq)).toEqual(['angles', 'internodes', 'fruit_points']);
    expect(seq.angles).toHaveLength(5);
    expect(seq.internodes).toHaveLength(5);
    expect(seq.fruit_points).toHaveLength(6);

    const pcd = await (await analyzed.getFileset(FS_PCD)).getFile('PointCloud');
    expect(await pcd.getMetadata()).toEqual({ voxel_size: 0.5 });
    expect(Buffer.from(await pcd.readBytes()).subarray(0, 200).toString('latin1')).toContain('element vertex 57890');
    // The real scan has no metadata.json: its metadata is {} for romidb (plantdb merges images.json's object into it).
    expect(await (await db.getScan('real_plant')).getMetadata()).toEqual({});
  });

  it('check() reports the broken index and nothing else', async () => {
    const { db } = await openCopy();
    const report = await db.check();
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => `${p.kind}:${p.key}`)).toEqual(['corrupt-json:broken_index/files.json']);
    expect(report.problems[0]).toMatchObject({ scan: 'broken_index' });
  });
});
