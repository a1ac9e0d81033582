// Codec workloads of @romi/io, each timed against its physical baseline in the same run:
// reading the same bytes from disk (PLY, NPY/NPZ) or libvips through sharp alone (images).
// Run (from the repository root): node --conditions=source --import ./tools/ts-register.mjs packages/io/bench/codecs.ts [--quick]
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { decodeImage, decodeNpy, decodePointCloud, encodeImage, encodeNpy, encodeNpz, ndarray, readNpz, readPointCloud } from '../src/index.js';

export interface CodecBenchRow {
  workload: string;
  ms: number;
  baselineMs: number;
  ratio: number;
  note?: string;
}

const REAL = fileURLToPath(new URL('../../../test-fixtures/io/real/', import.meta.url));

export const median = (t: number[]) => [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)];

/** Median wall times of `io` and `base`, called alternately so that load on the machine hits both alike. */
export async function pair(io: () => unknown, base: () => unknown, runs: number): Promise<[number, number]> {
  await base();
  await io();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    await base();
    b.push(performance.now() - t0);
    t0 = performance.now();
    await io();
    a.push(performance.now() - t0);
  }
  return [median(a), median(b)];
}

/** Median wall time of `runs` calls after one untimed call. */
async function time(fn: () => unknown, runs: number): Promise<number> {
  await fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

const mbps = (bytes: number, ms: number) => `${((bytes / 1e6) / (ms / 1e3)).toFixed(0)} MB/s`;
const row = (workload: string, ms: number, baselineMs: number, note?: string): CodecBenchRow => ({
  workload,
  ms: round(ms),
  baselineMs: round(baselineMs),
  ratio: Math.round((ms / baselineMs) * 100) / 100,
  ...(note ? { note } : {}),
});
const round = (x: number) => Math.round(x * 100) / 100;

/** Writes an Open3D-layout cloud (double xyz + normals) of n points, streaming, without holding it. */
function writeCloud(path: string, n: number): number {
  const head = Buffer.from(
    `ply\nformat binary_little_endian 1.0\ncomment Created by Open3D\nelement vertex ${n}\n` +
      'property double x\nproperty double y\nproperty double z\nproperty double nx\nproperty double ny\nproperty double nz\nend_header\n',
  );
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    const chunk = 1 << 16;
    const rec = new Float64Array(chunk * 6);
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      for (let k = 0; k < m; k++) {
        const t = (i + k) * 1e-4;
        rec.set([Math.cos(t) * 50, Math.sin(t) * 50, t, Math.cos(t), Math.sin(t), 0], k * 6);
      }
      writeSync(fd, new Uint8Array(rec.buffer, 0, m * 48));
    }
  } finally {
    closeSync(fd);
  }
  return head.length + n * 48;
}

/** A 200³ float32 occupancy volume like the Voxels task's: a stem and a crown, zero elsewhere. */
function voxelVolume(n: number) {
  const vol = ndarray('float32', [n, n, n]);
  const d = vol.data as Float32Array;
  const c = n / 2;
  for (let z = 0; z < n; z++) {
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const r2 = (x - c) ** 2 + (y - c) ** 2;
        const stem = r2 < (n / 40) ** 2;
        const crown = r2 + (z - 0.7 * n) ** 2 < (n / 4) ** 2;
        if (stem || crown) d[(z * n + y) * n + x] = 0.5 + 0.5 * Math.sin(x * 0.3 + y * 0.2 + z * 0.1);
      }
    }
  }
  return vol;
}

