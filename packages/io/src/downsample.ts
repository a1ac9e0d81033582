import { InvalidArgumentError } from '@romi/db-core';
import type { PointCloud } from './geometry.js';

// Open3D 0.16's PointCloud::VoxelDownSample (cpp/open3d/geometry/PointCloud.cpp), which plantdb's
// webcache uses for point-cloud previews:
//
//   voxel_min_bound = GetMinBound() - voxel_size * 0.5
//   index(p)        = floor((p - voxel_min_bound) / voxel_size), per axis, as int
//   each voxel      = the mean of its points, of their normals (NaN normals are left out of the sum
//                     but still counted, and the mean is not renormalised), of their colours
//
// The arithmetic is the same here (same doubles, same order of additions: the points of a voxel
// are summed in input order), so points and normals are bit-identical to Open3D's and colours are
// the bytes Open3D writes (round(mean(c / 255) * 255)). What differs, on purpose:
// - order: Open3D emits voxels in the order of a hash map; here they come sorted by voxel index
//   (i, j, k) lexicographically, i along x first, so the output is deterministic;
// - points with a NaN or infinite coordinate are left out (with their normal and colour), bounds
//   included. Open3D keeps NaN points (they land in a voxel at index INT_MIN, and a NaN first point
//   makes a whole axis of the bounds NaN) and refuses infinities as "voxel_size is too small";
// - the grid limit: Open3D refuses extents of more than INT_MAX voxels on an axis; here each axis
//   may have up to 2^32 voxels (indices are uint32), beyond that InvalidArgumentError.
//
// Memory is proportional to the cloud (at most about 24 bytes a point besides the output), with no
// object per point. Voxels are numbered in index order (numberVoxels): through a table over the
// grid's cells when there are at most 4 a point (previews: one pass, no sort), else by a stable
// LSD radix sort (11-bit digits, keys carried with the indices) of the points on their voxel index,
// packed into one uint32 when the grid has less than 2^32 cells, else axis by axis. The sums are
// then made in one pass over the points in input order, so each voxel adds its points in the order
// Open3D adds them.

/** Each axis may span at most this many voxels (indices are stored as uint32). */
const MAX_VOXELS_PER_AXIS = 2 ** 32;
const DIGIT_BITS = 11;
const BUCKETS = 1 << DIGIT_BITS;
const NONE = 0xffffffff;

function checkCloud(pc: PointCloud): number {
  if (typeof pc !== 'object' || pc === null) throw new InvalidArgumentError('pc must be a PointCloud');
  const { points, normals, colors } = pc;
  if (!(points instanceof Float64Array || (points as unknown) instanceof Float32Array)) {
    throw new InvalidArgumentError('points must be a Float64Array (N×3)');
  }
  if (points.length % 3 !== 0) throw new InvalidArgumentError(`points has ${points.length} values, not a multiple of 3`);
  const n = points.length / 3;
  if (normals !== undefined) {
    if (!(normals instanceof Float64Array || (normals as unknown) instanceof Float32Array)) {
      throw new InvalidArgumentError('normals must be a Float64Array (N×3)');
    }
    if (normals.length !== n * 3) throw new InvalidArgumentError(`normals has ${normals.length / 3} rows, expected ${n}`);
  }
  if (colors !== undefined) {
    if (!(colors instanceof Uint8Array)) throw new InvalidArgumentError('colors must be a Uint8Array (N×3, 0-255)');
    if (colors.length !== n * 3) throw new InvalidArgumentError(`colors has ${colors.length / 3} rows, expected ${n}`);
  }
  return n;
}

/** Key/index pairs being sorted, and the buffers the next pass writes to. */
interface Pairs {
  key: Uint32Array;
  idx: Uint32Array;
  key2: Uint32Array;
  idx2: Uint32Array;
}

/**
 * Sorts `pairs` by key, stably (LSD radix, 11-bit digits), for keys below 2^bits. The histograms of
 * every digit are made in one pass; a digit that is the same for every key costs no pass.
 */
function sortPairs(pairs: Pairs, bits: number): void {
  const m = pairs.key.length;
  const passes = Math.ceil(bits / DIGIT_BITS);
  if (passes === 0 || m < 2) return;
  const counts = new Uint32Array(passes * BUCKETS);
  const k0 = pairs.key;
  for (let i = 0; i < m; i++) {
    const k = k0[i];
    for (let p = 0; p < passes; p++) counts[p * BUCKETS + ((k >>> (p * DIGIT_BITS)) & (BUCKETS - 1))]++;
  }
  for (let p = 0; p < passes; p++) {
    const base = p * BUCKETS;
    const shift = p * DIGIT_BITS;
    let sum = 0;
    let skip = false;
    for (let d = 0; d < BUCKETS; d++) {
      const c = counts[base + d];
      if (c === m) skip = true;
      counts[base + d] = sum;
      sum += c;
    }
    if (skip) continue;
    const { key, idx, key2, idx2 } = pairs;
    for (let i = 0; i < m; i++) {
      const k = key[i];
      const at = counts[base + ((k >>> shift) & (BUCKETS - 1))]++;
      key2[at] = k;
      idx2[at] = idx[i];
    }
    [pairs.key, pairs.key2, pairs.idx, pairs.idx2] = [key2, key, idx2, idx];
  }
}

