import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeNpy,
  decodeNpz,
  encodeNpy,
  encodeNpz,
  ndarray,
  readNpy,
  readNpz,
  writeNpy,
  writeNpz,
  type DType,
  type NDArray,
} from '../src/index.js';
import { BytesFile, HAS_NUMPY, NUMPY, expectMatches, expected, fixture, python, romiError, NO_NUMPY } from './helpers.js';

const npyFixtures = readdirSync(NUMPY).filter((f) => f.endsWith('.npy'));

describe('NPY: numpy-written files', () => {
  it('has the fixtures', () => {
    expect(npyFixtures.length).toBeGreaterThan(25);
  });
  for (const f of npyFixtures) {
    it(`reads ${f} with numpy's dtype, shape and values`, async () => {
      const arr = await readNpy(NUMPY + f);
      expectMatches(arr, expected[f]);
    });
  }
  for (const f of npyFixtures.filter((n) => n.startsWith('le_') || n.startsWith('scalar_') || n.startsWith('empty_'))) {
    it(`writes ${f} back byte for byte as numpy did`, () => {
      const bytes = fixture(`numpy/${f}`);
      expect(Buffer.from(encodeNpy(decodeNpy(bytes))).equals(Buffer.from(bytes))).toBe(true);
    });
  }
  it('turns Fortran-order data into C order', async () => {
    const a = await readNpy(`${NUMPY}fortran_int32_2d.npy`);
    expect(Array.from(a.data as Int32Array)).toEqual([...Array(12).keys()]);
    expect(a.shape).toEqual([3, 4]);
  });
});

const samples: Array<[DType, NDArray['data']]> = [
  ['bool', new Uint8Array([1, 0, 1, 1, 0, 0])],
  ['int8', new Int8Array([-128, 127, 0, 1, -1, 5])],
  ['uint8', new Uint8Array([0, 255, 1, 2, 3, 4])],
  ['int16', new Int16Array([-32768, 32767, 0, 1, -1, 5])],
  ['uint16', new Uint16Array([0, 65535, 1, 2, 3, 4])],
  ['int32', new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, 1, -1, 5])],
  ['uint32', new Uint32Array([0, 2 ** 32 - 1, 1, 2, 3, 4])],
  ['int64', new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, 1n, -1n, 2n ** 53n + 1n])],
  ['uint64', new BigUint64Array([0n, 2n ** 64n - 1n, 1n, 2n, 3n, 2n ** 53n + 1n])],
  ['float32', new Float32Array([0, -0, NaN, Infinity, -Infinity, 1.5])],
  ['float64', new Float64Array([0, -0, NaN, Infinity, 5e-324, Math.PI])],
];

describe('NPY: round trip', () => {
  for (const [dtype, data] of samples) {
    for (const shape of [[6], [2, 3], [3, 1, 2]]) {
      it(`${dtype} ${JSON.stringify(shape)}`, () => {
        const back = decodeNpy(encodeNpy(ndarray(dtype, shape, data)));
        expect(back.dtype).toBe(dtype);
        expect(back.shape).toEqual(shape);
        expect(back.data).toEqual(data);
      });
    }
  }
  it('encodes typed-array views (subarrays) from their offset', () => {
    const big = new Float64Array(20).map((_, i) => i / 3);
    const a = ndarray('float64', [2, 3], big.subarray(7, 13));
    expect(Array.from(decodeNpy(encodeNpy(a)).data as Float64Array)).toEqual(Array.from(big.subarray(7, 13)));
    expect(decodeNpz(encodeNpz({ a })).a.data).toEqual(big.subarray(7, 13));
  });
  it('0-d and empty arrays', () => {
    for (const a of [
      ndarray('float64', [], new Float64Array([2.5])),
      ndarray('int16', [0]),
      ndarray('uint8', [4, 0, 2]),
      ndarray('int64', [0, 0]),
    ]) {
      const back = decodeNpy(encodeNpy(a));
      expect(back).toEqual(a);
    }
  });
  it('pads the header to 64 bytes and writes version 1.0', () => {
    const b = encodeNpy(ndarray('float32', [7, 5]));
    expect(b[6]).toBe(1);
    const headerLen = b[8] | (b[9] << 8);
    expect((10 + headerLen) % 64).toBe(0);
    expect(b[10 + headerLen - 1]).toBe(0x0a);
  });
  it('writes through a File with extension npy', async () => {
    const f = new BytesFile('arr');
    const a = ndarray('uint16', [2, 2], new Uint16Array([1, 2, 3, 65535]));
    await writeNpy(f.asFile(), a);
    expect(f.filename).toBe('arr.npy');
    expect(await readNpy(f.asFile())).toEqual(a);
  });
  it('rejects writes of inconsistent arrays', async () => {
    const f = new BytesFile();
    const bad = [
      { dtype: 'float32', shape: [2, 2], data: new Float32Array(3) },
      { dtype: 'float32', shape: [2], data: new Float64Array(2) },
      { dtype: 'complex64', shape: [1], data: new Float32Array(2) },
      { dtype: 'uint8', shape: [-1], data: new Uint8Array(0) },
      { dtype: 'uint8', shape: [1.5], data: new Uint8Array(0) },
    ];
    for (const a of bad) {
      const err = await romiError(() => writeNpy(f.asFile(), a as NDArray));
      expect(err.code).toBe('ROMI_INVALID_ARGUMENT');
    }
    expect(f.writes).toBe(0);
  });
});

