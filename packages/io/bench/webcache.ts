// The webcache computations of @romi/io: voxelDownsample on a 2-million-point cloud and
// resizeImage on the scanner's 1440×1080 JPEG, each timed against a baseline in the same run
// (a Map keyed by the packed voxel index; sharp's resize and JPEG encode alone).
// Run (from the repository root): node --conditions=source --import ./tools/ts-register.mjs packages/io/bench/webcache.ts [--quick]
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { decodePointCloud, resizeImage, voxelDownsample, type PointCloud } from '../src/index.js';
import { pair } from './codecs.js';

export interface WebcacheBenchRow {
  workload: string;
  ms: number;
  baselineMs: number;
  note?: string;
}

const REAL = fileURLToPath(new URL('../../../test-fixtures/io/real/', import.meta.url));
/** `n` points with normals: copies of the real cloud (57,890 points), each shifted a little. */
function bigCloud(n: number): PointCloud {
  const src = decodePointCloud(new Uint8Array(readFileSync(`${REAL}PointCloud.ply`)));
  const m = src.points.length / 3;
  const points = new Float64Array(n * 3);
  const normals = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    const s = i % m;
    const t = Math.floor(i / m);
    points[3 * i] = src.points[3 * s] + t * 0.37;
    points[3 * i + 1] = src.points[3 * s + 1] + t * 0.11;
    points[3 * i + 2] = src.points[3 * s + 2];
    normals.set(src.normals!.subarray(3 * s, 3 * s + 3), 3 * i);
  }
  return { points, normals };
}

/** The obvious way: a Map from the packed voxel index to running sums (points and normals). */
function mapDownsample(pc: PointCloud, voxel: number): number {
  const { points, normals } = pc;
  const n = points.length / 3;
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < 3 * n; i++) {
    min[i % 3] = Math.min(min[i % 3], points[i]);
    max[i % 3] = Math.max(max[i % 3], points[i]);
  }
  const o = min.map((v) => v - voxel / 2);
  const ny = Math.floor((max[1] - o[1]) / voxel) + 1;
  const nz = Math.floor((max[2] - o[2]) / voxel) + 1;
  const acc = new Map<number, Float64Array>();
  for (let i = 0; i < n; i++) {
    const a = Math.floor((points[3 * i] - o[0]) / voxel);
    const b = Math.floor((points[3 * i + 1] - o[1]) / voxel);
    const c = Math.floor((points[3 * i + 2] - o[2]) / voxel);
    const key = (a * ny + b) * nz + c;
    let e = acc.get(key);
    if (!e) acc.set(key, (e = new Float64Array(7)));
    for (let k = 0; k < 3; k++) {
      e[k] += points[3 * i + k];
      e[3 + k] += normals![3 * i + k];
    }
    e[6]++;
  }
  return acc.size;
}

export async function runWebcacheBench(opts: { quick: boolean }): Promise<WebcacheBenchRow[]> {
  const runs = opts.quick ? 3 : 9;
  const rows: WebcacheBenchRow[] = [];
  const n = 2_000_000;
  const cloud = bigCloud(n);
  for (const voxel of [1.8, 0.5, 0.1]) {
    let out = 0;
    const [ms, base] = await pair(
      () => (out = voxelDownsample(cloud, voxel).points.length / 3),
      () => mapDownsample(cloud, voxel),
      runs,
    );
    rows.push({ workload: `voxelDownsample: 2M points + normals, voxel ${voxel}`, ms, baselineMs: base, note: `${out} points out; baseline a Map` });
  }
  const jpg = new Uint8Array(readFileSync(`${REAL}00000_rgb.jpg`));
  for (const [side, w, h] of [
    [150, 150, 113],
    [300, 300, 225],
    [1500, 1440, 1080],
  ]) {
    const [ms, base] = await pair(
      () => resizeImage(jpg, side),
      () => (side < 1440 ? sharp(jpg).resize(w, h, { fit: 'fill' }) : sharp(jpg)).jpeg({ quality: 84 }).toBuffer(),
      runs * 2,
    );
    rows.push({ workload: `resizeImage: JPEG 1440×1080 → ${w}×${h}`, ms, baselineMs: base, note: 'baseline sharp resize + JPEG alone' });
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await runWebcacheBench({ quick: process.argv.includes('--quick') });
  const w = Math.max(...rows.map((r) => r.workload.length));
  console.log(`${'workload'.padEnd(w)}  ${'ms'.padStart(8)}  ${'baseline'.padStart(8)}  note`);
  for (const r of rows) console.log(`${r.workload.padEnd(w)}  ${r.ms.toFixed(1).padStart(8)}  ${r.baselineMs.toFixed(1).padStart(8)}  ${r.note ?? ''}`);
}
