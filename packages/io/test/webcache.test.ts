import { readFileSync, readdirSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  WEBCACHE_IMAGE_SIZES,
  WEBCACHE_PREVIEW_VOXEL_SIZE,
  decodePointCloud,
  imageSize,
  resizeImage,
  thumbnailSize,
  voxelDownsample,
  type PointCloud,
} from '../src/index.js';
import { crc32 } from '../src/zip.js';
import { FIXTURES, fixture, romiError } from './helpers.js';

// plantdb's webcache computations against what Pillow 9.4 and Open3D 0.16.1 made of the same files
// (test-fixtures/io/webcache/make_golden.py, committed output): image previews and voxel
// downsampling, then hostile inputs.

interface GoldenThumb {
  source: string;
  size: string | number;
  max_side: number;
  mode_in: string;
  width: number;
  height: number;
  mode: string;
  mean: number[];
  block: [number, number];
  blocks: number[][][];
  pixels?: number[];
  jpeg?: string;
}
interface GoldenVoxel {
  source: string;
  voxel: number;
  points_in: number;
  points_out: number;
  normals: boolean;
  colors: boolean;
  golden: string;
}
const golden: {
  versions: Record<string, string>;
  voxel: GoldenVoxel[];
  thumbnails: GoldenThumb[];
  thumbnail_sizes: Array<[number, number, number, number, number]>;
} = JSON.parse(readFileSync(`${FIXTURES}webcache/golden.json`, 'utf8'));

const MiB = 1 << 20;

async function rgb(jpeg: Uint8Array): Promise<{ data: Uint8Array; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
}

/** The JPEG's quantisation tables (DQT segments), as bytes: what the quality setting decides. */
function dqt(jpeg: Uint8Array): string[] {
  const out: string[] = [];
  for (let p = 2; p + 4 <= jpeg.length && jpeg[p] === 0xff; ) {
    const m = jpeg[p + 1];
    if (m === 0xda) break;
    const len = (jpeg[p + 2] << 8) | jpeg[p + 3];
    if (m === 0xdb) out.push(Buffer.from(jpeg.subarray(p + 4, p + 2 + len)).toString('hex'));
    p += 2 + len;
  }
  return out;
}

describe('thumbnailSize: Image.thumbnail rounding', () => {
  it(`equals Pillow ${golden.versions.pillow} on ${golden.thumbnail_sizes.length} sizes`, () => {
    const wrong = golden.thumbnail_sizes.filter(([w, h, n, tw, th]) => {
      const s = thumbnailSize(w, h, n);
      return s.width !== tw || s.height !== th;
    });
    expect(wrong).toEqual([]);
  });
  it("plantdb's examples: 1440×1080 is 150×113 as thumb, 300×225 at 300; never upscaled", () => {
    expect(thumbnailSize(1440, 1080, WEBCACHE_IMAGE_SIZES.thumb)).toEqual({ width: 150, height: 113 });
    expect(thumbnailSize(1440, 1080, 300)).toEqual({ width: 300, height: 225 });
    expect(thumbnailSize(1440, 1080, WEBCACHE_IMAGE_SIZES.large)).toEqual({ width: 1440, height: 1080 });
    expect(thumbnailSize(1, 100000, 150)).toEqual({ width: 1, height: 150 });
    expect(thumbnailSize(100000, 1, 150)).toEqual({ width: 150, height: 1 });
  });
  it('refuses sizes that are not positive integers', async () => {
    for (const [w, h, n] of [
      [0, 5, 5],
      [5, -1, 5],
      [5, 5, 0],
      [5.5, 5, 5],
      [5, 5, NaN],
    ]) {
      expect((await romiError(() => thumbnailSize(w, h, n))).code).toBe('ROMI_INVALID_ARGUMENT');
    }
  });
});

