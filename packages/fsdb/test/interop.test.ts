/**
 * Interoperability with real databases written by the Python tools (issue 3).
 *
 * Fixtures: test-fixtures/realdata (a subset of plant-3d-vision's tests/testdata and plant-imager's
 * database_example; see PROVENANCE.md there). Each test works on its own copy in a temp folder.
 * Expected bytes of every JSON file the writes change come from Python (golden/make_golden.py,
 * run once; the files are committed): no Python runs at test time.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isRomiError, openDB, type CheckReport, type DB, type Fileset, type Scan } from '@romi/db-core';
import { FSDB } from '../src/index.js';
import {
  codeOf,
  copyFixture,
  fixturePath,
  goldenPath,
  readFolders,
  readStreamBytes,
  readTree,
  text,
  type RealDB,
} from './fixtures.js';

const LONG_FS = 'VirtualPlant_arabidopsis_note___BRANCHON___fal___angles____inte_a7299a0b5f';
const P3DV: RealDB = 'plant-3d-vision-db';
const IMAGER: RealDB = 'plant-imager-db';

// ---- helpers ----

const cleanups: Array<() => Promise<void>> = [];

/** A connected FSDB over a fresh copy of a fixture database. */
async function openCopy(name: RealDB, readOnly: boolean): Promise<{ db: FSDB; dir: string }> {
  const copy = await copyFixture(name);
  const db = new FSDB(copy.dir);
  cleanups.push(async () => {
    await db.disconnect();
    await copy.dispose();
  });
  await db.connect({ readOnly });
  return { db, dir: copy.dir };
}

async function reopen(dir: string, readOnly: boolean): Promise<FSDB> {
  const db = new FSDB(dir);
  cleanups.push(() => db.disconnect());
  await db.connect({ readOnly });
  return db;
}

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const isText = (rel: string): boolean => /\.(json|toml|mtl)$/.test(rel);

/** A tree as `path → text` (JSON, TOML, MTL) or `path → sha256 + size` (binary): readable diffs. */
function describeTree(tree: Map<string, Buffer>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rel, bytes] of tree) {
    out[rel] = isText(rel) ? text(bytes) : `sha256:${createHash('sha256').update(bytes).digest('hex')} (${bytes.length} B)`;
  }
  return out;
}

function expectSameTree(actual: Map<string, Buffer>, expected: Map<string, Buffer>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  expect(describeTree(actual)).toEqual(describeTree(expected));
  for (const [rel, bytes] of expected) expect(Buffer.compare(actual.get(rel)!, bytes), rel).toBe(0);
}

const problemList = (report: CheckReport): string[] => report.problems.map((p) => `${p.kind}:${p.key}`).sort();
const fixedList = (report: CheckReport): string[] => report.problems.map((p) => `${p.kind}:${p.key}:${p.fixed ? 'fixed' : 'kept'}`).sort();

async function fixtureJson(name: RealDB, rel: string): Promise<unknown> {
  return JSON.parse(await readFile(fixturePath(name, rel), 'utf8'));
}

async function fixtureJsonOr(name: RealDB, rel: string, fallback: unknown): Promise<unknown> {
  try {
    return await fixtureJson(name, rel);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw err;
  }
}

/** Every (scan, fileset, file) of a database, in listing order. */
async function walkDB(db: DB): Promise<Array<{ scan: Scan; fileset: Fileset; fileId: string }>> {
  const out: Array<{ scan: Scan; fileset: Fileset; fileId: string }> = [];
  for (const scan of await db.getScans()) {
    for (const fileset of await scan.getFilesets()) {
      for (const fileId of await fileset.listFiles()) out.push({ scan, fileset, fileId });
    }
  }
  return out;
}

// What check() finds in the fixtures as copied (see PROVENANCE.md, "Edge cases").
const P3DV_PROBLEMS = [
  'missing-file:models/models/Resnet_896_896_epoch50.pt',
  `missing-file:virtual_plant/${LONG_FS}/VirtualPlant.obj`,
  'missing-fileset:models/models/',
];
const IMAGER_PROBLEMS = [
  'missing-file:vscan_data/hdri/felsenlabyrinth_2k.hdr',
  'missing-file:vscan_data/hdri/forest_slope_2k.hdr',
  'missing-file:vscan_data/lpy/arabidopsis_notex.lpy',
  'missing-fileset:vscan_data/hdri/',
  'missing-fileset:vscan_data/lpy/',
  'orphan-metadata:vscan_data/metadata/scenes.json',
];

// The fixtures themselves must never change.
const fixtureTrees = new Map<RealDB, Map<string, Buffer>>();
beforeAll(async () => {
  for (const name of [P3DV, IMAGER]) fixtureTrees.set(name, await readTree(fixturePath(name)));
});
afterAll(async () => {
  for (const name of [P3DV, IMAGER]) expectSameTree(await readTree(fixturePath(name)), fixtureTrees.get(name)!);
});
const fixtureTree = (name: RealDB): Map<string, Buffer> => new Map(fixtureTrees.get(name)!);

// ---- read-only ----