/** The number of bits of the largest key below `size`. */
function bitsFor(size: number): number {
  return size <= 1 ? 0 : Math.ceil(Math.log2(size));
}

/** The grid of a cloud: its points, how many are finite, the grid's origin, voxel and size. */
interface Grid {
  points: Float64Array | Float32Array;
  n: number;
  finite: number;
  origin: number[];
  voxelSize: number;
  dims: number[];
}

/**
 * Numbers the voxels of the finite points 0, 1, ... in the order of their index (i, j, k), and
 * gives each point its voxel's number (NONE for points left out). Three ways, by grid size:
 * a table over the cells when there are few (up to 4 a point), else a radix sort of the points on
 * their packed key (grids of less than 2^32 cells), else a radix sort axis by axis.
 */
function numberVoxels(g: Grid): { vid: Uint32Array; voxels: number } {
  const { points, n, finite, origin, voxelSize } = g;
  const [nx, ny, nz] = g.dims;
  const [ox, oy, oz] = origin;
  let voxels = 0;
  const cells = nx * ny * nz;
  if (cells < MAX_VOXELS_PER_AXIS) {
    // One key per point, (i * ny + j) * nz + k < 2^32 - 1 (exact in doubles), NONE for the points
    // left out: the usual case.
    const key = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const x = points[3 * i];
      const y = points[3 * i + 1];
      const z = points[3 * i + 2];
      if (x - x + (y - y) + (z - z) !== 0) key[i] = NONE;
      else key[i] = (Math.floor((x - ox) / voxelSize) * ny + Math.floor((y - oy) / voxelSize)) * nz + Math.floor((z - oz) / voxelSize);
    }
    if (cells <= Math.max(4 * finite, 1 << 16)) {
      // A table over the cells: mark the occupied ones, number them in key order; the keys become
      // the numbers, in place.
      const rank = new Uint32Array(cells);
      for (let i = 0; i < n; i++) if (key[i] !== NONE) rank[key[i]] = 1;
      for (let c = 0; c < cells; c++) if (rank[c] !== 0) rank[c] = ++voxels;
      for (let i = 0; i < n; i++) if (key[i] !== NONE) key[i] = rank[key[i]] - 1;
      return { vid: key, voxels };
    }
    const pairs: Pairs = { key: new Uint32Array(finite), idx: new Uint32Array(finite), key2: new Uint32Array(finite), idx2: new Uint32Array(finite) };
    for (let i = 0, k = 0; i < n; i++) {
      if (key[i] === NONE) continue;
      pairs.key[k] = key[i];
      pairs.idx[k++] = i;
    }
    sortPairs(pairs, bitsFor(cells));
    const { key: sorted, idx: order } = pairs;
    const vid = key.fill(NONE);
    for (let k = 0; k < finite; k++) vid[order[k]] = k > 0 && sorted[k] === sorted[k - 1] ? voxels - 1 : voxels++;
    return { vid, voxels };
  }
  // Axis by axis, least significant first: the stable sort keeps the order of the axes before.
  const index = (i: number, a: number) => Math.floor((points[3 * i + a] - origin[a]) / voxelSize);
  const pairs: Pairs = { key: new Uint32Array(finite), idx: new Uint32Array(finite), key2: new Uint32Array(finite), idx2: new Uint32Array(finite) };
  for (let i = 0, k = 0; i < n; i++) {
    const x = points[3 * i];
    const y = points[3 * i + 1];
    const z = points[3 * i + 2];
    if (x - x + (y - y) + (z - z) === 0) pairs.idx[k++] = i;
  }
  for (const a of [2, 1, 0]) {
    const { key, idx } = pairs;
    for (let k = 0; k < finite; k++) key[k] = index(idx[k], a);
    sortPairs(pairs, bitsFor(g.dims[a]));
  }
  const order = pairs.idx;
  const vid = new Uint32Array(n).fill(NONE);
  vid[order[0]] = voxels++;
  for (let k = 1; k < finite; k++) {
    const [p, q] = [order[k], order[k - 1]];
    const same = index(p, 0) === index(q, 0) && index(p, 1) === index(q, 1) && index(p, 2) === index(q, 2);
    vid[p] = same ? voxels - 1 : voxels++;
  }
  return { vid, voxels };
}