describe('resizeImage: as plantdb makes previews with Pillow', () => {
  for (const t of golden.thumbnails) {
    it(`${t.source} (${t.mode_in}) at ${t.size}: ${t.width}×${t.height}, pixels within a few levels of Pillow's`, async () => {
      const out = await resizeImage(fixture(t.source), t.max_side);
      expect(out.contentType).toBe('image/jpeg');
      expect([out.width, out.height]).toEqual([t.width, t.height]);
      const meta = await sharp(out.bytes).metadata();
      expect(meta).toMatchObject({ format: 'jpeg', width: t.width, height: t.height, channels: 3, space: 'srgb', chromaSubsampling: '4:2:0', isProgressive: false });
      const img = await rgb(out.bytes);
      // Channel means within 2 levels, 8×8 block means within 1 level on average and 4 at most.
      const mean = [0, 1, 2].map((c) => {
        let s = 0;
        for (let i = c; i < img.data.length; i += 3) s += img.data[i];
        return s / (img.width * img.height);
      });
      mean.forEach((m, c) => expect(Math.abs(m - t.mean[c])).toBeLessThan(2));
      const [bw, bh] = t.block;
      let sum = 0;
      let worst = 0;
      let k = 0;
      t.blocks.forEach((row, by) =>
        row.forEach((want, bx) => {
          for (let c = 0; c < 3; c++) {
            let s = 0;
            for (let y = by * bh; y < (by + 1) * bh; y++) for (let x = bx * bw; x < (bx + 1) * bw; x++) s += img.data[(y * img.width + x) * 3 + c];
            const d = Math.abs(s / (bw * bh) - want[c]);
            sum += d;
            worst = Math.max(worst, d);
            k++;
          }
        }),
      );
      expect(sum / k).toBeLessThan(1);
      expect(worst).toBeLessThan(4);
      if (t.jpeg) {
        // Every pixel, against Pillow's own JPEG: mean absolute difference under 3 levels.
        const pil = fixture(`webcache/${t.jpeg}`);
        const ref = await rgb(pil);
        let d = 0;
        for (let i = 0; i < ref.data.length; i++) d += Math.abs(ref.data[i] - img.data[i]);
        expect(d / ref.data.length).toBeLessThan(3);
        // Quality 84: the same quantisation tables as Pillow's (libjpeg's, scaled by the quality).
        expect(dqt(out.bytes)).toEqual(dqt(pil));
      }
    });
  }

  it('alpha is dropped as Pillow drops it: colour kept under transparent pixels, black where a resize leaves none', async () => {
    // rgba_gradient.png: alpha 0 for x ≤ 16, with colour (4x, 5y, 255 - 2(x + y)) under it.
    const src = fixture('webcache/src/rgba_gradient.png');
    const kept = await rgb((await resizeImage(src, 100)).bytes);
    const at = (img: { data: Uint8Array; width: number }, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];
    const [r, g, b] = at(kept, 4, 20);
    expect(Math.abs(r - 16) + Math.abs(g - 100) + Math.abs(b - 207)).toBeLessThan(12);
    // Resized, Pillow premultiplies alpha: the columns made of transparent pixels only are black
    // (up to JPEG ringing), in Pillow's output as in ours.
    const resized = await rgb((await resizeImage(src, 16)).bytes);
    const pil = await rgb(fixture('webcache/pil/rgba_gradient_png_16.jpg'));
    for (const img of [resized, pil]) {
      expect(img.width).toBe(16);
      let s = 0;
      for (let y = 0; y < img.height; y++) for (let x = 0; x < 3; x++) s += at(img, x, y).reduce((a, b) => a + b);
      expect(s / (img.height * 9)).toBeLessThan(4);
    }
  });

  it('every colour type of the io image fixtures becomes an RGB JPEG, resized or not', async () => {
    const dir = `${FIXTURES}images/`;
    const names = readdirSync(dir).filter((f) => !f.endsWith('.json'));
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      const src = new Uint8Array(readFileSync(dir + name));
      for (const [n, w, h] of [
        [150, 7, 5],
        [3, 3, 2],
      ]) {
        const out = await resizeImage(src, n);
        expect([name, out.width, out.height]).toEqual([name, w, h]);
        expect((await sharp(out.bytes).metadata()).channels).toBe(3);
      }
    }
  });

  it('a maxSide beyond the image keeps its size (never upscales)', async () => {
    const out = await resizeImage(fixture('real/00000_leaf.png'), 1e9);
    expect([out.width, out.height]).toEqual([896, 896]);
  });
});

