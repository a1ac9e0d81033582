/**
 * pnpm bench [--quick] [--backends fsdb,memdb,s3db] [--only W1,W2,W9]
 *
 * Runs the workloads of bench/README.md on each backend, with a raw baseline measured in the
 * same run (the same objects written or read straight through node:fs for fsdb, through the
 * backend's own put/get for memdb and s3db, at the same concurrency), and prints medians and
 * ratios. Results go to bench/results/. Timings are reported, never asserted.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { closeSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { formatPythonJson, mapLimit, mirror, RomiDB, type Backend, type DB } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import { MemDB } from '@romi/memdb';

interface Row {
  workload: string;
  backend: string;
  ms: number;
  baselineMs?: number;
  ratio?: number;
  target?: string;
  met?: boolean;
  note?: string;
  /** Figures behind the row besides times (W8: req/s, MB/s, latencies, RSS). */
  metrics?: Record<string, number>;
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const pick = (flag: string): string[] | undefined => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1]!.split(',') : undefined;
};
const backends = pick('--backends') ?? ['fsdb', 'memdb', 's3db'];
const only = pick('--only');
const RUNS = quick ? 1 : 3;
/** Object storage is ~10× slower here: one run of its large workloads keeps the bench under 10 minutes. */
const runsFor = (t: Target): number => (t.name === 's3db' ? 1 : RUNS);
/** W2 at 10,000 files on s3db alone takes ~5 minutes; `--s3-w2-10k` includes it. */
const oneByOneSizesFor = (t: Target): number[] => (t.name === 's3db' && !quick && !args.includes('--s3-w2-10k') ? [1_000, 2_000] : SIZES.oneByOneFiles);
const SIZES = quick
  ? { batchFiles: 500, oneByOneFiles: [100, 500], scans: 100, filesPerScan: 10 }
  : { batchFiles: 10_000, oneByOneFiles: [1_000, 10_000], scans: 2_000, filesPerScan: 50 };
const CONCURRENCY = 8;
const rows: Row[] = [];
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function record(row: Row): void {
  if (row.baselineMs !== undefined) row.ratio = row.ms / row.baselineMs;
  rows.push(row);
  const ratio = row.ratio === undefined ? '' : ` ratio ${row.ratio.toFixed(2)}`;
  console.error(`  ${row.workload} [${row.backend}] ${row.ms.toFixed(1)} ms${ratio}${row.target ? ` (target ${row.target}: ${row.met ? 'met' : 'MISSED'})` : ''}${row.note ? ` — ${row.note}` : ''}`);
}

// ---- backends under test ----

interface Target {
  name: string;
  /** A fresh, empty database (not connected). */
  fresh(): Promise<{ db: RomiDB; open(): RomiDB; raw: RawStore; dispose(): Promise<void> }>;
  close?(): Promise<void>;
}

/** The baseline: plain writes and reads of keys, bypassing romidb. */
interface RawStore {
  put(key: string, data: Uint8Array): Promise<void>;
  /** The floor of a one-by-one write where there is a faster way than `put`: plain synchronous writes (fsdb). */
  putSync?(key: string, data: Uint8Array): void;
  /** An atomic write with synchronous calls (fsdb): a temporary file, then link (create) or rename (replace). */
  putAtomicSync?(key: string, data: Uint8Array, create: boolean): void;
  get(key: string): Promise<Uint8Array>;
  listRoot(): Promise<number>;
  /** The scan rule at its floor (fsdb): a readdir of the root and one synchronous lstat of each folder's files.json. */
  listScanFolders?(): number;
}

function backendStore(backend: Backend): RawStore {
  return {
    put: async (key, data) => {
      await backend.put(key, data);
    },
    get: async (key) => (await backend.get(key)).bytes,
    listRoot: async () => {
      let n = 0;
      for await (const _ of backend.list('', { delimiter: '/' })) n++;
      return n;
    },
  };
}

let tempCount = 0;