describe('plant-3d-vision tests/testdata, read-only', () => {
  it('lists scans sorted, filesets and files in files.json order', async () => {
    const { db } = await openCopy(P3DV, true);
    expect(await db.listScans()).toEqual(['models', 'real_plant', 'virtual_plant']);
    expect((await db.getScans()).map((s) => s.id)).toEqual(['models', 'real_plant', 'virtual_plant']);

    const real = await db.getScan('real_plant');
    expect(await real.listFilesets()).toEqual(['images']);
    const images = await real.getFileset('images');
    expect(await images.listFiles()).toEqual(['00000_rgb', '00001_rgb', '00002_rgb', '00003_rgb']);
    expect((await images.getFiles()).map((f) => f.filename)).toEqual(['00000_rgb.jpg', '00001_rgb.jpg', '00002_rgb.jpg', '00003_rgb.jpg']);

    const virtual = await db.getScan('virtual_plant');
    // Index order, not sorted: the long task-output fileset comes first in its files.json.
    expect(await virtual.listFilesets()).toEqual([LONG_FS, 'images']);
    expect(await (await virtual.getFileset('images')).listFiles()).toEqual(['00000_rgb', '00000_leaf', '00000_stem']);
    expect(await (await virtual.getFileset(LONG_FS)).listFiles()).toEqual(['VirtualPlant', 'VirtualPlant_mtl']);

    const models = await db.getScan('models');
    expect(await models.listFilesets()).toEqual(['models']);
    const modelFiles = await (await models.getFileset('models')).getFiles();
    expect(modelFiles.map((f) => [f.id, f.filename])).toEqual([['Resnet_896_896_epoch50', 'Resnet_896_896_epoch50.pt']]);

    // Files at a scan's root that files.json does not list are not filesets.
    expect(await real.hasFileset('scan.toml')).toBe(false);
    // Reserved ids are refused on creation only; looking one up just finds nothing.
    expect(await codeOf(real.getFileset('metadata'))).toBe('ROMI_NOT_FOUND');
    expect(await codeOf(real.createFileset('metadata'))).toBe('ROMI_INVALID_ID'); // checked before the read-only refusal, before any I/O
    expect(await codeOf(db.getScan('romidb'))).toBe('ROMI_NOT_FOUND');
  });

  it('reads every present file byte for byte; listed-but-missing files are ROMI_NOT_FOUND', async () => {
    const { db, dir } = await openCopy(P3DV, true);
    const missing: string[] = [];
    let read = 0;
    for (const { scan, fileset, fileId } of await walkDB(db)) {
      const file = await fileset.getFile(fileId);
      const rel = `${scan.id}/${fileset.id}/${file.filename}`;
      const onDisk = fixtureTrees.get(P3DV)!.get(rel);
      if (onDisk === undefined) {
        missing.push(rel);
        expect(await codeOf(file.readBytes()), rel).toBe('ROMI_NOT_FOUND');
        expect(await codeOf(readStreamBytes(file.readStream())), rel).toBe('ROMI_NOT_FOUND');
        continue;
      }
      const bytes = await file.readBytes();
      expect(Buffer.compare(Buffer.from(bytes), onDisk), rel).toBe(0);
      expect(Buffer.compare(Buffer.from(bytes), await readFile(`${dir}/${rel}`)), rel).toBe(0);
      expect(file.localPath()).toBe(`${dir}/${rel}`);
      read++;
    }
    expect(read).toBe(4 + 3 + 1);
    expect(missing).toEqual(['models/models/Resnet_896_896_epoch50.pt', `virtual_plant/${LONG_FS}/VirtualPlant.obj`]);

    // Streams and text give the same bytes.
    const rgb = await (await (await db.getScan('virtual_plant')).getFileset('images')).getFile('00000_rgb');
    expect(Buffer.compare(await readStreamBytes(rgb.readStream()), fixtureTrees.get(P3DV)!.get('virtual_plant/images/00000_rgb.png')!)).toBe(0);
    const mtl = await (await (await db.getScan('virtual_plant')).getFileset(LONG_FS)).getFile('VirtualPlant_mtl');
    expect(await mtl.readText()).toBe(await readFile(fixturePath(P3DV, `virtual_plant/${LONG_FS}/VirtualPlant_mtl.mtl`), 'utf8'));
    expect((await mtl.readText()).startsWith('# Blender MTL File')).toBe(true);
  });

  it('reads every scan, fileset and file metadata as the values Python loads ({} where there is no JSON)', async () => {
    const { db } = await openCopy(P3DV, true);
    let compared = 0;
    const withoutJson: string[] = [];
    for (const scan of await db.getScans()) {
      const scanJson = await fixtureJsonOr(P3DV, `${scan.id}/metadata/metadata.json`, undefined);
      // No scan of plant-3d-vision's testdata has metadata/metadata.json.
      expect(scanJson, scan.id).toBeUndefined();
      expect(await scan.getMetadata()).toEqual({});
      for (const fileset of await scan.getFilesets()) {
        expect(await fileset.getMetadata(), `${scan.id}/${fileset.id}`).toEqual(await fixtureJson(P3DV, `${scan.id}/metadata/${fileset.id}.json`));
        compared++;
        for (const fileId of await fileset.listFiles()) {
          const file = await fileset.getFile(fileId);
          const json = await fixtureJsonOr(P3DV, `${scan.id}/metadata/${fileset.id}/${fileId}.json`, undefined);
          if (json === undefined) withoutJson.push(`${scan.id}/${fileset.id}/${fileId}`);
          expect(await file.getMetadata(), `${scan.id}/${fileset.id}/${fileId}`).toEqual(json ?? {});
          compared++;
        }
      }
    }
    expect(compared).toBe(4 + 1 + 2 + 3 + 2 + 1 + 1);
    expect(withoutJson).toEqual([`virtual_plant/${LONG_FS}/VirtualPlant_mtl`]);
  });

  it('gives mixed ints and floats back as JS numbers with their values', async () => {
    const { db } = await openCopy(P3DV, true);
    const real = await (await db.getScan('real_plant')).getFileset('images');
    const f1 = await real.getFile('00001_rgb');
    expect(await f1.getMetadata()).toEqual({
      approximate_pose: [76.64343138951801, 343.64146101970397, 80, 276.0, 0],
      channel: 'rgb',
      shot_id: '000001',
    });
    const pose = await f1.getMetadata<number[]>('approximate_pose');
    expect(pose.map((n) => typeof n)).toEqual(['number', 'number', 'number', 'number', 'number']);
    expect(pose[3]).toBe(276); // "276.0" in the file: a float in Python, the number 276 here
    expect(pose[2]).toBe(80);
    expect(await f1.getMetadata('exposure')).toBeUndefined();
    expect(await f1.getMetadata('exposure', 0.5)).toBe(0.5);
    // Copies: changing what was returned changes nothing stored.
    pose[3] = 0;
    expect((await f1.getMetadata<number[]>('approximate_pose'))[3]).toBe(276);

    expect(await real.getMetadata()).toEqual({
      channels: ['rgb'],
      object: { age: '0', environment: 'Lyon indoor', experiment_id: 'calibration01', object: 'random objects' },
      task_params: { fileset_id: 'images', output_file_id: 'out', scan_id: '' },
      workspace: { x: [340, 440], y: [330, 410], z: [-180, 105] },
    });

    const virtual = await db.getScan('virtual_plant');
    const rgb = await (await virtual.getFileset('images')).getFile('00000_rgb');
    expect(await rgb.getMetadata('approximate_pose')).toEqual([-77, 3, 65, 270, 8]);
    const camera = await rgb.getMetadata<{ camera_model: { params: number[]; width: number }; rotmat: number[][]; tvec: number[] }>('camera');
    expect(camera.camera_model.params).toEqual([371.19999864366315, 371.19999864366315, 448, 448, 0, 0, 0, 0]);
    expect(camera.camera_model.width).toBe(896);
    expect(camera.rotmat[0]).toEqual([-5.886437293156632e-8, -1, 0]);
    expect(camera.rotmat[1][2]).toBe(-0.9902681112289429);
    expect(camera.tvec).toEqual([2.999995470046997, 53.65108871459961, 85.29689025878906]);

    const truth = (await (await (await virtual.getFileset(LONG_FS)).getFile('VirtualPlant')).getMetadata()) as { angles: number[]; internodes: number[] };
    expect(truth.angles).toHaveLength(41);
    expect(truth.internodes).toHaveLength(41);
    expect(truth.angles.every((n) => typeof n === 'number' && Number.isFinite(n))).toBe(true);
    expect(truth.angles[0]).toBe(2.343678729094232);
  });

  it('reads the very long fileset id and its metadata', async () => {
    const { db } = await openCopy(P3DV, true);
    const virtual = await db.getScan('virtual_plant');
    expect(LONG_FS).toHaveLength(74);
    expect(await virtual.hasFileset(LONG_FS)).toBe(true);
    const fs = await virtual.getFileset(LONG_FS);
    expect(fs.id).toBe(LONG_FS);
    expect(await fs.getMetadata('task_params')).toEqual({
      lpy_file_id: 'arabidopsis_notex',
      lpy_globals: { BETA: 51, BRANCHON: false, INTERNODE_LENGTH: 1.3, MEAN_NB_DAYS: 70, STDEV_NB_DAYS: 5, STEM_DIAMETER: 0.09 },
      metadata: ['angles', 'internodes'],
      output_file_id: 'out',
      scan_id: '',
    });
    expect(await virtual.listFilesets({ query: { task_params: { lpy_file_id: 'arabidopsis_notex' } } })).toEqual([LONG_FS]);
  });

  it('reads measures.json of real_plant; {} for scans without one', async () => {
    const { db } = await openCopy(P3DV, true);
    const measures = await (await db.getScan('real_plant')).getMeasures();
    expect(measures).toEqual(await fixtureJson(P3DV, 'real_plant/measures.json'));
    expect((measures.angles as number[]).length).toBe(29);
    expect((measures.internodes as number[]).length).toBe(29);
    expect((measures.angles as number[])[0]).toBe(2.356194490192345);
    expect(await (await db.getScan('virtual_plant')).getMeasures()).toEqual({});
    expect(await (await db.getScan('models')).getMeasures()).toEqual({});
  });

  it('queries real metadata', async () => {
    const { db } = await openCopy(P3DV, true);
    const vimages = await (await db.getScan('virtual_plant')).getFileset('images');
    expect(await vimages.listFiles({ query: { channel: 'leaf' } })).toEqual(['00000_leaf']);
    expect(await vimages.listFiles({ query: { channel: 's.*' }, fuzzy: true })).toEqual(['00000_stem']);
    expect(await vimages.listFiles({ query: { shot_id: '000000' } })).toEqual(['00000_rgb', '00000_leaf', '00000_stem']);
    const rimages = await (await db.getScan('real_plant')).getFileset('images');
    expect(await rimages.listFiles({ query: { shot_id: '000002' } })).toEqual(['00002_rgb']);
    expect(await db.listScans({ query: { species: 'x' } })).toEqual([]);
  });

  it('the models file is listed but missing: ROMI_NOT_FOUND on read, metadata still readable', async () => {
    const { db } = await openCopy(P3DV, true);
    const models = await (await db.getScan('models')).getFileset('models');
    expect(await models.hasFile('Resnet_896_896_epoch50')).toBe(true);
    const file = await models.getFile('Resnet_896_896_epoch50');
    expect(await codeOf(file.readBytes())).toBe('ROMI_NOT_FOUND');
    expect(await codeOf(file.readText())).toBe('ROMI_NOT_FOUND');
    expect(await file.getMetadata()).toEqual({
      label_names: ['background', 'flower', 'fruit', 'leaf', 'pedicel', 'stem'],
      model_id: 'Resnet_896_896_epoch50',
    });
    expect(await models.getMetadata()).toEqual({ task_params: { output_file_id: 'out', scan_id: 'models' } });
  });

  it('refuses every write read-only and leaves every byte (and no lock) behind', async () => {
    const { db, dir } = await openCopy(P3DV, true);
    const real = await db.getScan('real_plant');
    const images = await real.getFileset('images');
    const file = await images.getFile('00001_rgb');
    expect(await codeOf(file.setMetadata('exposure', 0.25))).toBe('ROMI_READ_ONLY');
    expect(await codeOf(real.setMetadata({ a: 1 }))).toBe('ROMI_READ_ONLY');
    expect(await codeOf(images.createFile('new'))).toBe('ROMI_READ_ONLY');
    expect(await codeOf(images.deleteFile('00002_rgb'))).toBe('ROMI_READ_ONLY');
    expect(await codeOf(file.writeBytes(new Uint8Array([1]), 'jpg'))).toBe('ROMI_READ_ONLY');
    expect(await codeOf(db.check({ fix: true }))).toBe('ROMI_READ_ONLY');
    expect(await codeOf(db.deleteScan('models'))).toBe('ROMI_READ_ONLY');
    expectSameTree(await readTree(dir), fixtureTree(P3DV));
    expect(await readFolders(dir)).toEqual(await readFolders(fixturePath(P3DV)));
  });
});

