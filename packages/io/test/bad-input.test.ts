import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import {
  encodeNpy,
  encodeNpz,
  encodeTiffStack,
  ndarray,
  readCSV,
  readImage,
  readJSON,
  readNpy,
  readNpz,
  readPly,
  readPointCloud,
  readTOML,
  readTriangleMesh,
  readVolume,
  type Source,
} from '../src/index.js';
import { crc32 } from '../src/zip.js';
import { BytesFile, REAL, binPly, fixture, romiError } from './helpers.js';

const enc = new TextEncoder();
const dir = mkdtempSync(`${tmpdir()}/romi-io-bad-`);

/** Writes bytes under a name and returns the path. */
function onDisk(name: string, bytes: Uint8Array): string {
  const p = `${dir}/${name}`;
  writeFileSync(p, bytes);
  return p;
}

/**
 * Runs a reader on bad input and checks: a typed error with the given code, naming the source,
 * and no allocation anywhere near what the input claims (ArrayBuffers grow by under 64 MB).
 */
async function expectBad(read: (s: Source) => Promise<unknown>, src: Source, code = 'ROMI_CORRUPT', named?: string): Promise<string> {
  const before = process.memoryUsage().arrayBuffers;
  const err = await romiError(() => read(src));
  const grown = process.memoryUsage().arrayBuffers - before;
  expect(err.code).toBe(code);
  if (named) expect(err.message).toContain(named);
  expect(grown).toBeLessThan(64 * 1024 * 1024);
  return err.message;
}

const binaryReaders: Array<[string, (s: Source) => Promise<unknown>]> = [
  ['readImage', readImage],
  ['readNpy', readNpy],
  ['readNpz', readNpz],
  ['readPointCloud', readPointCloud],
  ['readTriangleMesh', readTriangleMesh],
  ['readPly', readPly],
  ['readVolume', readVolume],
];

describe('every reader: empty files, wrong formats, missing files', () => {
  const empty = onDisk('empty.ply', new Uint8Array(0));
  const pngAsJpg = onDisk('mask.jpg', fixture('real/00000_leaf.png'));
  for (const [name, read] of binaryReaders) {
    it(`${name}: an empty file is ROMI_CORRUPT naming the file`, async () => {
      await expectBad(read, empty, 'ROMI_CORRUPT', empty);
      await expectBad(read, new Uint8Array(0), 'ROMI_CORRUPT', '<bytes>');
    });
    it(`${name}: a missing file is ROMI_NOT_FOUND`, async () => {
      expect((await romiError(() => read(`${dir}/nope.bin`))).code).toBe('ROMI_NOT_FOUND');
    });
    if (name !== 'readImage') {
      it(`${name}: a PNG named .jpg is ROMI_CORRUPT naming the file`, async () => {
        await expectBad(read, pngAsJpg, 'ROMI_CORRUPT', pngAsJpg);
      });
    }
  }
  it('readImage: a PNG named .jpg is read as the PNG it is; text named .jpg is ROMI_CORRUPT', async () => {
    expect((await readImage(pngAsJpg)).channels).toBe(1);
    await expectBad(readImage, onDisk('text.jpg', enc.encode('hello')), 'ROMI_CORRUPT', 'text.jpg');
  });
  it('text readers: a JPEG is not JSON, TOML or UTF-8 CSV', async () => {
    for (const read of [readJSON, readTOML, readCSV]) await expectBad(read, `${REAL}00000_rgb.jpg`, 'ROMI_CORRUPT', '00000_rgb.jpg');
  });
  it('errors name a database File by its path in the database', async () => {
    const f = new BytesFile('broken');
    f.data = enc.encode('ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n');
    f.filename = 'broken.ply';
    Object.assign(f, { scan: { id: 'scan1' }, fileset: { id: 'PointCloud' } });
    await expectBad(readPointCloud, f.asFile(), 'ROMI_CORRUPT', 'scan1/PointCloud/broken.ply');
  });
});