function fsStore(root: string): RawStore {
  /** Each folder made (or being made: parallel puts wait for the same mkdir). */
  const made = new Map<string, Promise<unknown>>();
  const folderOf = (path: string): string => path.slice(0, path.lastIndexOf('/'));
  return {
    put: async (key, data) => {
      const path = `${root}/${key}`;
      const dir = folderOf(path);
      if (!made.has(dir)) made.set(dir, mkdir(dir, { recursive: true }));
      await made.get(dir);
      await writeFile(path, data);
    },
    putSync: (key, data) => {
      const path = `${root}/${key}`;
      const dir = folderOf(path);
      if (!made.has(dir)) made.set(dir, Promise.resolve(mkdirSync(dir, { recursive: true })));
      writeFileSync(path, data);
    },
    putAtomicSync: (key, data, create) => {
      const path = `${root}/${key}`;
      const dir = folderOf(path);
      if (!made.has(dir)) made.set(dir, Promise.resolve(mkdirSync(dir, { recursive: true })));
      const temp = `${dir}/.tmp-${++tempCount}`;
      const fd = openSync(temp, 'wx');
      writeSync(fd, data);
      fstatSync(fd);
      closeSync(fd);
      if (create) {
        linkSync(temp, path);
        unlinkSync(temp);
      } else renameSync(temp, path);
    },
    get: async (key) => readFile(`${root}/${key}`),
    listRoot: async () => (await readdir(root, { withFileTypes: true })).length,
    listScanFolders: () => readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory() && lstatSync(`${root}/${e.name}/files.json`, { throwIfNoEntry: false })).length,
  };
}

async function targets(): Promise<Target[]> {
  const out: Target[] = [];
  if (backends.includes('fsdb')) {
    out.push({
      name: 'fsdb',
      fresh: async () => {
        const dir = await mkdtemp(`${tmpdir()}/romidb-bench-`);
        const db = await FSDB.init(dir);
        const rawDir = await mkdtemp(`${tmpdir()}/romidb-bench-raw-`);
        return { db, open: () => new FSDB(dir), raw: fsStore(rawDir), dispose: async () => {
          await rm(dir, { recursive: true, force: true });
          await rm(rawDir, { recursive: true, force: true });
        } };
      },
    });
  }
  if (backends.includes('memdb')) {
    out.push({
      name: 'memdb',
      fresh: async () => {
        const db = new MemDB();
        return { db, open: () => new MemDB({ volume: db.volume }), raw: backendStore(new MemDB().backend), dispose: async () => {} };
      },
    });
  }
  if (backends.includes('s3db')) {
    const s3 = await import('./s3.js').then((m) => m.s3Target()).catch((err: unknown) => {
      console.error(`  s3db: not available (${(err as Error).message})`);
      return undefined;
    });
    if (s3) out.push(s3);
  }
  return out;
}

// ---- workloads ----

function files(n: number): Array<{ id: string; data: Uint8Array; metadata: Record<string, unknown> }> {
  const data = new Uint8Array(1024).map((_, i) => i & 255);
  return Array.from({ length: n }, (_, i) => ({ id: `file_${String(i).padStart(5, '0')}`, data, metadata: { index: i, pose: [i * 0.5, 1.25, 80, 276.5, 0] } }));
}

/** W2's baseline: the same objects one by one, synchronously where the store can. */
async function rawWriteOneByOne(raw: RawStore, items: ReturnType<typeof files>): Promise<void> {
  if (!raw.putSync) return rawWrite(raw, items, 1);
  for (const f of items) {
    raw.putSync(`s/images/${f.id}.bin`, f.data);
    raw.putSync(`s/metadata/images/${f.id}.json`, enc(formatPythonJson(f.metadata)));
  }
}

/**
 * The floor of W2 with the layout's writes: per file its data, a files.json holding one more
 * entry (bytes appended, never re-encoded), and its metadata, each written atomically (fsdb: a
 * temporary file, then link or rename, with synchronous calls; elsewhere the backend's put).
 */
