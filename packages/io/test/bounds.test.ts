import * as zlib from 'node:zlib';
import { readdirSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_BYTES,
  IoTooLargeError,
  decodeNpz,
  decodeTiffStack,
  decodeVolume,
  encodeNpy,
  encodeNpz,
  encodeTiffStack,
  ndarray,
  readImage,
  readNpy,
  readNpz,
  readVolume,
  type Source,
} from '../src/index.js';
import { NUMPY, REAL, fixture, romiError } from './helpers.js';

// Hostile files that claim far more decoded data than they hold, made here by hand so that each
// stays about 1 MB: strips and members that share bytes, streams that inflate beyond their claim,
// totals beyond maxBytes. Each must fail fast with a typed error and without the allocation.

const MiB = 1 << 20;
const GiB = 1 << 30;

/**
 * Runs a reader on hostile input: a RomiError with `code` (never a RangeError or a zlib error),
 * within `ms`, while the process's ArrayBuffer memory and RSS grow by less than 64 MB / 256 MB.
 */
async function expectBounded(read: () => Promise<unknown> | unknown, code: string, ms = 3000): Promise<string> {
  const before = process.memoryUsage();
  const t0 = performance.now();
  const err = await romiError(read);
  const took = performance.now() - t0;
  const after = process.memoryUsage();
  expect(err.code).toBe(code);
  expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(64 * MiB);
  expect(after.rss - before.rss).toBeLessThan(256 * MiB);
  expect(took).toBeLessThan(ms);
  return err.message;
}

// --- deflate streams of zeros, written bit by bit, so that the zeros are never in memory ---

/**
 * A raw deflate stream of `n` zero bytes: one dynamic-Huffman block where a match of 258 bytes
 * at distance 1 costs 2 bits, deflate's best ratio (1032:1), so the stream is all zero bytes.
 */
function zeroStream(n: number): Uint8Array {
  const k = Math.floor((n - 1) / 258);
  const r = n - 1 - 258 * k;
  const out = new Uint8Array(Math.ceil((300 + 2 * k + 2 * r) / 8));
  let pos = 0;
  const bits = (v: number, len: number) => {
    for (let i = 0; i < len; i++, pos++) if ((v >> i) & 1) out[pos >> 3] |= 1 << (pos & 7);
  };
  const code = (s: string) => [...s].forEach((c) => bits(c === '1' ? 1 : 0, 1));
  bits(1, 1); // final block
  bits(2, 2); // dynamic Huffman codes
  bits(29, 5); // 286 literal/length codes
  bits(1, 5); // 2 distance codes
  bits(14, 4); // 18 code-length codes, in deflate's order: 18 → '0', 1 → '10', 2 → '11'
  const clLen: Record<number, number> = { 18: 1, 2: 2, 1: 2 };
  for (const s of [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1]) bits(clLen[s] ?? 0, 3);
  const zeros = (z: number) => (code('0'), bits(z - 11, 7));
  // Code lengths: literal 0 and end-of-block 2 ('11'), 1-255 and 257-284 none (runs of 18), length
  // 258 and both distances 1 ('10'). Codes: literal 0 '10', end-of-block '11', length 258 '0', distance 1 '0'.
  code('11');
  zeros(138);
  zeros(117);
  code('11');
  zeros(28);
  code('10');
  code('10');
  code('10');
  // one literal 0, then k matches of 258 bytes at distance 1: 2k zero bits
  code('10');
  pos += 2 * k;
  for (let i = 0; i < r; i++) code('10');
  code('11');
  return out.subarray(0, Math.ceil(pos / 8));
}

/** A raw deflate stream of `head` then `n` zero bytes. */
function deflatedZeros(n: number, head: Uint8Array = new Uint8Array(0)): Uint8Array {
  const z = zeroStream(n);
  return head.length ? Buffer.concat([zlib.deflateRawSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH }), z]) : z;
}

/** `n` zeros as a zlib stream (TIFF's deflate), with its Adler-32: zeros leave `a` at 1 and add it to `b`. */
function zlibZeros(n: number): Uint8Array {
  const raw = zeroStream(n);
  const out = new Uint8Array(2 + raw.length + 4);
  out.set([0x78, 0xda]);
  out.set(raw, 2);
  new DataView(out.buffer).setUint32(out.length - 4, (((n % 65521) << 16) | 1) >>> 0);
  return out;
}