describe('NPZ', () => {
  for (const kind of ['stored', 'compressed']) {
    it(`reads numpy's ${kind} archive (savez${kind === 'compressed' ? '_compressed' : ''})`, async () => {
      const arrays = await readNpz(`${NUMPY}${kind}.npz`);
      expect(Object.keys(arrays)).toEqual(['a', 'labels', 'mask', 'big']);
      for (const [k, v] of Object.entries(arrays)) expectMatches(v, expected[`${kind}.npz/${k}`]);
    });
  }
  it('reads an empty archive', async () => {
    expect(await readNpz(`${NUMPY}empty.npz`)).toEqual({});
  });
  for (const compress of [true, false]) {
    it(`round-trips every dtype (compress: ${compress})`, () => {
      const arrays = Object.fromEntries(samples.map(([d, data]) => [d, ndarray(d, [2, 3], data)]));
      arrays.scalar = ndarray('float64', [], new Float64Array([1]));
      arrays.empty = ndarray('uint8', [0, 3]);
      const back = decodeNpz(encodeNpz(arrays, { compress }));
      expect(back).toEqual(arrays);
    });
  }
  it('writes through a File with extension npz, compressed by default', async () => {
    const f = new BytesFile('vox');
    const a = ndarray('float32', [10, 10, 10]);
    (a.data as Float32Array).fill(1);
    await writeNpz(f.asFile(), { background: a });
    expect(f.filename).toBe('vox.npz');
    expect(f.data!.length).toBeLessThan(1000);
    expect(await readNpz(f.asFile())).toEqual({ background: a });
  });
  it('reads back every key, numeric-looking ones included', () => {
    const z = encodeNpz({ b: ndarray('uint8', [1]), a: ndarray('uint8', [1]), '0': ndarray('uint8', [1]) });
    expect(Object.keys(decodeNpz(z)).sort()).toEqual(['0', 'a', 'b']);
  });
});

describe.skipIf(!HAS_NUMPY)(`numpy loads what we write${NO_NUMPY}`, () => {
  it('NPY and NPZ of every dtype', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/romi-io-npy-`);
    const arrays: Record<string, NDArray> = {};
    for (const [d, data] of samples) {
      arrays[d] = ndarray(d, [3, 2], data);
      writeFileSync(`${dir}/${d}.npy`, encodeNpy(arrays[d]));
    }
    writeFileSync(`${dir}/all.npz`, encodeNpz(arrays));
    writeFileSync(`${dir}/stored.npz`, encodeNpz(arrays, { compress: false }));
    const out = python(
      `
import json, sys, numpy as np
d = sys.argv[1]
def show(a):
    vals = [repr(x) for x in a.ravel().tolist()]
    return {"dtype": "bool" if a.dtype == np.bool_ else a.dtype.name, "shape": list(a.shape), "values": vals}
res = {}
for name in ${JSON.stringify(samples.map(([dt]) => dt))}:
    res[name] = show(np.load(f"{d}/{name}.npy"))
for z in ["all", "stored"]:
    with np.load(f"{d}/{z}.npz") as f:
        res[z] = {k: show(f[k]) for k in f.files}
print(json.dumps(res))
`,
      [dir],
    );
    const res = JSON.parse(out);
    for (const [d, data] of samples) {
      for (const got of [res[d], res.all[d], res.stored[d]]) {
        expect(got.dtype).toBe(d);
        expect(got.shape).toEqual([3, 2]);
        const want = Array.from(data as ArrayLike<number | bigint>, (v) =>
          d === 'bool' ? (v ? 'True' : 'False') : typeof v === 'bigint' ? String(v) : pyRepr(v as number, d),
        );
        expect(got.values).toEqual(want);
      }
    }
  });
});

function pyRepr(v: number, d: string): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (d.startsWith('float')) {
    if (Object.is(v, -0)) return '-0.0';
    const s = String(v);
    return /[.e]/.test(s) ? s.replace(/e([+-])(\d)$/, 'e$1$2') : `${s}.0`;
  }
  return String(v);
}