async function layoutFloorOneByOne(raw: RawStore, items: ReturnType<typeof files>): Promise<void> {
  let index = new Uint8Array(1 << 16);
  let length = 0;
  const append = (text: string): void => {
    const bytes = enc(text);
    if (length + bytes.length > index.length) {
      const grown = new Uint8Array(Math.max(index.length * 2, length + bytes.length));
      grown.set(index.subarray(0, length));
      index = grown;
    }
    index.set(bytes, length);
    length += bytes.length;
  };
  append('{\n    "filesets": [\n        {\n            "files": [');
  const tail = enc('\n            ],\n            "id": "images"\n        }\n    ]\n}');
  const put = async (key: string, data: Uint8Array, create: boolean): Promise<void> => {
    if (raw.putAtomicSync) raw.putAtomicSync(key, data, create);
    else await raw.put(key, data);
  };
  for (const [i, f] of items.entries()) {
    await put(`s/images/${f.id}.bin`, f.data, true);
    append(`${i === 0 ? '' : ','}\n                {\n                    "file": "${f.id}.bin",\n                    "id": "${f.id}"\n                }`);
    const bytes = new Uint8Array(length + tail.length);
    bytes.set(index.subarray(0, length));
    bytes.set(tail, length);
    await put('s/files.json', bytes, false);
    await put(`s/metadata/images/${f.id}.json`, enc(formatPythonJson(f.metadata)), true);
  }
}

async function rawWrite(raw: RawStore, items: ReturnType<typeof files>, concurrency: number): Promise<void> {
  await mapLimit(items, concurrency, async (f) => {
    await raw.put(`s/images/${f.id}.bin`, f.data);
    await raw.put(`s/metadata/images/${f.id}.json`, enc(formatPythonJson(f.metadata)));
  });
}

/** W1 batch write: createFiles of SIZES.batchFiles files with metadata, against raw writes of the same objects. */
async function batchWrite(t: Target): Promise<RomiDB> {
  const items = files(SIZES.batchFiles);
  const ms: number[] = [];
  const base: number[] = [];
  let keep: { db: RomiDB; dispose(): Promise<void> } | undefined;
  const runs = runsFor(t);
  for (let r = 0; r < runs; r++) {
    const env = await t.fresh();
    await env.db.connect();
    const fs = await (await env.db.createScan('s')).createFileset('images');
    ms.push(await time(() => fs.createFiles(items.map((f) => ({ ...f, ext: 'bin' })), { concurrency: CONCURRENCY })));
    base.push(await time(() => rawWrite(env.raw, items, CONCURRENCY)));
    await env.db.disconnect();
    if (r === runs - 1) keep = env;
    else await env.dispose();
  }
  const row: Row = { workload: `W1 batch write ${SIZES.batchFiles} files`, backend: t.name, ms: median(ms), baselineMs: median(base), target: '≤ 2.0×' };
  record({ ...row, met: row.ms / row.baselineMs! <= 2 });
  return keep!.db;
}

/** W2 one-by-one: the README loop (createFile, writeBytes, setMetadata, each awaited), and how its per-file time grows. */
async function oneByOneWrite(t: Target): Promise<void> {
  const perFile: number[] = [];
  const floorPerFile: number[] = [];
  const sizes = oneByOneSizesFor(t);
  for (const n of sizes) {
    const items = files(n);
    const runs = n >= 2_000 ? 1 : RUNS;
    const ms: number[] = [];
    const base: number[] = [];
    const floor: number[] = [];
    for (let r = 0; r < runs; r++) {
      const env = await t.fresh();
      await env.db.connect();
      const fs = await (await env.db.createScan('s')).createFileset('images');
      ms.push(
        await time(async () => {
          for (const f of items) {
            const file = await fs.createFile(f.id);
            await file.writeBytes(f.data, 'bin');
            await file.setMetadata(f.metadata);
          }
        }),
      );
      base.push(await time(() => rawWriteOneByOne(env.raw, items)));
      await env.db.disconnect();
      await env.dispose();
      // The same writes as the layout's, raw, on a fresh store (the disk's cost moves with time: measured beside the others).
      const floorEnv = await t.fresh();
      floor.push(await time(() => layoutFloorOneByOne(floorEnv.raw, items)));
      await floorEnv.dispose();
    }
    perFile.push(median(ms) / n);
    floorPerFile.push(median(floor) / n);
    const layoutNote = `the layout's writes raw (data, files.json, metadata, each atomic): ${(median(floor) / n).toFixed(2)} ms/file, romidb ${(median(ms) / median(floor)).toFixed(2)}× that`;
    const row: Row = { workload: `W2 one-by-one ${n} files`, backend: t.name, ms: median(ms), baselineMs: median(base), note: `${(median(ms) / n).toFixed(2)} ms/file; ${layoutNote}` };
    const limit = t.name === 'fsdb' ? 2 : 3;
    if (n === sizes[0]) Object.assign(row, { target: `≤ ${limit.toFixed(1)}×`, met: row.ms / row.baselineMs! <= limit });
    else {
      const growth = perFile[1]! / perFile[0]!;
      Object.assign(row, { target: 'per file ≤ 1.2× of the small run', met: growth <= 1.2, note: `${row.note}; ${growth.toFixed(2)}× the per-file time at ${sizes[0]} (the layout's writes raw: ${(floorPerFile[1]! / floorPerFile[0]!).toFixed(2)}×)` });
    }
    record(row);
  }
}