export async function runCodecBench(opts: { quick: boolean }): Promise<CodecBenchRow[]> {
  const quick = opts.quick;
  const runs = quick ? 3 : 7;
  const rows: CodecBenchRow[] = [];
  const dir = mkdtempSync(`${tmpdir()}/romi-io-bench-`);
  try {
    // PLY: the real romicgal cloud (Open3D, 57,890 points with normals)
    const real = `${REAL}PointCloud.ply`;
    const realBytes = readFileSync(real);
    const [plyReal, readReal] = await pair(() => readPointCloud(real), () => readFile(real), runs * 3);
    const parseReal = await time(() => decodePointCloud(realBytes), runs * 3);
    rows.push(row('ply read: romicgal PointCloud.ply (2.8 MB)', plyReal, readReal, `parse ${mbps(realBytes.length, parseReal)}`));

    // PLY: a generated cloud, 10M points (1M quick), the same layout
    const n = quick ? 1_000_000 : 10_000_000;
    const big = `${dir}/cloud.ply`;
    const bigSize = writeCloud(big, n);
    const [plyBig, readBig] = await pair(() => readPointCloud(big), () => readFile(big), 3);
    let bigBytes: Uint8Array | undefined = readFileSync(big);
    const parseBig = await time(() => decodePointCloud(bigBytes!), 3);
    bigBytes = undefined;
    rows.push(
      row(`ply read: ${n / 1e6}M points, xyz+normals (${(bigSize / 1e6).toFixed(0)} MB)`, plyBig, readBig, `parse ${mbps(bigSize, parseBig)}`),
    );
    rmSync(big);

    // NPZ / NPY: a 200³ float32 volume (32 MB of array data); baseline: the raw 32 MB on disk
    const vol = voxelVolume(200);
    const raw = new Uint8Array(vol.data.buffer);
    const rawPath = `${dir}/raw.bin`;
    await writeFile(rawPath, raw);
    for (const compress of [true, false]) {
      const path = `${dir}/vol_${compress}.npz`;
      const label = compress ? 'compressed' : 'stored';
      const [w, wRaw] = await pair(() => writeFile(path, encodeNpz({ arr_0: vol }, { compress })), () => writeFile(rawPath, raw), runs);
      const size = readFileSync(path).length;
      rows.push(row(`npz write: 200³ float32, ${label}`, w, wRaw, `${(size / 1e6).toFixed(1)} MB file; baseline: write the raw 32 MB`));
      const [r, rRaw] = await pair(() => readNpz(path), () => readFile(rawPath), runs);
      rows.push(row(`npz read: 200³ float32, ${label}`, r, rRaw, `${mbps(raw.length, r)} of array data; baseline: read the raw 32 MB`));
    }
    const npy = encodeNpy(vol);
    const [parseNpy, copy] = await pair(() => decodeNpy(npy), () => npy.slice(), runs);
    rows.push(row('npy parse: 200³ float32 in memory', parseNpy, copy, `${mbps(npy.length, parseNpy)}; baseline: copy the bytes`));

    // Images: io vs sharp alone on the real 1440×1080 scanner photo and the 896×896 RGBA render
    const jpg = readFileSync(`${REAL}00000_rgb.jpg`);
    const img = await decodeImage(jpg);
    const rawInput = { raw: { width: img.width, height: img.height, channels: img.channels } };
    const imgRuns = quick ? 9 : 25;
    const [ioPng, sharpPng] = await pair(() => encodeImage(img, 'png'), () => sharp(img.data, rawInput).png({ compressionLevel: 6 }).toBuffer(), imgRuns);
    rows.push(row('image encode: PNG 1440×1080 RGB, io vs sharp', ioPng, sharpPng));
    const [ioJpg, sharpJpg] = await pair(() => encodeImage(img, 'jpg'), () => sharp(img.data, rawInput).jpeg({ quality: 75 }).toBuffer(), imgRuns);
    rows.push(row('image encode: JPEG q75 1440×1080 RGB, io vs sharp', ioJpg, sharpJpg));
    const [ioDec, sharpDec] = await pair(() => decodeImage(jpg), () => sharp(jpg).raw().toBuffer(), imgRuns);
    rows.push(row('image decode: JPEG 1440×1080, io vs sharp', ioDec, sharpDec));
    const png = readFileSync(`${REAL}00000_rgb.png`);
    const [ioDecPng, sharpDecPng] = await pair(() => decodeImage(png), () => sharp(png).raw().toBuffer(), imgRuns);
    rows.push(row('image decode: PNG 896×896 RGBA, io vs sharp', ioDecPng, sharpDecPng));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

function printTable(rows: CodecBenchRow[]): void {
  const w = Math.max(...rows.map((r) => r.workload.length));
  console.log(`${'workload'.padEnd(w)}  ${'ms'.padStart(9)}  ${'baseline'.padStart(9)}  ${'ratio'.padStart(6)}  note`);
  for (const r of rows) {
    console.log(`${r.workload.padEnd(w)}  ${r.ms.toFixed(1).padStart(9)}  ${r.baselineMs.toFixed(1).padStart(9)}  ${r.ratio.toFixed(2).padStart(6)}  ${r.note ?? ''}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  printTable(await runCodecBench({ quick }));
}