describe('plant-imager database_example, read-only', () => {
  it('lists vscan_data, its filesets and files; scenes.json metadata is not a fileset', async () => {
    const { db } = await openCopy(IMAGER, true);
    expect(await db.listScans()).toEqual(['vscan_data']);
    const scan = await db.getScan('vscan_data');
    expect(await scan.listFilesets()).toEqual(['hdri', 'lpy', 'palette']);
    expect(await (await scan.getFileset('hdri')).listFiles()).toEqual(['felsenlabyrinth_2k', 'forest_slope_2k']);
    expect(await (await scan.getFileset('lpy')).listFiles()).toEqual(['arabidopsis_notex']);
    expect(await (await scan.getFileset('palette')).listFiles()).toEqual(['palette_arabi']);
    expect(await scan.hasFileset('scenes')).toBe(false);
    expect(await codeOf(scan.getFileset('scenes'))).toBe('ROMI_NOT_FOUND');
    expect(await scan.getMetadata()).toEqual({});
    expect(await scan.getMeasures()).toEqual({});
  });

  it('palette is readable byte for byte; hdri and lpy data are missing: ROMI_NOT_FOUND', async () => {
    const { db } = await openCopy(IMAGER, true);
    const scan = await db.getScan('vscan_data');
    const palette = await (await scan.getFileset('palette')).getFile('palette_arabi');
    expect(palette.filename).toBe('palette_arabi.png');
    const bytes = await palette.readBytes();
    expect(Buffer.compare(Buffer.from(bytes), await readFile(fixturePath(IMAGER, 'vscan_data/palette/palette_arabi.png')))).toBe(0);
    expect(Buffer.from(bytes.subarray(0, 8)).toString('hex')).toBe('89504e470d0a1a0a');
    for (const [fs, id] of [['hdri', 'felsenlabyrinth_2k'], ['hdri', 'forest_slope_2k'], ['lpy', 'arabidopsis_notex']] as const) {
      const file = await (await scan.getFileset(fs)).getFile(id);
      expect(await codeOf(file.readBytes()), `${fs}/${id}`).toBe('ROMI_NOT_FOUND');
    }
  });

  it('reads fileset metadata; files without a JSON have {}', async () => {
    const { db } = await openCopy(IMAGER, true);
    const scan = await db.getScan('vscan_data');
    for (const fs of await scan.getFilesets()) {
      expect(await fs.getMetadata(), fs.id).toEqual(await fixtureJson(IMAGER, `vscan_data/metadata/${fs.id}.json`));
      for (const file of await fs.getFiles()) expect(await file.getMetadata(), `${fs.id}/${file.id}`).toEqual({});
    }
    expect(await (await scan.getFileset('palette')).getMetadata()).toEqual({
      task_parameters: {},
      task_params: { output_file_id: 'out', scan_id: 'vscan_data' },
    });
    expect(await (await scan.getFileset('lpy')).getMetadata()).toEqual({ task_params: { output_file_id: 'out', scan_id: 'vscan_data' } });
  });
});