/** W3 open and list, W5 query: connect + listScans, one scan's files, nested and fuzzy queries over the same scans. */
async function listAndQuery(t: Target): Promise<void> {
  const env = await t.fresh();
  await env.db.connect();
  const setup = await time(async () => {
    const ids = Array.from({ length: SIZES.scans }, (_, i) => `scan_${String(i).padStart(4, '0')}`);
    await mapLimit(ids, CONCURRENCY, async (id, i) => {
      const scan = await env.db.createScan(id, {
        metadata: { plant: { species: i % 10 === 0 ? 'tomato' : 'arabidopsis', age: i % 30 }, hardware: { camera: 'rx0' } },
      });
      // Index entries only: W3 lists, it never reads data (and 100,000 data PUTs would take
      // minutes on object storage).
      const fs = await scan.createFileset('images');
      await fs.createFiles(Array.from({ length: SIZES.filesPerScan }, (_, j) => ({ id: `img_${j}` })));
      // The baseline's copy of the scan metadata.
      await env.raw.put(`${id}/metadata/metadata.json`, enc(formatPythonJson({ plant: { species: 'x' } })));
    });
  });
  await env.db.disconnect();
  console.error(`  (W3 setup: ${SIZES.scans} scans × ${SIZES.filesPerScan} files in ${(setup / 1000).toFixed(1)} s)`);

  const open: number[] = [];
  const rawList: number[] = [];
  const ruleList: number[] = [];
  const one: number[] = [];
  const q: number[] = [];
  const fuzzy: number[] = [];
  const rawMeta: number[] = [];
  let matches = 0;
  for (let r = 0; r < RUNS; r++) {
    const db: DB = env.open();
    open.push(await time(async () => {
      await db.connect({ readOnly: true });
      await db.listScans();
    }));
    rawList.push(await time(() => env.raw.listRoot()));
    if (env.raw.listScanFolders) ruleList.push(await time(async () => env.raw.listScanFolders!()));
    one.push(await time(async () => {
      await (await (await db.getScan('scan_0042')).getFileset('images')).listFiles();
    }));
    await db.disconnect();
    const qdb: DB = env.open();
    await qdb.connect({ readOnly: true });
    q.push(await time(async () => {
      matches = (await qdb.listScans({ query: { plant: { species: 'tomato' } } })).length;
    }));
    await qdb.disconnect();
    const fdb: DB = env.open();
    await fdb.connect({ readOnly: true });
    fuzzy.push(await time(() => fdb.listScans({ query: { plant: { species: 'tom.*' } }, fuzzy: true })));
    await fdb.disconnect();
    const ids = Array.from({ length: SIZES.scans }, (_, i) => `scan_${String(i).padStart(4, '0')}`);
    rawMeta.push(await time(() => mapLimit(ids, 16, (id) => env.raw.get(`${id}/metadata/metadata.json`))));
  }
  const listRow: Row = { workload: `W3 connect + listScans (${SIZES.scans} scans)`, backend: t.name, ms: median(open), baselineMs: median(rawList), target: '≤ 3×' };
  // What the scan rule costs at its floor: one stat per folder besides the readdir.
  if (ruleList.length > 0) listRow.note = `raw readdir + one lstat per folder: ${median(ruleList).toFixed(1)} ms, romidb ${(median(open) / median(ruleList)).toFixed(2)}× that`;
  record({ ...listRow, met: listRow.ms / listRow.baselineMs! <= 3 });
  record({ workload: 'W3 getScan + listFiles of one scan', backend: t.name, ms: median(one), ...(t.name === 'fsdb' ? { target: '< 5 ms', met: median(one) < 5 } : {}) });
  const queryRow: Row = { workload: `W5 nested query (${matches} of ${SIZES.scans})`, backend: t.name, ms: median(q), baselineMs: median(rawMeta), target: '≤ 1.5×' };
  record({ ...queryRow, met: queryRow.ms / queryRow.baselineMs! <= 1.5 });
  const fuzzyRow: Row = { workload: 'W5 fuzzy query', backend: t.name, ms: median(fuzzy), baselineMs: median(rawMeta), target: '≤ 1.5×' };
  record({ ...fuzzyRow, met: fuzzyRow.ms / fuzzyRow.baselineMs! <= 1.5 });
  await env.dispose();
}

