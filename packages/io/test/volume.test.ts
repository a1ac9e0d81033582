import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  decodeTiffStack,
  decodeVolume,
  encodeTiffStack,
  encodeVolume,
  ndarray,
  readVolume,
  writeVolume,
  type DType,
  type NDArray,
} from '../src/index.js';
import { BytesFile, HAS_TIFFFILE, NUMPY, expectMatches, expected, python, romiError, NO_TIFFFILE } from './helpers.js';

function ramp(dtype: DType, shape: number[]): NDArray {
  const a = ndarray(dtype, shape);
  for (let i = 0; i < a.data.length; i++) {
    if (a.data instanceof BigInt64Array) a.data[i] = BigInt(i) * -3000000000n;
    else if (a.data instanceof BigUint64Array) a.data[i] = BigInt(i) * 3000000000n;
    else a.data[i] = dtype.startsWith('float') ? Math.sin(i) * 1e3 : i * 7919;
  }
  return a;
}

describe('volumes: files written by tifffile and numpy', () => {
  const tifs = readdirSync(NUMPY).filter((f) => f.startsWith('vol_') && f.endsWith('.tif') && !f.includes('truncated'));
  it('has the fixtures', () => expect(tifs.length).toBe(6));
  for (const f of tifs) {
    it(`reads ${f}`, async () => {
      expectMatches(await readVolume(NUMPY + f), expected[f]);
    });
  }
  it("refuses tifffile's truncated series instead of returning its first page", async () => {
    expect((await romiError(() => readVolume(`${NUMPY}vol_uint8_truncated.tif`))).code).toBe('ROMI_NOT_SUPPORTED');
  });
  it("reads romidata's NPZ volume (key arr_0)", async () => {
    expectMatches(await readVolume(`${NUMPY}vol_arr_0.npz`), expected['vol_arr_0.npz/arr_0']);
  });
});

const dtypes: DType[] = ['uint8', 'uint16', 'float32', 'float64', 'int8', 'int16', 'int32', 'uint32', 'int64', 'uint64'];

describe('volumes: round trips', () => {
  for (const dtype of dtypes) {
    it(`TIFF ${dtype}, one page per index of axis 0`, async () => {
      const a = ramp(dtype, [4, 3, 5]);
      const tif = encodeVolume(a);
      expect(await decodeVolume(tif)).toEqual(a);
      expect(decodeTiffStack(encodeTiffStack(a, { compress: true }))).toEqual(a);
    });
  }
  it('TIFF keeps 2-D and 4-D shapes through the description', () => {
    for (const shape of [[6, 7], [2, 3, 4, 5], [1, 1, 1]]) {
      const a = ramp('float32', shape);
      expect(decodeTiffStack(encodeTiffStack(a))).toEqual(a);
    }
  });
  it('NPZ keeps every dtype, bool and empty arrays included', async () => {
    for (const a of [...dtypes.map((d) => ramp(d, [2, 3, 4])), ndarray('bool', [2, 2, 2]), ndarray('float32', [0, 4, 4])]) {
      expect(await decodeVolume(encodeVolume(a, 'npz'))).toEqual(a);
    }
  });
  it('writes through a File: tiff by default, npz on request', async () => {
    const f = new BytesFile('Voxels');
    const a = ramp('float64', [50, 50, 20]);
    await writeVolume(f.asFile(), a);
    expect(f.filename).toBe('Voxels.tiff');
    expect(await readVolume(f.asFile())).toEqual(a);
    await writeVolume(f.asFile(), a, 'npz');
    expect(f.filename).toBe('Voxels.npz');
    expect(await readVolume(f.asFile())).toEqual(a);
  });
  it('refuses what TIFF cannot hold', async () => {
    const f = new BytesFile();
    expect((await romiError(() => writeVolume(f.asFile(), ndarray('bool', [2, 2, 2])))).code).toBe('ROMI_NOT_SUPPORTED');
    expect((await romiError(() => writeVolume(f.asFile(), ndarray('uint8', [0, 2, 2])))).code).toBe('ROMI_INVALID_ARGUMENT');
    expect((await romiError(() => writeVolume(f.asFile(), ndarray('uint8', [5])))).code).toBe('ROMI_INVALID_ARGUMENT');
    expect((await romiError(() => writeVolume(f.asFile(), ndarray('uint8', [2, 2]), 'png'))).code).toBe('ROMI_NOT_SUPPORTED');
    expect(f.writes).toBe(0);
  });
});

describe('volumes: interop with libvips', () => {
  it('libvips reads our uint8 and uint16 stacks page by page', async () => {
    for (const dtype of ['uint8', 'uint16'] as const) {
      const a = ramp(dtype, [3, 4, 5]);
      const tif = encodeVolume(a);
      const meta = await sharp(tif, { pages: -1 }).metadata();
      expect([meta.pages, meta.pageHeight, meta.width]).toEqual([3, 4, 5]);
      expect(meta.depth).toBe(dtype === 'uint8' ? 'uchar' : 'ushort');
    }
  });
  it('TIFFs our reader leaves out (LZW, JPEG) are read through libvips', async () => {
    const img = new Uint8Array(6 * 4);
    img.forEach((_, i) => (img[i] = i * 10));
    const lzw = await sharp(img, { raw: { width: 6, height: 4, channels: 1 } }).toColourspace('b-w').tiff({ compression: 'lzw' }).toBuffer();
    const v = await decodeVolume(lzw);
    expect(v.dtype).toBe('uint8');
    expect(v.shape).toEqual([4, 6]);
    expect(Array.from(v.data as Uint8Array)).toEqual(Array.from(img));
  });
});

describe.skipIf(!HAS_TIFFFILE)(`volumes: tifffile and Pillow read what we write${NO_TIFFFILE}`, () => {
  it('every dtype, plain and deflated, same shape and values', () => {
    const dir = mkdtempSync(`${tmpdir()}/romi-io-tif-`);
    const cases: Record<string, NDArray> = {};
    for (const dtype of dtypes) {
      cases[dtype] = ramp(dtype, [4, 3, 5]);
      writeFileSync(`${dir}/${dtype}.tif`, encodeTiffStack(cases[dtype]));
      writeFileSync(`${dir}/${dtype}_z.tif`, encodeTiffStack(cases[dtype], { compress: true }));
    }
    const out = python(
      `
import json, sys, tifffile, numpy as np
from PIL import Image
d = sys.argv[1]
res = {}
for name in ${JSON.stringify(dtypes)}:
    for suffix in ["", "_z"]:
        a = tifffile.imread(f"{d}/{name}{suffix}.tif")
        res[name + suffix] = {"dtype": a.dtype.name, "shape": list(a.shape), "values": [str(v) for v in a.ravel().tolist()]}
with Image.open(f"{d}/float32.tif") as im:
    res["pil"] = {"mode": im.mode, "size": list(im.size), "frames": im.n_frames}
print(json.dumps(res))
`,
      [dir],
    );
    const res = JSON.parse(out);
    for (const dtype of dtypes) {
      for (const suffix of ['', '_z']) {
        const got = res[dtype + suffix];
        expect(got.dtype).toBe(dtype);
        expect(got.shape).toEqual([4, 3, 5]);
        const want = Array.from(cases[dtype].data as ArrayLike<number | bigint>, (v) => String(v));
        expect(got.values.map((s: string) => (dtype.startsWith('float') ? String(Number(s)) : s))).toEqual(
          dtype === 'float32' ? want.map((s) => String(Math.fround(Number(s)))) : want,
        );
      }
    }
    expect(res.pil).toEqual({ mode: 'F', size: [5, 3], frames: 4 });
  });
});