describe('opening the real databases', () => {
  it('FSDB.init and openDB(file URL or path) on an existing database change no byte', async () => {
    const copy = await copyFixture(P3DV);
    cleanups.push(copy.dispose);
    const db = await FSDB.init(copy.dir);
    expect(db.path).toBe(copy.dir);
    expectSameTree(await readTree(copy.dir), fixtureTree(P3DV));
    for (const location of [`file://${copy.dir}`, copy.dir]) {
      const opened = await openDB(location, { readOnly: true });
      cleanups.push(() => opened.disconnect());
      expect(opened.readOnly).toBe(true);
      expect(await opened.listScans()).toEqual(['models', 'real_plant', 'virtual_plant']);
      await opened.disconnect();
    }
    expectSameTree(await readTree(copy.dir), fixtureTree(P3DV));
  });

  it('a malformed file: URL is ROMI_INVALID_ARGUMENT, never a raw URIError', async () => {
    for (const url of [new URL('file:///tmp/a%zz'), new URL('file:///tmp/a%2Fb'), 'file:///tmp/a%zz']) {
      const err = await openDB(url, { connect: false }).catch((e: unknown) => e);
      expect(isRomiError(err, 'ROMI_INVALID_ARGUMENT'), String(err)).toBe(true);
    }
  });
});