describe('imageSize: the header only', () => {
  it('reads sizes and formats', async () => {
    expect(await imageSize(fixture('real/00000_rgb.jpg'))).toEqual({ width: 1440, height: 1080, format: 'jpeg' });
    expect(await imageSize(fixture('real/00000_rgb.png'))).toEqual({ width: 896, height: 896, format: 'png' });
    expect(await imageSize(fixture('images/rgb.webp'))).toEqual({ width: 7, height: 5, format: 'webp' });
    expect(await imageSize(fixture('images/rgb.tif'))).toEqual({ width: 7, height: 5, format: 'tiff' });
  });
  it('reports the claim of a bomb without decoding it', async () => {
    const before = process.memoryUsage().arrayBuffers;
    expect(await imageSize(pngClaiming(100000, 100000))).toEqual({ width: 100000, height: 100000, format: 'png' });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * MiB);
  });
  it('refuses what is not an image', async () => {
    expect((await romiError(() => imageSize(new Uint8Array(0)))).code).toBe('ROMI_CORRUPT');
    expect((await romiError(() => imageSize(new TextEncoder().encode('{"not": "an image"}')))).code).toBe('ROMI_CORRUPT');
    expect((await romiError(() => imageSize(fixture('real/00000_rgb.jpg').subarray(0, 20)))).code).toBe('ROMI_CORRUPT');
    expect((await romiError(() => imageSize(new TextEncoder().encode('BM and more')))).code).toBe('ROMI_NOT_SUPPORTED');
  });
});

/** The first 120 bytes of a real PNG (IHDR and part of the data), its IHDR rewritten to claim w×h. */
function pngClaiming(w: number, h: number): Uint8Array {
  const png = fixture('real/00000_leaf.png').slice(0, 120);
  const dv = new DataView(png.buffer);
  dv.setUint32(16, w);
  dv.setUint32(20, h);
  dv.setUint32(29, crc32(png.subarray(12, 29)));
  return png;
}

/** A real JPEG whose SOF claims w×h. */
function jpegClaiming(w: number, h: number): Uint8Array {
  const jpg = fixture('real/00000_rgb.jpg').slice();
  for (let p = 2; p + 9 < jpg.length; ) {
    const m = jpg[p + 1];
    if (m === 0xc0 || m === 0xc2) {
      const dv = new DataView(jpg.buffer);
      dv.setUint16(p + 5, h);
      dv.setUint16(p + 7, w);
      return jpg;
    }
    p += 2 + ((jpg[p + 2] << 8) | jpg[p + 3]);
  }
  throw new Error('no SOF');
}

