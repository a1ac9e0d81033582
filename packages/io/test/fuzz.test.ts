import fc from 'fast-check';
import sharp, { type TiffOptions } from 'sharp';
import { isRomiError } from '@romi/db-core';
import { describe, expect, it } from 'vitest';
import {
  DTYPES,
  decodeImage,
  decodeNpy,
  decodeNpz,
  decodePly,
  decodePointCloud,
  decodeTriangleMesh,
  decodeVolume,
  encodeImage,
  encodeNpy,
  encodeNpz,
  encodePointCloud,
  encodeTiffStack,
  encodeTriangleMesh,
  ndarray,
  shapeSize,
  type NDArray,
} from '../src/index.js';
import { fixture } from './helpers.js';

// Each binary parser gets a few thousand mutated files. Whatever the bytes, a parser either
// returns a consistent value or throws a RomiError saying the data is corrupt or unsupported:
// never a TypeError or RangeError, never a hang, never an allocation the file cannot back.
const RUNS = Number(process.env.ROMI_FUZZ_RUNS ?? 3000);
const IMAGE_RUNS = Math.ceil(RUNS / 2);
const SEED = process.env.ROMI_FUZZ_SEED ? Number(process.env.ROMI_FUZZ_SEED) : undefined;

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'int'; at: number; value: number; width: 1 | 2 | 4; le: boolean }
  | { kind: 'number'; nth: number; text: string };

// Positions near the start hit headers, where the claims live.
const position = fc.oneof(fc.nat({ max: 600 }), fc.nat());
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('set' as const), at: position, value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: position, len: fc.integer({ min: 1, max: 12 }) }),
  fc.record({
    kind: fc.constant('int' as const),
    at: position,
    value: fc.constantFrom(0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff),
    width: fc.constantFrom(1 as const, 2 as const, 4 as const),
    le: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('number' as const),
    nth: fc.nat({ max: 30 }),
    text: fc.constantFrom('0', '1', '-1', '255', '65536', '4294967295', '4294967296', '99999999999999999', '1e9', '2147483648', ''),
  }),
);

function apply(seed: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = seed.slice();
  for (const m of ms) {
    const at = b.length ? m.kind === 'number' ? 0 : (m as { at: number }).at % (b.length + 1) : 0;
    switch (m.kind) {
      case 'truncate':
        b = b.slice(0, at);
        break;
      case 'set':
        if (at < b.length) b[at] = m.value;
        break;
      case 'insert': {
        const c = new Uint8Array(b.length + m.bytes.length);
        c.set(b.subarray(0, at));
        c.set(m.bytes, at);
        c.set(b.subarray(at), at + m.bytes.length);
        b = c;
        break;
      }
      case 'delete':
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + m.len)]);
        break;
      case 'int':
        if (at + m.width <= b.length) {
          const dv = new DataView(b.buffer, b.byteOffset);
          if (m.width === 1) dv.setUint8(at, m.value & 0xff);
          else if (m.width === 2) dv.setUint16(at, m.value & 0xffff, m.le);
          else dv.setUint32(at, m.value >>> 0, m.le);
        }
        break;
      case 'number': {
        // Replace the nth run of ASCII digits in the first KB (text headers: PLY, NPY).
        const head = Buffer.from(b.subarray(0, 1024)).toString('latin1');
        let k = 0;
        const re = /\d+/g;
        let hit: RegExpExecArray | null;
        while ((hit = re.exec(head))) {
          if (k++ === m.nth) {
            const t = new TextEncoder().encode(m.text);
            b = new Uint8Array([...b.subarray(0, hit.index), ...t, ...b.subarray(hit.index + hit[0].length)]);
            break;
          }
        }
        break;
      }
    }
  }
  return b;
}

const mutated = (seeds: Uint8Array[]) =>
  fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([s, ms]) => apply(s, ms));

function acceptable(err: unknown): boolean {
  return isRomiError(err, 'ROMI_CORRUPT') || isRomiError(err, 'ROMI_NOT_SUPPORTED');
}

function checkArray(a: NDArray): void {
  expect(a.data).toBeInstanceOf(DTYPES[a.dtype].ctor);
  expect(a.data.length).toBe(shapeSize(a.shape));
}

/** Runs a sync decoder on mutated seeds; the value (if any) goes to `check`. */
function fuzzSync<T>(seeds: Uint8Array[], decode: (b: Uint8Array) => T, check: (v: T) => void, runs = RUNS): void {
  fc.assert(
    fc.property(mutated(seeds), (bytes) => {
      let v: T;
      try {
        v = decode(bytes);
      } catch (err) {
        if (!acceptable(err)) throw err;
        return;
      }
      check(v);
    }),
    { numRuns: runs, seed: SEED },
  );
}

const npySeeds = [
  encodeNpy(ndarray('float64', [3, 2], new Float64Array([1, 2, 3, 4, 5, 6]))),
  encodeNpy(ndarray('int16', [4])),
  encodeNpy(ndarray('bool', [])),
  fixture('numpy/fortran_be_uint16_3d.npy'),
  fixture('numpy/v2_float32.npy'),
  fixture('numpy/be_int64.npy'),
];