// --- TIFF built by hand: a payload at offset 8, then one IFD per page ---

interface CraftPage {
  width: number;
  height: number;
  bits?: number;
  compression?: number;
  rowsPerStrip?: number;
  /** [offset in the payload, byte count] per strip. */
  strips: Array<[number, number]>;
}

function craftTiff(payload: Uint8Array, pages: CraftPage[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 8 + payload.length + (payload.length & 1);
  const ifdAt: number[] = [];
  const entriesOf = (p: CraftPage): Array<[number, number, number[]]> => [
    [256, 4, [p.width]],
    [257, 4, [p.height]],
    [258, 3, [p.bits ?? 8]],
    [259, 3, [p.compression ?? 1]],
    [262, 3, [1]],
    [273, 4, p.strips.map(([o]) => 8 + o)],
    [277, 3, [1]],
    [278, 4, [p.rowsPerStrip ?? p.height]],
    [279, 4, p.strips.map(([, n]) => n)],
    [339, 3, [1]],
  ];
  for (const p of pages) {
    const entries = entriesOf(p);
    // strip tables of more than one strip are LONG arrays after the entries; single values are inline
    const extra = entries.reduce((n, [, , v]) => n + (v.length > 1 ? 4 * v.length : 0), 0);
    const b = new Uint8Array(2 + entries.length * 12 + 4 + extra);
    const dv = new DataView(b.buffer);
    ifdAt.push(size);
    dv.setUint16(0, entries.length, true);
    let x = 2 + entries.length * 12 + 4;
    entries.forEach(([tag, type, v], k) => {
      const e = 2 + k * 12;
      dv.setUint16(e, tag, true);
      dv.setUint16(e + 2, type, true);
      dv.setUint32(e + 4, v.length, true);
      if (v.length > 1) {
        dv.setUint32(e + 8, size + x, true);
        for (const n of v) {
          dv.setUint32(x, n, true);
          x += 4;
        }
      } else if (type === 3) dv.setUint16(e + 8, v[0], true);
      else dv.setUint32(e + 8, v[0], true);
    });
    chunks.push(b);
    size += b.length;
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  dv.setUint32(4, ifdAt[0], true);
  out.set(payload, 8);
  chunks.forEach((c, i) => {
    out.set(c, ifdAt[i]);
    const next = ifdAt[i] + 2 + dv.getUint16(ifdAt[i], true) * 12;
    dv.setUint32(next, i + 1 < chunks.length ? ifdAt[i + 1] : 0, true);
  });
  return out;
}

/** The unsigned integer values of every tag in the first IFD of a little-endian TIFF. */
function firstIfd(b: Uint8Array): Map<number, { values: number[]; at: number; type: number }> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ifd = dv.getUint32(4, true);
  const tags = new Map<number, { values: number[]; at: number; type: number }>();
  for (let k = 0; k < dv.getUint16(ifd, true); k++) {
    const e = ifd + 2 + k * 12;
    const type = dv.getUint16(e + 2, true);
    const count = dv.getUint32(e + 4, true);
    const size = type === 3 ? 2 : 4;
    const at = count * size > 4 ? dv.getUint32(e + 8, true) : e + 8;
    const values = Array.from({ length: type === 3 || type === 4 ? count : 0 }, (_, i) =>
      size === 2 ? dv.getUint16(at + 2 * i, true) : dv.getUint32(at + 4 * i, true),
    );
    tags.set(dv.getUint16(e, true), { values, at, type });
  }
  return tags;
}

/** One page of a 1 GiB (32768 × 32768 uint8) image, deflated to ~1 MB, in the payload at 0. */
const bigStrip = zlibZeros(GiB);
const bigPage: CraftPage = { width: 32768, height: 32768, compression: 8, strips: [[0, bigStrip.length]] };

describe('TIFF: the decoded total is bounded by the file and by maxBytes', () => {
  it('3 pages sharing one deflate strip of a 1 GiB image: ROMI_CORRUPT at once, no 3 GB array', async () => {
    const tif = craftTiff(bigStrip, [bigPage, bigPage, bigPage]);
    expect(tif.length).toBeLessThan(1.1 * MiB);
    expect(await expectBounded(() => readVolume(tif), 'ROMI_CORRUPT')).toMatch(/overlap/);
    await expectBounded(() => decodeTiffStack(tif), 'ROMI_CORRUPT');
  });

  it('5,000 pages sharing that strip: a typed error, never a RangeError', async () => {
    const tif = craftTiff(bigStrip, Array.from({ length: 5000 }, () => bigPage));
    expect(tif.length).toBeLessThan(2 * MiB);
    expect(await expectBounded(() => readVolume(tif), 'ROMI_CORRUPT')).toMatch(/overlap/);
  });

  it('strips that overlap within a page or across pages, fully or in part: ROMI_CORRUPT', async () => {
    const px = new Uint8Array(64).map((_, i) => i);
    const page = (strips: Array<[number, number]>): CraftPage => ({ width: 16, height: 2, rowsPerStrip: 1, strips });
    const cases: CraftPage[][] = [
      [page([[0, 16], [0, 16]])], // the same bytes twice in one page
      [page([[0, 16], [8, 16]])], // half of one strip in the next
      [page([[0, 16], [16, 16]]), page([[24, 16], [40, 16]])], // page 1 starts inside page 0's second strip
      [page([[0, 16], [16, 16]]), page([[0, 16], [16, 16]])], // two pages, one pixel block
    ];
    for (const pages of cases) {
      expect(await expectBounded(() => readVolume(craftTiff(px, pages)), 'ROMI_CORRUPT')).toMatch(/overlap/);
    }
    // the same layout without the overlap reads
    const ok = await readVolume(craftTiff(px, [page([[0, 16], [16, 16]]), page([[32, 16], [48, 16]])]));
    expect(Array.from(ok.data as Uint8Array)).toEqual(Array.from(px));
  });

  it('a deflate strip that inflates far beyond its rows is stopped at once: ROMI_CORRUPT', async () => {
    // A 64 × 64 page whose strip holds 1 GiB of zeros: inflating stops past the strip's 4 KB.
    const tif = craftTiff(bigStrip, [{ width: 64, height: 64, compression: 8, strips: [[0, bigStrip.length]] }]);
    expect(await expectBounded(() => readVolume(tif), 'ROMI_CORRUPT')).toMatch(/more than/);
  });

  it('maxBytes bounds the decoded total before allocating: ROMI_NOT_SUPPORTED, IoTooLargeError', async () => {
    const vol = ndarray('uint8', [8, 256, 256], new Uint8Array(8 * 256 * 256).map((_, i) => i % 251));
    for (const compress of [false, true]) {
      const tif = encodeTiffStack(vol, { compress });
      const read = (maxBytes: number) => readVolume(tif, { maxBytes });
      expect((await read(vol.data.length)).shape).toEqual([8, 256, 256]);
      const msg = await expectBounded(() => read(vol.data.length - 1), 'ROMI_NOT_SUPPORTED');
      expect(msg).toMatch(/maxBytes/);
      expect(await romiError(() => read(1000))).toBeInstanceOf(IoTooLargeError);
      expect(await romiError(() => decodeTiffStack(tif, 'v.tif', { maxBytes: 1000 }))).toBeInstanceOf(IoTooLargeError);
    }
    expect(DEFAULT_MAX_BYTES).toBe(2 * GiB);
    expect((await romiError(() => readVolume(encodeTiffStack(vol), { maxBytes: -1 }))).code).toBe('ROMI_INVALID_ARGUMENT');
  });

  it('distinct deflate strips may claim ~1000 times their size, and maxBytes refuses that before inflating', async () => {
    // 128 pages of 1 MiB zeros, each with its own ~1 KB strip: honest, so only maxBytes stops it.
    const piece = zlibZeros(MiB);
    const payload = new Uint8Array(128 * piece.length);
    for (let i = 0; i < 128; i++) payload.set(piece, i * piece.length);
    const pages = Array.from({ length: 128 }, (_, i): CraftPage => ({ width: 1024, height: 1024, compression: 8, strips: [[i * piece.length, piece.length]] }));
    const tif = craftTiff(payload, pages);
    expect(tif.length).toBeLessThan(200 * 1024);
    expect(await expectBounded(() => readVolume(tif, { maxBytes: 64 * MiB }), 'ROMI_NOT_SUPPORTED')).toMatch(/134217728/);
    expect((await readVolume(tif)).shape).toEqual([128, 1024, 1024]);
  });
});

describe('TIFF through libvips (LZW, tiles) and images: same bounds', () => {
  const grey = { raw: { width: 64, height: 64, channels: 1 as const } };
  const pixels = Buffer.from(new Uint8Array(64 * 64).map((_, i) => (i * 7) % 256));

  it('3 LZW pages sharing their strips: ROMI_CORRUPT, where libvips would read them', async () => {
    const lzw = new Uint8Array(await sharp(pixels, grey).toColourspace('b-w').tiff({ compression: 'lzw', predictor: 'none' }).toBuffer());
    const tags = firstIfd(lzw);
    const strips = tags.get(273)!.values.map((o, k): [number, number] => [o, tags.get(279)!.values[k]]);
    const page: CraftPage = { width: 64, height: 64, compression: 5, rowsPerStrip: tags.get(278)!.values[0], strips };
    expect((await readVolume(craftTiff(lzw, [page]))).shape).toEqual([64, 64]);
    expect(await expectBounded(() => readVolume(craftTiff(lzw, [page, page, page])), 'ROMI_CORRUPT')).toMatch(/overlap/);
    expect(await expectBounded(() => readVolume(craftTiff(lzw, [page, page]), { maxBytes: 8000 }), 'ROMI_CORRUPT')).toMatch(/overlap/);
    await expectBounded(() => readVolume(craftTiff(lzw, [page]), { maxBytes: 4095 }), 'ROMI_NOT_SUPPORTED');
  });

  it('a tiled TIFF whose tiles all point at one tile: ROMI_CORRUPT for readVolume and readImage', async () => {
    const tiled = new Uint8Array(await sharp(pixels, grey).toColourspace('b-w').tiff({ tile: true, tileWidth: 16, tileHeight: 16, compression: 'deflate' }).toBuffer());
    expect((await readVolume(tiled)).shape).toEqual([64, 64]);
    const tags = firstIfd(tiled);
    const offsets = tags.get(324)!;
    const counts = tags.get(325)!;
    expect(offsets.values.length).toBe(16);
    const bad = tiled.slice();
    const dv = new DataView(bad.buffer);
    for (let k = 0; k < 16; k++) {
      dv.setUint32(offsets.at + 4 * k, offsets.values[0], true);
      if (counts.type === 4) dv.setUint32(counts.at + 4 * k, counts.values[0], true);
      else dv.setUint16(counts.at + 2 * k, counts.values[0], true);
    }
    expect(await expectBounded(() => readVolume(bad), 'ROMI_CORRUPT')).toMatch(/overlap/);
    expect(await expectBounded(() => readImage(bad), 'ROMI_CORRUPT')).toMatch(/overlap/);
  });

  it('readImage: maxBytes bounds the pixels before libvips decodes them', async () => {
    const png = `${REAL}00000_rgb.png`;
    const img = await readImage(png);
    const size = img.width * img.height * img.channels;
    expect((await readImage(png, { maxBytes: size })).width).toBe(img.width);
    await expectBounded(() => readImage(png, { maxBytes: size - 1 }), 'ROMI_NOT_SUPPORTED');
    await expectBounded(() => readImage(`${REAL}00000_rgb.jpg`, { maxBytes: MiB }), 'ROMI_NOT_SUPPORTED');
  });
});

// --- ZIP built by hand: local records, then central directory rows that may point anywhere ---

interface CdRow {
  name: string;
  method: 0 | 8;
  csize: number;
  size: number;
  crc: number;
  /** Offset of the local header. */
  offset: number;
}

/** A local header and its data. */
function localRecord(name: string, method: 0 | 8, data: Uint8Array, size: number, crc: number): Uint8Array {
  const n = Buffer.from(name);
  const b = new Uint8Array(30 + n.length + data.length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x04034b50, true);
  dv.setUint16(4, 20, true);
  dv.setUint16(8, method, true);
  dv.setUint32(14, crc, true);
  dv.setUint32(18, data.length, true);
  dv.setUint32(22, size, true);
  dv.setUint16(26, n.length, true);
  b.set(n, 30);
  b.set(data, 30 + n.length);
  return b;
}

function craftZip(body: Uint8Array, rows: CdRow[]): Uint8Array {
  const cd = rows.map((r) => {
    const n = Buffer.from(r.name);
    const b = new Uint8Array(46 + n.length);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 0x02014b50, true);
    dv.setUint16(4, 20, true);
    dv.setUint16(6, 20, true);
    dv.setUint16(10, r.method, true);
    dv.setUint32(16, r.crc, true);
    dv.setUint32(20, r.csize, true);
    dv.setUint32(24, r.size, true);
    dv.setUint16(28, n.length, true);
    dv.setUint32(42, r.offset, true);
    b.set(n, 46);
    return b;
  });
  const cdSize = cd.reduce((s, b) => s + b.length, 0);
  const end = new Uint8Array(22);
  const dv = new DataView(end.buffer);
  dv.setUint32(0, 0x06054b50, true);
  dv.setUint16(8, rows.length, true);
  dv.setUint16(10, rows.length, true);
  dv.setUint32(12, cdSize, true);
  dv.setUint32(16, body.length, true);
  return Buffer.concat([body, ...cd, end]);
}