describe('resizeImage: hostile input', () => {
  /** A RomiError with `code`, within 3 s, without the ArrayBuffer memory growing by 64 MB. */
  async function expectBounded(fn: () => unknown, code: string): Promise<string> {
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    const err = await romiError(fn);
    expect(err.code).toBe(code);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * MiB);
    return err.message;
  }
  it('bytes that are not an image, empty or BMP', async () => {
    await expectBounded(() => resizeImage(new Uint8Array(1000).fill(7), 150), 'ROMI_CORRUPT');
    await expectBounded(() => resizeImage(new Uint8Array(0), 150), 'ROMI_CORRUPT');
    await expectBounded(() => resizeImage(new TextEncoder().encode('BM and more'), 150), 'ROMI_NOT_SUPPORTED');
  });
  it('a truncated JPEG and a truncated PNG', async () => {
    const jpg = fixture('real/00000_rgb.jpg');
    await expectBounded(() => resizeImage(jpg.subarray(0, jpg.length >> 1), 150), 'ROMI_CORRUPT');
    await expectBounded(() => resizeImage(jpg.subarray(0, jpg.length - 2000), 1500), 'ROMI_CORRUPT');
    const png = fixture('real/palette_arabi.png');
    await expectBounded(() => resizeImage(png.subarray(0, png.length - 100), 150), 'ROMI_CORRUPT');
  });
  it('a PNG header claiming 100000×100000 pixels in 120 bytes is refused before decoding', async () => {
    expect(await expectBounded(() => resizeImage(pngClaiming(100000, 100000), 150), 'ROMI_CORRUPT')).toMatch(/deflate/);
  });
  it('a JPEG claiming 65000×65000 pixels is beyond maxBytes (IoTooLargeError), as is any image beyond a small maxBytes', async () => {
    expect(await expectBounded(() => resizeImage(jpegClaiming(65000, 65000), 150), 'ROMI_NOT_SUPPORTED')).toMatch(/maxBytes/);
    await expectBounded(() => resizeImage(fixture('real/00000_rgb.jpg'), 150, { maxBytes: 1440 * 1080 * 3 - 1 }), 'ROMI_NOT_SUPPORTED');
    expect((await resizeImage(fixture('real/00000_rgb.jpg'), 150, { maxBytes: 1440 * 1080 * 3 })).width).toBe(150);
  });
  it('maxSide 0, negative, NaN, fractional, infinite or beyond 2^53; a bad maxBytes', async () => {
    const jpg = fixture('real/00000_rgb.jpg');
    for (const n of [0, -1, -150, NaN, 1.5, Infinity, -Infinity, 2 ** 53, 1e300, '150' as unknown as number]) {
      await expectBounded(() => resizeImage(jpg, n), 'ROMI_INVALID_ARGUMENT');
    }
    await expectBounded(() => resizeImage(jpg, 150, { maxBytes: -1 }), 'ROMI_INVALID_ARGUMENT');
  });
  it('an aborted signal', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expectBounded(() => resizeImage(fixture('real/00000_rgb.jpg'), 150, { signal: ctl.signal }), 'ROMI_ABORTED');
  });
});

// --- point clouds ---------------------------------------------------------------------------------

/** Rows [x, y, z, (nx, ny, nz), (r, g, b)], sorted by position. */
function sortedRows(pc: PointCloud): number[][] {
  const n = pc.points.length / 3;
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const r = [...pc.points.subarray(3 * i, 3 * i + 3)];
    if (pc.normals) r.push(...pc.normals.subarray(3 * i, 3 * i + 3));
    if (pc.colors) r.push(...pc.colors.subarray(3 * i, 3 * i + 3));
    rows.push(r);
  }
  return rows.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
}

/** The voxel index of each output point must increase, (i, j, k) lexicographically. */
function expectVoxelOrder(pc: PointCloud, origin: number[], voxel: number): void {
  const n = pc.points.length / 3;
  const idx = (i: number) => [0, 1, 2].map((a) => Math.floor((pc.points[3 * i + a] - origin[a]) / voxel));
  for (let i = 1; i < n; i++) {
    const [a, b] = [idx(i - 1), idx(i)];
    const cmp = a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
    if (!(cmp < 0)) expect.fail(`points ${i - 1} and ${i} are in voxels ${a} and ${b}`);
  }
}

/** The obvious implementation, a Map keyed by "i,j,k": the reference for the radix-sorted one. */
function naiveDownsample(pc: PointCloud, voxel: number): number[][] {
  const n = pc.points.length / 3;
  const min = [Infinity, Infinity, Infinity];
  const ok = (i: number) => [0, 1, 2].every((a) => Number.isFinite(pc.points[3 * i + a]));
  for (let i = 0; i < n; i++) if (ok(i)) for (let a = 0; a < 3; a++) min[a] = Math.min(min[a], pc.points[3 * i + a]);
  const origin = min.map((m) => m - voxel * 0.5);
  const acc = new Map<string, { n: number; s: number[] }>();
  for (let i = 0; i < n; i++) {
    if (!ok(i)) continue;
    const key = [0, 1, 2].map((a) => Math.floor((pc.points[3 * i + a] - origin[a]) / voxel)).join(',');
    const e = acc.get(key) ?? { n: 0, s: [0, 0, 0] };
    for (let a = 0; a < 3; a++) e.s[a] += pc.points[3 * i + a];
    e.n++;
    acc.set(key, e);
  }
  return [...acc.values()].map((e) => e.s.map((v) => v / e.n)).sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
}