/** W4 read: every file's bytes and metadata of the batch-write database, through a new read-only connection. */
async function readBack(t: Target, db: RomiDB): Promise<void> {
  const ms: number[] = [];
  const base: number[] = [];
  const raw = backendStore(db.backend);
  for (let r = 0; r < runsFor(t); r++) {
    const reader = new RomiDB(db.backend);
    ms.push(await time(async () => {
      await reader.connect({ readOnly: true });
      const list = await (await (await reader.getScan('s')).getFileset('images')).getFiles();
      await mapLimit(list, CONCURRENCY, async (f) => {
        await f.readBytes();
        await f.getMetadata();
      });
    }));
    await reader.disconnect();
    const ids = files(SIZES.batchFiles).map((f) => f.id);
    const get = t.name === 'fsdb' ? fsStore((db as FSDB).path).get : raw.get;
    base.push(await time(() => mapLimit(ids, CONCURRENCY, async (id) => {
      await get(`s/images/${id}.bin`);
      await get(`s/metadata/images/${id}.json`);
    })));
  }
  const row: Row = { workload: `W4 read ${SIZES.batchFiles} files + metadata`, backend: t.name, ms: median(ms), baselineMs: median(base), target: '≤ 2×' };
  record({ ...row, met: row.ms / row.baselineMs! <= 2 });
}

/** W6 mirror: the fsdb batch-write database into s3db, then again with nothing changed. */
async function mirrorToS3(source: RomiDB, s3: Target): Promise<void> {
  const env = await s3.fresh();
  const first = await time(() => mirror(source, env.db, { concurrency: CONCURRENCY }));
  const second = await time(() => mirror(source, env.db, { concurrency: CONCURRENCY }));
  const keys: string[] = [];
  for await (const e of source.backend.list('s/')) if (e.kind === 'object' && !e.key.endsWith('/')) keys.push(e.key);
  const base = await time(() => mapLimit(keys, CONCURRENCY, async (k) => env.raw.put(`raw/${k}`, (await source.backend.get(k)).bytes)));
  record({ workload: `W6 mirror fsdb → s3db (${keys.length} objects)`, backend: 's3db', ms: first, baselineMs: base, target: '≤ 1.5×', met: first / base <= 1.5 });
  // Its floor while it checks the destination: one listing of the destination's keys.
  const listing = await time(async () => {
    for await (const _ of env.db.backend.list('s/')) continue;
  });
  record({ workload: 'W6 mirror again, nothing changed', backend: 's3db', ms: second, baselineMs: first, target: '≤ 5% of the first', met: second / first <= 0.05, note: `the destination's LIST alone: ${listing.toFixed(0)} ms, ${((listing / first) * 100).toFixed(1)}% of the first run` });
  await env.dispose();
}

/**
 * W10 the seed example: `pnpm demo`'s write loop (99 random 256×256 RGB images, each a file
 * created with metadata and written as PNG by @romi/io's writeImage), against the PNG encoding of
 * the same pixels alone: what is left is romidb's own share.
 */