/** The header numpy writes before `n` uint8 values. */
function npyHead(n: number): Uint8Array {
  let h = `{'descr': '|u1', 'fortran_order': False, 'shape': (${n},), }`;
  h += ' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64) + '\n';
  const b = new Uint8Array(10 + h.length);
  b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
  b.set(Buffer.from(h, 'latin1'), 10);
  return b;
}

/** CRC-32 of `head` then `n` zero bytes, 1 MiB at a time. */
function crcOfZeros(head: Uint8Array, n: number): number {
  const crc32 = (zlib as unknown as { crc32: (d: Uint8Array, v?: number) => number }).crc32;
  let c = crc32(head);
  const zeros = new Uint8Array(MiB);
  for (let left = n; left > 0; left -= MiB) c = crc32(zeros.subarray(0, Math.min(MiB, left)), c);
  return c >>> 0;
}

describe('NPZ: the decoded total is bounded by the file and by maxBytes', () => {
  it('40 directory entries pointing at one deflate stream: ROMI_CORRUPT at once', async () => {
    // One honest 16 MiB member (deflated to ~17 KB) that 40 names share: 640 MiB from 17 KB.
    const n = 16 * MiB;
    const head = npyHead(n);
    const stream = deflatedZeros(n, head);
    const crc = crcOfZeros(head, n);
    const body = localRecord('a0.npy', 8, stream, head.length + n, crc);
    const rows = Array.from({ length: 40 }, (_, i): CdRow => ({ name: `a${i}.npy`, method: 8, csize: stream.length, size: head.length + n, crc, offset: 0 }));
    expect((await readNpz(craftZip(body, rows.slice(0, 1)))).a0.shape).toEqual([n]);
    const npz = craftZip(body, rows);
    expect(npz.length).toBeLessThan(64 * 1024);
    expect(await expectBounded(() => readNpz(npz), 'ROMI_CORRUPT')).toMatch(/overlap/);
    await expectBounded(() => decodeVolume(npz), 'ROMI_CORRUPT');
  });

  it("a member whose local header lies inside another member's data: ROMI_CORRUPT", async () => {
    // Member a (stored) carries a whole second member in its array data; b's row points there.
    const bNpy = encodeNpy(ndarray('uint8', [4], new Uint8Array([1, 2, 3, 4])));
    const bCrc = crcOfZeros(bNpy, 0);
    const inner = localRecord('b.npy', 0, bNpy, bNpy.length, bCrc);
    const aNpy = encodeNpy(ndarray('uint8', [inner.length], inner));
    const aRec = localRecord('a.npy', 0, aNpy, aNpy.length, crcOfZeros(aNpy, 0));
    const innerAt = 30 + 5 + (aNpy.length - inner.length);
    const rows: CdRow[] = [
      { name: 'a.npy', method: 0, csize: aNpy.length, size: aNpy.length, crc: crcOfZeros(aNpy, 0), offset: 0 },
      { name: 'b.npy', method: 0, csize: bNpy.length, size: bNpy.length, crc: bCrc, offset: innerAt },
    ];
    expect(Object.keys(await readNpz(craftZip(aRec, rows.slice(0, 1))))).toEqual(['a']);
    expect(await expectBounded(() => readNpz(craftZip(aRec, rows)), 'ROMI_CORRUPT')).toMatch(/overlap/);
  });

  it('a member that inflates to more than it claims is stopped at once: ROMI_CORRUPT', async () => {
    // The directory claims a 16-byte array (CRC right for it); the stream goes on for 1 GiB.
    const head = npyHead(16);
    const stream = deflatedZeros(GiB, head);
    const size = head.length + 16;
    const crc = crcOfZeros(head, 16);
    const npz = craftZip(localRecord('a.npy', 8, stream, size, crc), [{ name: 'a.npy', method: 8, csize: stream.length, size, crc, offset: 0 }]);
    expect(await expectBounded(() => readNpz(npz), 'ROMI_CORRUPT')).toMatch(/more than/);
  });

  it('maxBytes bounds the total the directory claims, before inflating: ROMI_NOT_SUPPORTED', async () => {
    const arrays = { a: ndarray('float64', [64, 64]), b: ndarray('uint8', [100_000]), c: ndarray('int16', [3]) };
    for (const compress of [true, false]) {
      const npz = encodeNpz(arrays, { compress });
      const total = 64 * 64 * 8 + 100_000 + 6;
      // the bound counts the members' bytes (arrays and their .npy headers)
      expect(Object.keys(await readNpz(npz, { maxBytes: total + 3 * 128 }))).toEqual(['a', 'b', 'c']);
      const msg = await expectBounded(() => readNpz(npz, { maxBytes: total }), 'ROMI_NOT_SUPPORTED');
      expect(msg).toMatch(/maxBytes/);
      expect(await romiError(() => decodeNpz(npz, 'x.npz', { maxBytes: 1000 }))).toBeInstanceOf(IoTooLargeError);
      await expectBounded(() => readVolume(npz, { maxBytes: 1000 }), 'ROMI_NOT_SUPPORTED');
    }
  });
});