describe('voxelDownsample: as Open3D 0.16 voxel_down_sample', () => {
  for (const g of golden.voxel) {
    it(`${g.source} at ${g.voxel}: ${g.points_out} points, the same points, normals${g.colors ? ' and colours' : ''} as Open3D ${golden.versions.open3d}`, () => {
      const pc = decodePointCloud(fixture(g.source));
      expect(pc.points.length / 3).toBe(g.points_in);
      const down = voxelDownsample(pc, g.voxel);
      const ref = decodePointCloud(fixture(`webcache/${g.golden}`));
      expect(down.points.length / 3).toBe(g.points_out);
      expect(!!down.normals).toBe(g.normals);
      expect(!!down.colors).toBe(g.colors);
      const [a, b] = [sortedRows(down), sortedRows(ref)];
      expect(a.length).toBe(b.length);
      let inexact = 0;
      for (let i = 0; i < a.length; i++) {
        for (let j = 0; j < a[i].length; j++) {
          const [x, y] = [a[i][j], b[i][j]];
          if (!(Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y)))) expect.fail(`row ${i} value ${j}: ${x}, Open3D ${y}`);
          if (!Object.is(x, y)) inexact++;
        }
      }
      // The same additions in the same order: bit for bit.
      expect(inexact).toBe(0);
      const min = [0, 1, 2].map((a) => Math.min(...pc.points.filter((_, i) => i % 3 === a)));
      expectVoxelOrder(down, min.map((m) => m - g.voxel / 2), g.voxel);
    });
  }
  it(`the preview voxel is plantdb's ${WEBCACHE_PREVIEW_VOXEL_SIZE}: 2,907 points from the real cloud`, () => {
    expect(voxelDownsample(decodePointCloud(fixture('real/PointCloud.ply')), WEBCACHE_PREVIEW_VOXEL_SIZE).points.length / 3).toBe(2907);
  });

  it('equals a naive Map implementation on random clouds, through both key layouts', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 40; round++) {
      const n = 1 + Math.floor(rand() * 3000);
      // Small spans pack into one key; a far-away cluster makes the grid exceed 2^32 cells (one key per axis).
      const far = round % 2 === 1 ? 3e4 : 0;
      const points = new Float64Array(n * 3);
      for (let i = 0; i < points.length; i++) points[i] = (rand() - 0.5) * 20 + (i % 3 === 0 && rand() < 0.1 ? far : 0) + (i % 7 === 0 ? far / 3 : 0);
      const voxel = [0.05, 0.3, 1, 2.5, 40][round % 5];
      const pc = { points };
      const down = voxelDownsample(pc, voxel);
      expect(sortedRows(down)).toEqual(naiveDownsample(pc, voxel));
      const min = [0, 1, 2].map((a) => Math.min(...points.filter((_, i) => i % 3 === a)));
      expectVoxelOrder(down, min.map((m) => m - voxel / 2), voxel);
    }
  });

  it('averages normals without renormalising them and leaves NaN normals out of the sum (not the count); rounds mean colours', () => {
    const pc: PointCloud = {
      points: new Float64Array([0, 0, 0, 0.1, 0, 0, 0.2, 0, 0]),
      normals: new Float64Array([0, 0, 1, NaN, 0, 0, 1, 0, 0]),
      colors: new Uint8Array([0, 0, 0, 255, 255, 255, 1, 2, 3]),
    };
    const d = voxelDownsample(pc, 1);
    expect([...d.points]).toEqual([0.30000000000000004 / 3, 0, 0]);
    expect([...d.normals!]).toEqual([1 / 3, 0, 1 / 3]);
    expect([...d.colors!]).toEqual([85, 86, 86]);
  });
});