describe('PLY: truncated and lying headers', () => {
  const cloud = fixture('real/vplant_rec.ply');
  const mesh = fixture('real/TriangleMesh.ply');
  it('a cloud or mesh cut anywhere in the body or header', async () => {
    for (const cut of [10, 100, 300, 301, 400, 1000, cloud.length - 1]) await expectBad(readPointCloud, cloud.subarray(0, cut));
    for (const cut of [mesh.length - 1, mesh.length - 4, 28360 * 51 + 400]) await expectBad(readTriangleMesh, mesh.subarray(0, cut));
  });
  it('2 billion vertices claimed by a 1 KB file', async () => {
    const head = 'ply\nformat binary_little_endian 1.0\nelement vertex 2000000000\nproperty double x\nproperty double y\nproperty double z\nend_header\n';
    const b = new Uint8Array(1024);
    b.set(enc.encode(head));
    const msg = await expectBad(readPointCloud, b);
    expect(msg).toMatch(/2000000000 records need/);
    const ascii = enc.encode(head.replace('binary_little_endian', 'ascii') + '1 2 3\n'.repeat(100));
    await expectBad(readPointCloud, ascii);
  });
  it('face lists that claim more than the file holds, negative counts, bad indices', async () => {
    const v: Parameters<typeof binPly>[1] = [['f32', 0], ['f32', 0], ['f32', 0]];
    const h = 'element vertex 1\nproperty float x\nproperty float y\nproperty float z\nelement face 1\n';
    await expectBad(readTriangleMesh, binPly(`${h}property list uchar uint vertex_indices`, [...v, ['u8', 200], ['u32', 0]]));
    await expectBad(readTriangleMesh, binPly(`${h}property list int int vertex_indices`, [...v, ['i32', -3], ['i32', 0]]));
    await expectBad(readTriangleMesh, binPly(`${h}property list uint uint vertex_indices`, [...v, ['u32', 0xffffffff], ['u32', 0]]));
    await expectBad(readTriangleMesh, binPly(`${h}property list uchar uint vertex_indices`, [...v, ['u8', 3], ['u32', 0], ['u32', 0], ['u32', 1]]));
    await expectBad(readTriangleMesh, binPly(`${h}property list uchar int vertex_indices`, [...v, ['u8', 3], ['i32', 0], ['i32', -1], ['i32', 0]]));
    await expectBad(readTriangleMesh, binPly(h.replace('face 1', 'face 4000000000') + 'property list uchar uint vertex_indices', [...v, ['u8', 0]]));
  });
  const headers: Array<[string, string]> = [
    ['no end_header', 'ply\nformat ascii 1.0\nelement vertex 0\n'],
    ['no format', 'ply\nelement vertex 0\nend_header\n'],
    ['bad format', 'ply\nformat binary_middle_endian 1.0\nend_header\n'],
    ['unknown type', 'ply\nformat ascii 1.0\nelement vertex 1\nproperty float128 x\nend_header\n0\n'],
    ['float list count', 'ply\nformat ascii 1.0\nelement face 1\nproperty list float int v\nend_header\n1 0\n'],
    ['property before element', 'ply\nformat ascii 1.0\nproperty float x\nend_header\n'],
    ['negative count', 'ply\nformat ascii 1.0\nelement vertex -5\nend_header\n'],
    ['huge count', 'ply\nformat ascii 1.0\nelement vertex 99999999999999999999\nend_header\n'],
    ['unknown keyword', 'ply\nformat ascii 1.0\nbogus line\nend_header\n'],
    ['no vertex element', 'ply\nformat ascii 1.0\nelement point 1\nproperty float x\nend_header\n1\n'],
    ['no x/y/z', 'ply\nformat ascii 1.0\nelement vertex 1\nproperty float a\nend_header\n1\n'],
    ['duplicate property', 'ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float x\nend_header\n1 1\n'],
    ['text instead of a number', 'ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 two 3\n'],
    ['non-integer uchar', 'ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nproperty uchar red\nend_header\n1 2 3 0.5\n'],
    ['missing values', 'ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n4 5\n'],
    ['not ply', 'plyx\nformat ascii 1.0\nend_header\n'],
  ];
  for (const [what, text] of headers) {
    it(`header: ${what}`, async () => {
      await expectBad(readPointCloud, enc.encode(text));
    });
  }
  it('a header with no end_header in the first MiB stops there', async () => {
    const b = new Uint8Array(3 << 20).fill(0x61);
    b.set(enc.encode('ply\nformat ascii 1.0\ncomment '));
    expect(await expectBad(readPointCloud, b)).toMatch(/longer than 1 MiB/);
  });
});