// ---- check() ----

describe('check() on the real databases', () => {
  it('plant-3d-vision: reports exactly the missing model, the missing .obj and the missing models folder', async () => {
    const { db, dir } = await openCopy(P3DV, true);
    const report = await db.check();
    expect(report.ok).toBe(false);
    expect(problemList(report)).toEqual(P3DV_PROBLEMS);
    expect(report.problems.find((p) => p.kind === 'missing-file' && p.scan === 'models')).toMatchObject({
      scan: 'models',
      fileset: 'models',
      file: 'Resnet_896_896_epoch50',
    });
    expect(report.problems.find((p) => p.scan === 'virtual_plant')).toMatchObject({ fileset: LONG_FS, file: 'VirtualPlant' });
    expectSameTree(await readTree(dir), fixtureTree(P3DV));
  });

  it('plant-imager: reports the missing hdri/lpy data and folders, and scenes.json as orphan metadata', async () => {
    const { db, dir } = await openCopy(IMAGER, true);
    const report = await db.check();
    expect(report.ok).toBe(false);
    expect(problemList(report)).toEqual(IMAGER_PROBLEMS);
    expect(report.problems.find((p) => p.kind === 'orphan-metadata')).toMatchObject({ scan: 'vscan_data', fileset: 'scenes' });
    expectSameTree(await readTree(dir), fixtureTree(IMAGER));
  });

  it('plant-3d-vision: check({fix: true}) deletes no file, backs up files.json byte for byte, drops only entries whose data is gone', async () => {
    const { db, dir } = await openCopy(P3DV, false);
    const before = fixtureTree(P3DV); // (read before connecting: a writer's lock owner file exists while it is connected)
    const foldersBefore = await readFolders(fixturePath(P3DV));
    const report = await db.check({ fix: true });
    // The entries are dropped; their metadata is kept, and reported as orphaned in the same report.
    expect(fixedList(report)).toEqual(
      [
        ...P3DV_PROBLEMS.map((p) => `${p}:fixed`),
        'orphan-metadata:models/metadata/models/Resnet_896_896_epoch50.json:kept',
        `orphan-metadata:virtual_plant/metadata/${LONG_FS}/VirtualPlant.json:kept`,
      ].sort(),
    );
    expect(report.ok).toBe(false);
    await db.disconnect();

    const after = await readTree(dir);
    const added = [...after.keys()].filter((k) => !before.has(k));
    expect([...before.keys()].filter((k) => !after.has(k))).toEqual([]); // nothing deleted
    expect(added).toHaveLength(2);
    for (const scan of ['models', 'virtual_plant']) {
      const backup = added.find((k) => k.startsWith(`${scan}/`));
      expect(backup, scan).toMatch(new RegExp(`^${scan}/files_\\d{8}_\\d{6}\\.json$`));
      // The backup is the original files.json, byte for byte (models' ends with a newline).
      expect(Buffer.compare(after.get(backup!)!, before.get(`${scan}/files.json`)!), backup).toBe(0);
      expect(text(after.get(`${scan}/files.json`)!)).toBe(await readFile(goldenPath('fix', P3DV, `${scan}/files.json`), 'utf8'));
    }
    // Every other file is unchanged; the missing fileset folder was recreated (empty).
    const expected = new Map(before);
    for (const k of added) expected.set(k, after.get(k)!);
    for (const scan of ['models', 'virtual_plant']) expected.set(`${scan}/files.json`, after.get(`${scan}/files.json`)!);
    expectSameTree(after, expected);
    expect((await readFolders(dir)).filter((f) => !foldersBefore.includes(f))).toEqual(['models/models']);

    // The metadata of the dropped entries is kept, and is now orphaned (never deleted).
    const again = await reopen(dir, true);
    expect(problemList(await again.check())).toEqual([
      'orphan-metadata:models/metadata/models/Resnet_896_896_epoch50.json',
      `orphan-metadata:virtual_plant/metadata/${LONG_FS}/VirtualPlant.json`,
    ]);
    expect(await (await (await again.getScan('models')).getFileset('models')).listFiles()).toEqual([]);
    expect(await (await (await again.getScan('virtual_plant')).getFileset(LONG_FS)).listFiles()).toEqual(['VirtualPlant_mtl']);
  });

  it('plant-imager: check({fix: true}) deletes no file, backs up files.json, keeps scenes.json', async () => {
    const { db, dir } = await openCopy(IMAGER, false);
    const before = fixtureTree(IMAGER);
    const foldersBefore = await readFolders(fixturePath(IMAGER));
    const report = await db.check({ fix: true });
    expect(fixedList(report)).toEqual(
      IMAGER_PROBLEMS.map((p) => `${p}:${p.startsWith('orphan-metadata') ? 'kept' : 'fixed'}`),
    );
    expect(report.ok).toBe(false); // the orphan metadata is reported, not repaired
    await db.disconnect();

    const after = await readTree(dir);
    expect([...before.keys()].filter((k) => !after.has(k))).toEqual([]);
    const added = [...after.keys()].filter((k) => !before.has(k));
    expect(added).toHaveLength(1);
    expect(added[0]).toMatch(/^vscan_data\/files_\d{8}_\d{6}\.json$/);
    expect(Buffer.compare(after.get(added[0]!)!, before.get('vscan_data/files.json')!)).toBe(0);
    expect(text(after.get('vscan_data/files.json')!)).toBe(await readFile(goldenPath('fix', IMAGER, 'vscan_data/files.json'), 'utf8'));
    const expected = new Map(before);
    expected.set(added[0]!, after.get(added[0]!)!);
    expected.set('vscan_data/files.json', after.get('vscan_data/files.json')!);
    expectSameTree(after, expected);
    expect((await readFolders(dir)).filter((f) => !foldersBefore.includes(f))).toEqual(['vscan_data/hdri', 'vscan_data/lpy']);

    const again = await reopen(dir, true);
    expect(problemList(await again.check())).toEqual(['orphan-metadata:vscan_data/metadata/scenes.json']);
    expect(await (await again.getScan('vscan_data')).listFilesets()).toEqual(['hdri', 'lpy', 'palette']);
  });
});