describe('voxelDownsample: hostile input', () => {
  const real = () => decodePointCloud(fixture('real/PointCloud.ply'));
  it('a voxel size that is not a finite number > 0', async () => {
    const pc = { points: new Float64Array([0, 0, 0]) };
    for (const v of [0, -0, -1, NaN, Infinity, -Infinity, '1' as unknown as number, undefined as unknown as number]) {
      expect((await romiError(() => voxelDownsample(pc, v))).code).toBe('ROMI_INVALID_ARGUMENT');
    }
  });
  it('a malformed cloud', async () => {
    for (const pc of [
      null,
      { points: [0, 0, 0] },
      { points: new Float64Array(4) },
      { points: new Float64Array(3), normals: new Float64Array(6) },
      { points: new Float64Array(3), colors: new Float64Array(3) },
    ]) {
      expect((await romiError(() => voxelDownsample(pc as unknown as PointCloud, 1))).code).toBe('ROMI_INVALID_ARGUMENT');
    }
  });
  it('an empty cloud gives an empty cloud (normals and colours kept as empty arrays)', () => {
    const d = voxelDownsample({ points: new Float64Array(0), normals: new Float64Array(0), colors: new Uint8Array(0) }, 1.8);
    expect(d.points.length + d.normals!.length + d.colors!.length).toBe(0);
  });
  it('points with NaN or infinite coordinates are left out (Open3D keeps NaN ones), even when they come first', () => {
    const clean = real();
    const n = clean.points.length / 3;
    const dirty = new Float64Array((n + 3) * 3);
    dirty.set([NaN, 0, 0, 1, Infinity, 2, 3, 4, -Infinity]);
    dirty.set(clean.points, 9);
    const normals = new Float64Array((n + 3) * 3);
    normals.set(clean.normals!, 9);
    const d = voxelDownsample({ points: dirty, normals }, 1.8);
    const ref = voxelDownsample(clean, 1.8);
    expect(d.points).toEqual(ref.points);
    expect(d.normals).toEqual(ref.normals);
    const none = voxelDownsample({ points: new Float64Array([NaN, NaN, NaN, Infinity, 0, 0]) }, 1);
    expect(none.points.length).toBe(0);
  });
  it('a voxel too small for the cloud (1e-12, 2^32 voxels along an axis) is refused before any allocation', async () => {
    const pc = real();
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    const err = await romiError(() => voxelDownsample(pc, 1e-12));
    expect(err.code).toBe('ROMI_INVALID_ARGUMENT');
    expect(err.message).toMatch(/too small/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * MiB);
    expect((await romiError(() => voxelDownsample({ points: new Float64Array([0, 0, 0, 2 ** 32, 0, 0]) }, 1))).code).toBe('ROMI_INVALID_ARGUMENT');
    expect((await romiError(() => voxelDownsample({ points: new Float64Array([-1e308, 0, 0, 1e308, 0, 0]) }, 1e-300))).code).toBe('ROMI_INVALID_ARGUMENT');
  });
  it('distinct voxels at the edge of the grid stay distinct', () => {
    // 2^32 - 2 voxels along x: the last index is 2^32 - 2, one key per voxel, nothing merged.
    const far = 2 ** 32 - 3;
    const d = voxelDownsample({ points: new Float64Array([0, 0, 0, far, 0, 0, far - 1, 0, 0, 0, 0, 1]) }, 1);
    expect(sortedRows(d)).toEqual([
      [0, 0, 0],
      [0, 0, 1],
      [far - 1, 0, 0],
      [far, 0, 0],
    ]);
    // Spread on three axes: 2^31 × 2^31 × 2 cells, far beyond one 32-bit key.
    const e = voxelDownsample({ points: new Float64Array([0, 0, 0, 2 ** 31, 0, 0, 0, 2 ** 31, 0, 0, 0, 1, 2 ** 31, 2 ** 31, 1, 1, 0, 0]) }, 1);
    expect(e.points.length / 3).toBe(6);
  });
});