/**
 * Open3D 0.16's `voxel_down_sample(voxel_size)`: one point per occupied voxel of a grid of cubes of
 * side `voxelSize` starting half a voxel below the cloud's minimum, at the mean of its points (and
 * of their normals and colours, when the cloud has them).
 *
 * The result is ordered by voxel index (i, j, k), lexicographically with i (along x) first, where
 * Open3D's order is that of a hash map: compare the two as sets. Points with a NaN or infinite
 * coordinate are left out (Open3D keeps NaN points in a voxel of their own). `voxelSize` must be
 * finite and > 0, and the cloud may span at most 2^32 voxels along each axis
 * (InvalidArgumentError, `ROMI_INVALID_ARGUMENT`, otherwise). An empty cloud gives an empty cloud.
 */
export function voxelDownsample(pc: PointCloud, voxelSize: number): PointCloud {
  const n = checkCloud(pc);
  if (typeof voxelSize !== 'number' || !Number.isFinite(voxelSize) || !(voxelSize > 0)) {
    throw new InvalidArgumentError(`voxelSize must be a finite number > 0, got ${String(voxelSize)}`);
  }
  const { points, normals, colors } = pc;

  // Bounds of the finite points (x - x is 0 for finite x, NaN for NaN and ±Infinity).
  let [minX, minY, minZ] = [Infinity, Infinity, Infinity];
  let [maxX, maxY, maxZ] = [-Infinity, -Infinity, -Infinity];
  let finite = 0;
  for (let i = 0; i < n; i++) {
    const x = points[3 * i];
    const y = points[3 * i + 1];
    const z = points[3 * i + 2];
    if (x - x + (y - y) + (z - z) !== 0) continue;
    finite++;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
    if (z < minZ) minZ = z;
    if (z > maxZ) maxZ = z;
  }
  const out: PointCloud = { points: new Float64Array(0) };
  if (normals) out.normals = new Float64Array(0);
  if (colors) out.colors = new Uint8Array(0);
  if (finite === 0) return out;

  // Open3D: voxel_min_bound = min - voxel_size * 0.5; index = floor((p - voxel_min_bound) / voxel_size).
  const half = voxelSize * 0.5;
  const [ox, oy, oz] = [minX - half, minY - half, minZ - half];
  // Voxels per axis: index(max) + 1. The index is monotonic in the coordinate, so every point's
  // index is at most index(max).
  const dims = [maxX - ox, maxY - oy, maxZ - oz].map((extent, a) => {
    const top = extent / voxelSize;
    if (!(top < MAX_VOXELS_PER_AXIS)) {
      throw new InvalidArgumentError(
        `voxelSize ${voxelSize} is too small for this cloud: it spans ${top} voxels along ${'xyz'[a]}, more than 2^32 (the grid's limit)`,
      );
    }
    return Math.floor(top) + 1;
  });

  // Each finite point's voxel, numbered in voxel-index order.
  const { vid, voxels } = numberVoxels({ points, n, finite, origin: [ox, oy, oz], voxelSize, dims });

  // Sums in input order, as Open3D makes them (the same additions in the same order: same doubles).
  // One record per voxel, [x y z (nx ny nz) (r g b) count], padded to 4 doubles, so that a point
  // touches one or two cache lines.
  const nOff = 3;
  const cOff = normals ? 6 : 3;
  const cnt = cOff + (colors ? 3 : 0);
  const stride = (cnt + 4) & ~3;
  const acc = new Float64Array(voxels * stride);
  for (let i = 0; i < n; i++) {
    const v = vid[i];
    if (v === NONE) continue;
    const r = v * stride;
    acc[r] += points[3 * i];
    acc[r + 1] += points[3 * i + 1];
    acc[r + 2] += points[3 * i + 2];
    if (normals) {
      // Open3D leaves a normal with a NaN out of the sum (it still counts in the mean).
      const a = normals[3 * i];
      const b = normals[3 * i + 1];
      const c = normals[3 * i + 2];
      if (a === a && b === b && c === c) {
        acc[r + nOff] += a;
        acc[r + nOff + 1] += b;
        acc[r + nOff + 2] += c;
      }
    }
    if (colors) {
      // Open3D holds colours as doubles in [0, 1]: what it reads from a byte is c / 255.
      acc[r + cOff] += colors[3 * i] / 255;
      acc[r + cOff + 1] += colors[3 * i + 1] / 255;
      acc[r + cOff + 2] += colors[3 * i + 2] / 255;
    }
    acc[r + cnt]++;
  }
  // Means. Normals are not renormalised (Open3D 0.16 does not); colours are what Open3D's PLY
  // writer stores, round(clamp(c, 0, 1) * 255).
  out.points = new Float64Array(voxels * 3);
  if (normals) out.normals = new Float64Array(voxels * 3);
  if (colors) out.colors = new Uint8Array(voxels * 3);
  for (let v = 0; v < voxels; v++) {
    const r = v * stride;
    const count = acc[r + cnt];
    for (let j = 0; j < 3; j++) {
      out.points[3 * v + j] = acc[r + j] / count;
      if (out.normals) out.normals[3 * v + j] = acc[r + nOff + j] / count;
      if (out.colors) out.colors[3 * v + j] = Math.round((acc[r + cOff + j] / count) * 255);
    }
  }
  return out;
}