describe('NPY: bad magic, bad headers, lying shapes', () => {
  const good = encodeNpy(ndarray('float64', [4, 4]));
  const withHeader = (header: string, body = new Uint8Array(64)) => {
    const h = enc.encode(header);
    const b = new Uint8Array(10 + h.length + body.length);
    b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
    b.set(h, 10);
    b.set(body, 10 + h.length);
    return b;
  };
  it('bad magic and truncation', async () => {
    const bad = good.slice();
    bad[1] = 0x4f;
    await expectBad(readNpy, bad);
    for (const cut of [3, 8, 9, 20, 127, good.length - 1]) await expectBad(readNpy, good.subarray(0, cut));
  });
  it('a 2 GB array claimed by a 1 KB file', async () => {
    const msg = await expectBad(readNpy, withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (268435456,), }\n", new Uint8Array(1024)));
    expect(msg).toMatch(/2147483648 data bytes/);
    await expectBad(readNpy, withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }\n"));
  });
  const headers: Array<[string, string, string?]> = [
    ['not a dict', "['descr', '<f8']\n"],
    ['syntax error', "{'descr': '<f8', 'fortran_order': False, 'shape': (2,\n"],
    ['missing shape', "{'descr': '<f8', 'fortran_order': False}\n"],
    ['negative dimension', "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }\n"],
    ['float dimension', "{'descr': '<f8', 'fortran_order': False, 'shape': (1.5,), }\n"],
    ['fortran_order not a bool', "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }\n"],
    ['code injection', "{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (1,), }\n"],
    ['bad descr', "{'descr': 'f8<', 'fortran_order': False, 'shape': (1,), }\n"],
    ['proto key', "{'__proto__': 1, 'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", 'ok'],
    ['complex dtype', "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }\n", 'ROMI_NOT_SUPPORTED'],
    ['float16', "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }\n", 'ROMI_NOT_SUPPORTED'],
    ['object dtype', "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }\n", 'ROMI_NOT_SUPPORTED'],
    ['structured dtype', "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }\n", 'ROMI_NOT_SUPPORTED'],
  ];
  for (const [what, header, code] of headers) {
    it(`header: ${what}`, async () => {
      if (code === 'ok') {
        expect((await readNpy(withHeader(header))).shape).toEqual([1]);
        expect(({} as Record<string, unknown>).descr).toBeUndefined();
        return;
      }
      await expectBad(readNpy, withHeader(header), code ?? 'ROMI_CORRUPT');
    });
  }
  it('a header length beyond the file, and unknown versions', async () => {
    const b = good.slice();
    b[8] = 0xff;
    b[9] = 0xff;
    await expectBad(readNpy, b);
    const v9 = good.slice();
    v9[6] = 9;
    await expectBad(readNpy, v9, 'ROMI_NOT_SUPPORTED');
  });
});