async function seedExample(t: Target): Promise<void> {
  const { encodeImage, writeImage } = await import('@romi/io');
  const images = Array.from({ length: 99 }, () => ({ data: new Uint8Array(256 * 256 * 3).map(() => Math.floor(Math.random() * 256)), width: 256, height: 256, channels: 3 as const }));
  const ms: number[] = [];
  const base: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const env = await t.fresh();
    await env.db.connect();
    const fileset = await (await env.db.createScan('myscan_001', { metadata: { scanner: { hardware: 'test' } } })).createFileset('images');
    ms.push(await time(async () => {
      for (const [i, image] of images.entries()) {
        const file = await fileset.createFile(`image_${String(i).padStart(3, '0')}`, { metadata: { key: i } });
        await writeImage(file, image);
      }
    }));
    base.push(await time(async () => {
      for (const image of images) await encodeImage(image, 'png');
    }));
    await env.db.disconnect();
    await env.dispose();
  }
  const own = median(ms) - median(base);
  record({ workload: 'W10 seed example: 99 PNG images 256×256 written one by one (baseline: their PNG encoding alone)', backend: t.name, ms: median(ms), baselineMs: median(base), note: `romidb's own share ${((own / median(ms)) * 100).toFixed(0)}% (${(own / images.length).toFixed(2)} ms per image)` });
}

/** W7 codecs: packages/io/bench/codecs.ts. */
async function codecs(): Promise<void> {
  const { runCodecBench } = await import('../packages/io/bench/codecs.js');
  for (const r of await runCodecBench({ quick })) {
    record({ workload: `W7 ${r.workload}`, backend: 'io', ms: r.ms, baselineMs: r.baselineMs, note: r.note });
  }
}

/** W8 server: bench/server.ts, @romi/server against raw node:http and sharp. */
async function server(): Promise<void> {
  const { runServerBench } = await import('./server.js');
  await runServerBench({ quick, onRow: (r) => record({ ...r, backend: 'server' }) });
}

/** W9 viewer: bench/viewer.ts, @romi/viewer in Chromium against @romi/server. */
async function viewer(): Promise<void> {
  const { runViewerBench } = await import('./viewer.js');
  await runViewerBench({ quick, onRow: (r) => record({ ...r, backend: 'viewer' }) });
}

// ---- main ----

const started = performance.now();
const want = (w: string): boolean => !only || only.includes(w);
console.error(`romidb bench${quick ? ' --quick' : ''}: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
const list = await targets();
let batchFsdb: RomiDB | undefined;
for (const t of list) {
  console.error(`${t.name}:`);
  let batchDb: RomiDB | undefined;
  if (want('W1') || want('W4') || want('W6')) batchDb = await batchWrite(t);
  if (want('W2')) await oneByOneWrite(t);
  if (want('W3') || want('W5')) await listAndQuery(t);
  if (want('W4') && batchDb) await readBack(t, batchDb);
  if (want('W10') && t.name === 'fsdb') await seedExample(t);
  if (t.name === 'fsdb') batchFsdb = batchDb;
}
const s3 = list.find((t) => t.name === 's3db');
if (want('W6') && s3 && batchFsdb) await mirrorToS3(batchFsdb, s3);
if (want('W7')) await codecs();
if (want('W8')) await server();
if (want('W9')) await viewer();
for (const t of list) await t.close?.();

const totalS = (performance.now() - started) / 1000;
const header = '| workload | backend | median ms | baseline ms | ratio | target | met |';
const table = [header, '|---|---|---:|---:|---:|---|---|']
  .concat(rows.map((r) => `| ${r.workload}${r.note ? ` (${r.note})` : ''} | ${r.backend} | ${r.ms.toFixed(1)} | ${r.baselineMs?.toFixed(1) ?? ''} | ${r.ratio?.toFixed(2) ?? ''} | ${r.target ?? ''} | ${r.target ? (r.met ? 'yes' : '**no**') : ''} |`))
  .join('\n');
console.log(table);
console.log(`\n${rows.length} measurements in ${totalS.toFixed(0)} s${quick ? ' (quick sizes)' : ''}`);
const resultsDir = fileURLToPath(new URL('results/', import.meta.url));
await mkdir(resultsDir, { recursive: true });
const result = { date: new Date().toISOString(), quick, machine: { cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, seconds: totalS, rows };
// Only a full run replaces latest.json (the README's table); partial runs go beside it.
const name = quick ? 'quick' : only || pick('--backends') ? 'partial' : 'latest';
await writeFile(`${resultsDir}${name}.json`, `${JSON.stringify(result, null, 2)}\n`);