/** A small grey TIFF written by libvips with these options. */
async function libvipsTiff(opts: TiffOptions): Promise<Uint8Array> {
  const px = Buffer.from(new Uint8Array(32 * 24).map((_, i) => (i * 13) & 0xff));
  return new Uint8Array(await sharp(px, { raw: { width: 32, height: 24, channels: 1 } }).toColourspace('b-w').tiff(opts).toBuffer());
}

describe('fuzz: binary parsers never fail untyped', () => {
  it('NPY', () => fuzzSync(npySeeds, decodeNpy, checkArray));

  it('NPZ (stored and deflated, numpy- and fflate-written)', () => {
    const seeds = [
      encodeNpz({ a: ndarray('uint8', [5]), b: ndarray('float32', [2, 2]) }),
      encodeNpz({ a: ndarray('int32', [3]) }, { compress: false }),
      fixture('numpy/vol_arr_0.npz'),
      fixture('numpy/empty.npz'),
    ];
    fuzzSync(seeds, decodeNpz, (r) => Object.values(r).forEach(checkArray));
  });

  const ply = {
    le: encodeTriangleMesh({
      vertices: new Float64Array([0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 1]),
      normals: new Float64Array(12),
      colors: new Uint8Array(12),
      triangles: new Uint32Array([0, 1, 2, 1, 2, 3]),
    }),
    be: encodePointCloud({ points: new Float64Array([1, 2, 3, 4, 5, 6]), normals: new Float64Array(6) }, { format: 'binary_big_endian' }),
    ascii: encodeTriangleMesh({ vertices: new Float64Array([0, 0, 0, 1, 0, 0, 0, 1, 0]), triangles: new Uint32Array([0, 1, 2]) }, { format: 'ascii' }),
    blender: fixture('real/cylinder.ply').subarray(0, 2000),
  };
  const checkMesh = (m: ReturnType<typeof decodeTriangleMesh>) => {
    expect(m.vertices.length % 3).toBe(0);
    expect(m.triangles.length % 3).toBe(0);
    for (const t of m.triangles) expect(t).toBeLessThan(m.vertices.length / 3);
    if (m.normals) expect(m.normals.length).toBe(m.vertices.length);
    if (m.colors) expect(m.colors.length).toBe(m.vertices.length);
  };
  it('PLY binary little-endian (mesh reader)', () => fuzzSync([ply.le], decodeTriangleMesh, checkMesh));
  it('PLY binary big-endian (cloud reader)', () =>
    fuzzSync([ply.be], decodePointCloud, (pc) => expect(pc.points.length % 3).toBe(0)));
  it('PLY ASCII (mesh reader)', () => fuzzSync([ply.ascii, ply.blender], decodeTriangleMesh, checkMesh));
  it('PLY, every property kept (generic reader)', () =>
    fuzzSync([ply.le, ply.be, ply.ascii], decodePly, (d) => {
      for (const el of d.header.elements) expect(d.elements[el.name].count).toBe(el.count);
    }));

  it('TIFF volumes', async () => {
    const seeds = [
      encodeTiffStack(ndarray('float32', [2, 3, 4])),
      encodeTiffStack(ndarray('uint16', [2, 2, 3]), { compress: true }),
      fixture('numpy/vol_float32_be_deflate.tif'),
      fixture('numpy/vol_float64_planar3.tif'),
      // LZW and tiled files go through the strip and tile checks made for libvips
      ...(await Promise.all([{ compression: 'lzw' as const }, { tile: true, tileWidth: 16, tileHeight: 16 }].map(libvipsTiff))),
    ];
    // decodeVolume may hand LZW/JPEG/tiled files to libvips, so this one is async.
    await fc.assert(
      fc.asyncProperty(mutated(seeds), async (bytes) => {
        try {
          checkArray(await decodeVolume(bytes));
        } catch (err) {
          if (!acceptable(err)) throw err;
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('images (libvips through sharp)', async () => {
    const px = new Uint8Array(8 * 6 * 4).map((_, i) => (i * 29) & 0xff);
    const img = { data: px, width: 8, height: 6, channels: 4 as const };
    const seeds = [
      await encodeImage(img, 'png'),
      await encodeImage(img, 'jpg'),
      await encodeImage(img, 'webp'),
      await encodeImage({ data: new Uint16Array(8 * 6), width: 8, height: 6, channels: 1 }, 'tiff'),
      fixture('real/00000_leaf.png').subarray(0, 3000),
    ];
    await fc.assert(
      fc.asyncProperty(mutated(seeds), async (bytes) => {
        try {
          const out = await decodeImage(bytes);
          expect(out.data.length).toBe(out.width * out.height * out.channels);
        } catch (err) {
          if (!acceptable(err)) throw err;
        }
      }),
      { numRuns: IMAGE_RUNS, seed: SEED },
    );
  });
});