describe('NPZ: damaged and lying archives', () => {
  const npz = encodeNpz({ a: ndarray('float32', [8, 8]), b: ndarray('uint8', [3]) });
  it('truncated anywhere', async () => {
    for (const cut of [2, 10, 22, 60, npz.length - 23, npz.length - 1]) await expectBad(readNpz, npz.subarray(0, cut));
  });
  it('an entry that claims 2 GB from a few bytes', async () => {
    const z = zipSync({ 'a.npy': [encodeNpy(ndarray('uint8', [4])), { level: 6 }] });
    // patch the uncompressed size in the central directory
    const cd = findSig(z, 0x02014b50);
    new DataView(z.buffer).setUint32(cd + 24, 0x7fffffff, true);
    expect(await expectBad(readNpz, z)).toMatch(/claims 2147483647 bytes/);
  });
  it('a CRC mismatch, a non-.npy member, an unknown compression, an encrypted entry', async () => {
    const z = encodeNpz({ a: ndarray('uint8', [100]) }, { compress: false });
    const bad = z.slice();
    bad[z.length - 40] ^= 0xff; // inside the central directory's CRC or name: some check must fail
    await expectBad(readNpz, bad);
    const flipped = z.slice();
    flipped[findSig(z, 0x04034b50) + 30 + 5 + 80] ^= 1; // a data byte of the stored entry
    expect(await expectBad(readNpz, flipped)).toMatch(/CRC/);
    await expectBad(readNpz, zipSync({ 'readme.txt': new Uint8Array([1]) }), 'ROMI_NOT_SUPPORTED');
    const method = z.slice();
    new DataView(method.buffer).setUint16(findSig(z, 0x02014b50) + 10, 12, true);
    await expectBad(readNpz, method, 'ROMI_NOT_SUPPORTED');
    const enc1 = z.slice();
    new DataView(enc1.buffer).setUint16(findSig(z, 0x02014b50) + 8, 1, true);
    await expectBad(readNpz, enc1, 'ROMI_NOT_SUPPORTED');
  });
  it('an entry whose NPY is bad names the member', async () => {
    const z = zipSync({ 'a.npy': new Uint8Array([1, 2, 3]) });
    expect(await expectBad(readNpz, z)).toContain('[a.npy]');
  });
  it('a central directory claiming 65535 entries', async () => {
    const z = encodeNpz({ a: ndarray('uint8', [1]) });
    const eocd = findSig(z, 0x06054b50);
    new DataView(z.buffer).setUint16(eocd + 10, 0xffff, true);
    await expectBad(readNpz, z);
  });
});

describe('TIFF volumes: damaged and lying files', () => {
  const tif = encodeTiffStack(ndarray('float32', [3, 4, 5]));
  it('truncated anywhere', async () => {
    for (const cut of [3, 7, 8, 40, 120, tif.length - 1]) await expectBad(readVolume, tif.subarray(0, cut));
  });
  it('a page of 100000×100000 float64 claimed in 1 KB', async () => {
    const t = encodeTiffStack(ndarray('float64', [1, 4, 4]));
    const dv = new DataView(t.buffer);
    const n = dv.getUint16(8, true);
    for (let k = 0; k < n; k++) {
      const e = 10 + k * 12;
      const tag = dv.getUint16(e, true);
      if (tag === 256 || tag === 257 || tag === 278) dv.setUint32(e + 8, 100000, true);
    }
    await expectBad(readVolume, t);
  });
  it('an IFD chain that loops', async () => {
    const t = encodeTiffStack(ndarray('uint8', [1, 2, 2]));
    const dv = new DataView(t.buffer);
    const n = dv.getUint16(8, true);
    dv.setUint32(10 + n * 12, 8, true);
    expect(await expectBad(readVolume, t)).toMatch(/loops/);
  });
});

describe('images: damaged files', () => {
  it('truncated JPEG and PNG, random bytes, BMP', async () => {
    const jpg = fixture('real/00001_rgb.jpg');
    await expectBad(readImage, jpg.subarray(0, jpg.length >> 1));
    const png = fixture('real/palette_arabi.png');
    await expectBad(readImage, png.subarray(0, png.length - 100));
    await expectBad(readImage, new Uint8Array(1000).fill(7));
    await expectBad(readImage, enc.encode('BM and more'), 'ROMI_NOT_SUPPORTED');
  });
  it('a PNG header claiming 65535×65535 pixels in 100 bytes', async () => {
    const png = fixture('real/00000_leaf.png').slice(0, 120);
    const dv = new DataView(png.buffer);
    dv.setUint32(16, 65535);
    dv.setUint32(20, 65535);
    dv.setUint32(29, crc32(png.subarray(12, 29)));
    await expectBad(readImage, png);
  });
});

function findSig(b: Uint8Array, sig: number): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = b.length - 4; i >= 0; i--) if (dv.getUint32(i, true) === sig) return i;
  throw new Error('signature not found');
}