// ---- writes on a copy ----

/** The changes golden/make_golden.py makes with Python; keep both in step. */
const P3DV_WRITES = {
  /** Files whose bytes golden/writes/plant-3d-vision-db holds. */
  golden: [
    'real_plant/files.json',
    'real_plant/metadata/images.json',
    'real_plant/metadata/images/00001_rgb.json',
    'real_plant/metadata/images/00003_rgb.json',
    'real_plant/metadata/images/00004_rgb.json',
    'real_plant/metadata/metadata.json',
    'virtual_plant/files.json',
    `virtual_plant/metadata/${LONG_FS}.json`,
    'virtual_plant/metadata/images/00000_leaf.json',
  ],
  deleted: [
    'real_plant/images/00002_rgb.jpg',
    'real_plant/metadata/images/00002_rgb.json',
    'virtual_plant/images/00000_stem.png',
    'virtual_plant/metadata/images/00000_stem.json',
  ],
  /** New data: a copy of 00000_rgb.jpg's bytes. */
  added: { 'real_plant/images/00004_rgb.jpg': 'real_plant/images/00000_rgb.jpg' },
};

const NEW_POSE = { approximate_pose: [1.5, 343.25, 80, 276.5, 0], channel: 'rgb', shot_id: '000004' };

async function writeP3DV(db: DB): Promise<void> {
  const real = await db.getScan('real_plant');
  const images = await real.getFileset('images');
  await (await images.getFile('00001_rgb')).setMetadata('exposure', 0.25);
  const f3 = await images.getFile('00003_rgb');
  const pose = await f3.getMetadata<number[]>('approximate_pose');
  pose[2] = 81;
  await f3.setMetadata('approximate_pose', pose);
  await images.setMetadata({ note: 'subset of 4 images' });
  const added = await images.createFile('00004_rgb', { metadata: NEW_POSE });
  await added.writeBytes(fixtureTrees.get(P3DV)!.get('real_plant/images/00000_rgb.jpg')!, 'jpg');
  await images.deleteFile('00002_rgb');
  await real.setMetadata({ object: { species: 'Arabidopsis thaliana' }, operator: 'Équipe RDP', weight_g: 12.5 });

  const virtual = await db.getScan('virtual_plant');
  const vimages = await virtual.getFileset('images');
  await (await vimages.getFile('00000_leaf')).setMetadata({ reviewed: true });
  await (await virtual.getFileset(LONG_FS)).setMetadata('reviewed', true);
  await vimages.deleteFile('00000_stem');
}