describe('legitimate files read within their bounds', () => {
  /** The fixtures read with maxBytes = what they decode to, and fail with one byte less. */
  async function exactBound(path: string, read: (s: Source, o: { maxBytes: number }) => Promise<unknown>, size: (v: never) => number) {
    const v = await read(path, { maxBytes: DEFAULT_MAX_BYTES });
    const n = size(v as never);
    expect(await read(path, { maxBytes: n })).toBeDefined();
    expect((await romiError(() => read(path, { maxBytes: n - 1 }))).code).toBe('ROMI_NOT_SUPPORTED');
  }
  const arrayBytes = (a: { data: ArrayBufferView }) => a.data.byteLength;

  it('every TIFF and NPY fixture', async () => {
    const files = readdirSync(NUMPY).filter((f) => /\.(tif|npy)$/.test(f) && !f.includes('truncated') && !f.startsWith('empty'));
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) {
      if (f.endsWith('.tif')) await exactBound(NUMPY + f, readVolume, arrayBytes);
      else await exactBound(NUMPY + f, readNpy, arrayBytes);
    }
  });

  it('the NPZ fixtures, bounded by their members', async () => {
    for (const f of ['vol_arr_0.npz', 'compressed.npz', 'stored.npz']) {
      const all = await readNpz(NUMPY + f);
      expect(Object.keys(all).length).toBeGreaterThan(0);
      const members = fixture(`numpy/${f}`);
      // Each member is its array plus a .npy header of 64 to 128 bytes.
      const data = Object.values(all).reduce((s, a) => s + a.data.byteLength, 0);
      expect((await romiError(() => readNpz(members, { maxBytes: data }))).code).toBe('ROMI_NOT_SUPPORTED');
      expect(Object.keys(await readNpz(members, { maxBytes: data + 128 * Object.keys(all).length }))).toEqual(Object.keys(all));
    }
  });

  it('the real images', async () => {
    for (const f of ['00000_leaf.png', '00000_rgb.jpg', '00000_rgb.png', '00001_rgb.jpg', 'palette_arabi.png']) {
      await exactBound(REAL + f, readImage, (img: { data: ArrayBufferView }) => img.data.byteLength);
    }
  });
});