const IMAGER_WRITES = {
  golden: [
    'vscan_data/files.json',
    'vscan_data/metadata/metadata.json',
    'vscan_data/metadata/palette.json',
    'vscan_data/metadata/palette/palette_arabi.json',
  ],
  deleted: [] as string[], // forest_slope_2k.hdr was listed but never there
  added: { 'vscan_data/palette/palette_copy.png': 'vscan_data/palette/palette_arabi.png' },
};

async function writeImager(db: DB): Promise<void> {
  const scan = await db.getScan('vscan_data');
  const palette = await scan.getFileset('palette');
  await palette.setMetadata('checked', true);
  await (await palette.getFile('palette_arabi')).setMetadata({ channel: 'rgb', size: [421, 152] });
  const copy = await palette.createFile('palette_copy');
  await copy.writeBytes(fixtureTrees.get(IMAGER)!.get('vscan_data/palette/palette_arabi.png')!, '.png');
  await (await scan.getFileset('hdri')).deleteFile('forest_slope_2k');
  await scan.setMetadata({ scan_id: 'vscan_data', z_offset: 1e-5 });
}

/** The fixture tree with the writes applied: golden bytes, deletions, added data. */
async function expectedAfterWrites(name: RealDB, writes: { golden: string[]; deleted: string[]; added: Record<string, string> }): Promise<Map<string, Buffer>> {
  const tree = fixtureTree(name);
  for (const rel of writes.golden) tree.set(rel, await readFile(goldenPath('writes', name, rel)));
  for (const rel of writes.deleted) {
    expect(tree.delete(rel), rel).toBe(true);
  }
  for (const [rel, from] of Object.entries(writes.added)) tree.set(rel, tree.get(from)!);
  return new Map([...tree.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

describe('writes through the API on a copy of the real databases', () => {
  it('plant-3d-vision: changes exactly the bytes it means to, JSON exactly as Python writes it', async () => {
    const { db, dir } = await openCopy(P3DV, false);
    await writeP3DV(db);
    await db.disconnect();
    const after = await readTree(dir);
    expectSameTree(after, await expectedAfterWrites(P3DV, P3DV_WRITES));

    // The points that matter most, spelled out.
    for (const rel of ['real_plant/scan.toml', 'real_plant/measures.json', 'virtual_plant/scan.toml', 'models/files.json', 'romidb']) {
      expect(Buffer.compare(after.get(rel)!, fixtureTrees.get(P3DV)!.get(rel)!), rel).toBe(0);
    }
    const f1 = text(after.get('real_plant/metadata/images/00001_rgb.json')!);
    expect(f1).toContain('        276.0,\n');
    expect(f1).toContain('        76.64343138951801,\n');
    expect(f1).toContain('    "exposure": 0.25,\n');
    expect(text(after.get('real_plant/metadata/images/00003_rgb.json')!)).toContain('        81,\n        288.0,\n');
    const leaf = text(after.get('virtual_plant/metadata/images/00000_leaf.json')!);
    expect(leaf).toContain('                -5.886437293156632e-08,\n                -1.0,\n                0.0\n');
    expect(text(after.get('real_plant/metadata/metadata.json')!)).toContain('"operator": "\\u00c9quipe RDP"');
    expect(after.get('real_plant/files.json')!.at(-1)).toBe('}'.charCodeAt(0)); // no trailing newline
  });

  it('plant-imager: changes exactly the bytes it means to, JSON exactly as Python writes it', async () => {
    const { db, dir } = await openCopy(IMAGER, false);
    await writeImager(db);
    await db.disconnect();
    const after = await readTree(dir);
    expectSameTree(after, await expectedAfterWrites(IMAGER, IMAGER_WRITES));
    expect(text(after.get('vscan_data/metadata/palette.json')!)).toContain('    "task_parameters": {},\n');
    expect(text(after.get('vscan_data/metadata/metadata.json')!)).toContain('"z_offset": 1e-05');
    expect(Buffer.compare(after.get('vscan_data/metadata/scenes.json')!, fixtureTrees.get(IMAGER)!.get('vscan_data/metadata/scenes.json')!)).toBe(0);
  });

  it('writing back the metadata just read changes no byte (276.0 stays 276.0)', async () => {
    const { db, dir } = await openCopy(P3DV, false);
    let written = 0;
    for (const { fileset, fileId } of await walkDB(db)) {
      const file = await fileset.getFile(fileId);
      const meta = await file.getMetadata();
      if (Object.keys(meta).length === 0) continue; // (setMetadata({}) would create a JSON file)
      await file.setMetadata(meta);
      for (const [k, v] of Object.entries(meta)) await file.setMetadata(k, v);
      written++;
      if ((await fileset.listFiles())[0] === fileId) await fileset.setMetadata(await fileset.getMetadata());
    }
    expect(written).toBe(4 + 3 + 1 + 1);
    await db.disconnect();
    expectSameTree(await readTree(dir), fixtureTree(P3DV));
  });

  it('after the writes, a read-only connection reads everything back', async () => {
    const p3dv = await openCopy(P3DV, false);
    await writeP3DV(p3dv.db);
    await p3dv.db.disconnect();
    const imager = await openCopy(IMAGER, false);
    await writeImager(imager.db);
    await imager.db.disconnect();

    const db = await reopen(p3dv.dir, true);
    expect(await db.listScans()).toEqual(['models', 'real_plant', 'virtual_plant']);
    const real = await db.getScan('real_plant');
    expect(await real.getMetadata()).toEqual({ object: { species: 'Arabidopsis thaliana' }, operator: 'Équipe RDP', weight_g: 12.5 });
    expect(await real.getMeasures()).toEqual(await fixtureJson(P3DV, 'real_plant/measures.json'));
    const images = await real.getFileset('images');
    expect(await images.listFiles()).toEqual(['00000_rgb', '00001_rgb', '00003_rgb', '00004_rgb']);
    expect(await images.getMetadata('note')).toBe('subset of 4 images');
    expect(await images.getMetadata('workspace')).toEqual({ x: [340, 440], y: [330, 410], z: [-180, 105] });
    expect(await codeOf(images.getFile('00002_rgb'))).toBe('ROMI_NOT_FOUND');
    for (const id of ['00000_rgb', '00001_rgb', '00003_rgb']) {
      const bytes = await (await images.getFile(id)).readBytes();
      expect(Buffer.compare(Buffer.from(bytes), fixtureTrees.get(P3DV)!.get(`real_plant/images/${id}.jpg`)!), id).toBe(0);
    }
    const f4 = await images.getFile('00004_rgb');
    expect(f4.filename).toBe('00004_rgb.jpg');
    expect(Buffer.compare(Buffer.from(await f4.readBytes()), fixtureTrees.get(P3DV)!.get('real_plant/images/00000_rgb.jpg')!)).toBe(0);
    expect(await f4.getMetadata()).toEqual(NEW_POSE);
    expect(await (await images.getFile('00001_rgb')).getMetadata()).toEqual({
      approximate_pose: [76.64343138951801, 343.64146101970397, 80, 276, 0],
      channel: 'rgb',
      exposure: 0.25,
      shot_id: '000001',
    });
    expect(await (await images.getFile('00003_rgb')).getMetadata('approximate_pose')).toEqual([89.68304511145396, 282.2949016875158, 81, 288, 0]);
    const virtual = await db.getScan('virtual_plant');
    const vimages = await virtual.getFileset('images');
    expect(await vimages.listFiles()).toEqual(['00000_rgb', '00000_leaf']);
    expect(await (await vimages.getFile('00000_leaf')).getMetadata('reviewed')).toBe(true);
    expect(await (await vimages.getFile('00000_leaf')).getMetadata('channel')).toBe('leaf');
    expect(await (await virtual.getFileset(LONG_FS)).getMetadata('reviewed')).toBe(true);
    // The writes added no problem: check() finds exactly what it found before.
    expect(problemList(await db.check())).toEqual(P3DV_PROBLEMS);

    const db2 = await reopen(imager.dir, true);
    const scan = await db2.getScan('vscan_data');
    expect(await scan.getMetadata()).toEqual({ scan_id: 'vscan_data', z_offset: 1e-5 });
    const palette = await scan.getFileset('palette');
    expect(await palette.listFiles()).toEqual(['palette_arabi', 'palette_copy']);
    expect(await palette.getMetadata('checked')).toBe(true);
    expect(await palette.getMetadata('task_parameters')).toEqual({});
    const copy = await palette.getFile('palette_copy');
    expect(copy.filename).toBe('palette_copy.png');
    expect(Buffer.compare(Buffer.from(await copy.readBytes()), fixtureTrees.get(IMAGER)!.get('vscan_data/palette/palette_arabi.png')!)).toBe(0);
    expect(await (await palette.getFile('palette_arabi')).getMetadata()).toEqual({ channel: 'rgb', size: [421, 152] });
    expect(await (await scan.getFileset('hdri')).listFiles()).toEqual(['felsenlabyrinth_2k']);
    expect(await scan.hasFileset('scenes')).toBe(false);
    expect(problemList(await db2.check())).toEqual(IMAGER_PROBLEMS.filter((p) => !p.includes('forest_slope_2k')));
  });
});

describe('backups made by check({ fix: true })', () => {
  it('two fixes within one second keep both backups, the first byte-identical to the original', async () => {
    const { db, dir } = await openCopy(P3DV, false);
    const original = await readFile(`${dir}/virtual_plant/files.json`);
    await db.check({ fix: true, scans: ['virtual_plant'] });
    await unlink(`${dir}/virtual_plant/${LONG_FS}/VirtualPlant_mtl.mtl`);
    await db.check({ fix: true, scans: ['virtual_plant'] });
    await db.disconnect();
    const backups = (await readdir(`${dir}/virtual_plant`)).filter((n) => /^files_.*\.json$/.test(n)).sort();
    expect(backups).toHaveLength(2);
    const contents = await Promise.all(backups.map((n) => readFile(`${dir}/virtual_plant/${n}`)));
    expect(contents.some((c) => c.equals(original))).toBe(true);
  });
});
