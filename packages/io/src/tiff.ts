import { zlibSync } from 'fflate';
import { InvalidArgumentError } from '@romi/db-core';
import { IoCorruptError, IoNotSupportedError } from './errors.js';
import {
  MAX_DEFLATE_RATIO,
  MAX_LZW_RATIO,
  MAX_PACKBITS_RATIO,
  allocate,
  checkMaxBytes,
  inflateBounded,
  maxBytesOf,
  refuseOverlaps,
  type DecodeOptions,
  type Span,
} from './limits.js';
import { DTYPES, LITTLE_ENDIAN_HOST, bytesOf, checkNDArray, shapeSize, swapBytes, type DType, type NDArray } from './ndarray.js';
import { BYTES_NAME } from './source.js';

// A baseline TIFF codec for n-d arrays, in the layout tifffile uses for volumes: one page per
// index of the leading axes, each page one strip of shape[-2] rows × shape[-1] columns with one
// sample per pixel, and a JSON ImageDescription {"shape": [...]} on the first page that tells
// tifffile (and us) the full shape. Float and 64-bit pages are what sharp cannot do.
// Spec: TIFF 6.0 (Adobe, 1992); BigTIFF is read too.

const FORMAT = 'TIFF';

const T = {
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  ImageDescription: 270,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  XResolution: 282,
  YResolution: 283,
  PlanarConfiguration: 284,
  ResolutionUnit: 296,
  Software: 305,
  Predictor: 317,
  TileWidth: 322,
  TileOffsets: 324,
  TileByteCounts: 325,
  SampleFormat: 339,
} as const;

const SAMPLE_FORMAT: Record<DType, [number, number] | undefined> = {
  bool: undefined,
  uint8: [1, 8],
  int8: [2, 8],
  uint16: [1, 16],
  int16: [2, 16],
  uint32: [1, 32],
  int32: [2, 32],
  uint64: [1, 64],
  int64: [2, 64],
  float32: [3, 32],
  float64: [3, 64],
};

function dtypeOf(sampleFormat: number, bits: number): DType | undefined {
  for (const [d, sf] of Object.entries(SAMPLE_FORMAT)) if (sf && sf[0] === sampleFormat && sf[1] === bits) return d as DType;
  return undefined;
}

export function isTiff(b: Uint8Array): boolean {
  if (b.length < 4) return false;
  const ii = b[0] === 0x49 && b[1] === 0x49 && (b[2] === 42 || b[2] === 43) && b[3] === 0;
  const mm = b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 42 || b[3] === 43);
  return ii || mm;
}

export interface TiffEncodeOptions {
  /** Deflate (zlib) each page, Compression=8; default false (uncompressed, like plantdb without imagecodecs). */
  compress?: boolean;
}

/** Encodes an array of 2 or more dimensions as a little-endian multi-page TIFF. */
export function encodeTiffStack(arr: NDArray, opts: TiffEncodeOptions = {}): Uint8Array {
  checkNDArray(arr);
  const sf = SAMPLE_FORMAT[arr.dtype];
  if (!sf) throw new IoNotSupportedError('.tiff', FORMAT, `dtype ${arr.dtype} cannot be written to TIFF; use npz`);
  if (arr.shape.length < 2) throw new InvalidArgumentError(`a TIFF stack needs 2 or more dimensions, got shape ${JSON.stringify(arr.shape)}`);
  const h = arr.shape[arr.shape.length - 2];
  const w = arr.shape[arr.shape.length - 1];
  const pages = shapeSize(arr.shape.slice(0, -2));
  if (h === 0 || w === 0 || pages === 0) throw new InvalidArgumentError('TIFF cannot hold an empty array; use npz');
  if (w > 0xffffffff || h > 0xffffffff) throw new InvalidArgumentError('page too large for TIFF');
  const itemSize = DTYPES[arr.dtype].size;
  const pageBytes = w * h * itemSize;
  const data = bytesOf(arr.data);
  const strips: Uint8Array[] = [];
  for (let p = 0; p < pages; p++) {
    const raw = data.subarray(p * pageBytes, (p + 1) * pageBytes);
    strips.push(opts.compress ? zlibSync(raw, { level: 6 }) : raw);
  }
  const description = new TextEncoder().encode(`${JSON.stringify({ shape: arr.shape }).replace(/,/g, ', ').replace(/:/g, ': ')}\0`);
  const software = new TextEncoder().encode('romidb @romi/io\0');
  type Entry = [tag: number, type: number, values: number[] | Uint8Array];
  const ifds: Entry[][] = [];
  for (let p = 0; p < pages; p++) {
    const e: Entry[] = [
      [T.ImageWidth, 4, [w]],
      [T.ImageLength, 4, [h]],
      [T.BitsPerSample, 3, [sf[1]]],
      [T.Compression, 3, [opts.compress ? 8 : 1]],
      [T.Photometric, 3, [1]],
    ];
    if (p === 0) e.push([T.ImageDescription, 2, description]);
    e.push(
      [T.StripOffsets, 4, [0]],
      [T.SamplesPerPixel, 3, [1]],
      [T.RowsPerStrip, 4, [h]],
      [T.StripByteCounts, 4, [strips[p].length]],
      [T.XResolution, 5, [1, 1]],
      [T.YResolution, 5, [1, 1]],
      [T.ResolutionUnit, 3, [1]],
    );
    if (p === 0) e.push([T.Software, 2, software]);
    e.push([T.SampleFormat, 3, [sf[0]]]);
    ifds.push(e);
  }
  const typeSize: Record<number, number> = { 2: 1, 3: 2, 4: 4, 5: 8 };
  const extraSize = (e: Entry[]) =>
    e.reduce((n, [, type, v]) => {
      const size = typeSize[type] * (type === 5 ? v.length / 2 : v.length);
      return n + (size > 4 ? size + (size & 1) : 0);
    }, 0);
  // Layout as tifffile's: header | IFD 0 | all strips, back to back | IFDs 1..n. tifffile reads a
  // shaped series whose first page is contiguous as one block, so the strips must be adjacent.
  const ifdSize = (e: Entry[]) => 2 + e.length * 12 + 4 + extraSize(e);
  const layout: Array<{ ifd: number; extra: number; strip: number }> = [];
  const firstStrip = align8(8 + ifdSize(ifds[0]));
  let total = firstStrip;
  for (const s of strips) total += s.length;
  let stripAt = firstStrip;
  ifds.forEach((e, p) => {
    const ifd = p === 0 ? 8 : align2(total);
    if (p > 0) total = ifd + ifdSize(e);
    layout.push({ ifd, extra: ifd + 2 + e.length * 12 + 4, strip: stripAt });
    stripAt += strips[p].length;
  });
  if (total > 0xffffffff) throw new IoNotSupportedError('.tiff', FORMAT, 'the volume needs more than 4 GB; use npz');
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  dv.setUint32(4, layout[0].ifd, true);
  ifds.forEach((entries, p) => {
    const { ifd, strip } = layout[p];
    let extra = layout[p].extra;
    dv.setUint16(ifd, entries.length, true);
    entries.forEach(([tag, type, values], k) => {
      const at = ifd + 2 + k * 12;
      const count = type === 5 ? values.length / 2 : values.length;
      dv.setUint16(at, tag, true);
      dv.setUint16(at + 2, type, true);
      dv.setUint32(at + 4, count, true);
      const size = typeSize[type] * count;
      let v = at + 8;
      if (size > 4) {
        dv.setUint32(at + 8, extra, true);
        v = extra;
        extra += size + (size & 1);
      }
      if (tag === T.StripOffsets) {
        dv.setUint32(v, strip, true);
        return;
      }
      for (let i = 0; i < values.length; i++) {
        if (type === 2) out[v + i] = values[i];
        else if (type === 3) dv.setUint16(v + 2 * i, values[i], true);
        else dv.setUint32(v + 4 * i, values[i], true);
      }
    });
    dv.setUint32(ifd + 2 + entries.length * 12, p + 1 < pages ? layout[p + 1].ifd : 0, true);
    out.set(strips[p], strip);
  });
  return out;
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;
const align2 = (n: number) => n + (n & 1);

interface Page {
  width: number;
  height: number;
  bits: number;
  /** Samples of one pixel have different BitsPerSample or SampleFormat values. */
  mixed: boolean;
  samples: number;
  sampleFormat: number;
  compression: number;
  predictor: number;
  planar: number;
  photometric: number;
  rowsPerStrip: number;
  /** Where the page's strips (its tiles, for a tiled page) lie in the file. */
  offsets: number[];
  byteCounts: number[];
  description?: string;
  tiled: boolean;
}

/** A TIFF outside what decodeTiffStack does (tiles, LZW, JPEG...); readVolume then asks libvips. */
export class TiffFallback extends IoNotSupportedError {}

/**
 * Decodes every page of a TIFF into one array: pages of equal size and type, in order. The shape
 * comes from tifffile's JSON description when it fits the data, else [pages, height, width(, samples)].
 * Strips may not share bytes, each page must fit in its strips at the codec's ratio, and the total
 * must fit in `maxBytes`, all before the output is allocated.
 * Throws TiffFallback for tiled or JPEG/LZW-style compressed files that libvips may still read.
 */
export function decodeTiffStack(bytes: Uint8Array, name = BYTES_NAME, opts: DecodeOptions = {}): NDArray {
  const maxBytes = maxBytesOf(opts);
  const corrupt = (d: string) => new IoCorruptError(name, FORMAT, d);
  const { pages, le } = readPages(bytes, name);
  checkBlocks(pages, bytes.length, corrupt);
  const p0 = pages[0];
  for (const [i, p] of pages.entries()) {
    if (p.width !== p0.width || p.height !== p0.height || p.bits !== p0.bits || p.samples !== p0.samples || p.sampleFormat !== p0.sampleFormat || p.planar !== p0.planar) {
      throw new IoNotSupportedError(name, FORMAT, `page ${i} differs from page 0 in size or sample type; not a volume`);
    }
    if (p.mixed) throw new IoNotSupportedError(name, FORMAT, 'samples of different types in one pixel');
  }
  const dtype = dtypeOf(p0.sampleFormat, p0.bits);
  if (!dtype) throw new IoNotSupportedError(name, FORMAT, `samples of ${p0.bits} bits, format ${p0.sampleFormat}, are not supported`);
  if (p0.width === 0 || p0.height === 0 || p0.samples === 0) throw corrupt('page of size zero');
  if (pages.some((p) => p.tiled) || ![1, 8, 32946, 32773].includes(p0.compression) || pages.some((p) => p.compression !== p0.compression)) {
    throw new TiffFallback(name, FORMAT, `compression ${p0.compression}${pages.some((p) => p.tiled) ? ' with tiles' : ''} is not supported here`);
  }
  if (p0.predictor !== 1 && !(p0.predictor === 2 && DTYPES[dtype].kind !== 'f')) {
    throw new IoNotSupportedError(name, FORMAT, `predictor ${p0.predictor} is not supported`);
  }
  const item = DTYPES[dtype].size;
  const rowBytes = p0.width * (p0.planar === 2 ? 1 : p0.samples) * item;
  const planes = p0.planar === 2 ? p0.samples : 1;
  const stripsPerPlane = Math.ceil(p0.height / p0.rowsPerStrip);
  const pageBytes = rowBytes * p0.height * planes;
  for (const [i, p] of pages.entries()) {
    if (p.offsets.length !== stripsPerPlane * planes) {
      throw corrupt(`page ${i}: ${p.offsets.length} strips, expected ${stripsPerPlane * planes}`);
    }
    checkExpansion(p, i, pageBytes, corrupt);
  }
  const total = pageBytes * pages.length;
  const what = `${pages.length} page(s) of ${pageBytes} bytes`;
  checkMaxBytes(total, maxBytes, name, FORMAT, what);
  const out = allocate(total, maxBytes, name, FORMAT, what);
  for (const [i, p] of pages.entries()) {
    let o = i * pageBytes;
    for (let k = 0; k < p.offsets.length; k++) {
      const rows = Math.min(p.rowsPerStrip, p0.height - (k % stripsPerPlane) * p.rowsPerStrip);
      const want = rows * rowBytes;
      const raw = bytes.subarray(p.offsets[k], p.offsets[k] + p.byteCounts[k]);
      let strip: Uint8Array;
      if (p.compression === 1) strip = raw.subarray(0, want);
      else if (p.compression === 32773) strip = unpackBits(raw, want, () => corrupt(`page ${i} strip ${k}: bad PackBits data`));
      // A last strip may be padded to full rows; more than that is a lie, and inflating stops there.
      else strip = inflateBounded(raw, p.rowsPerStrip * rowBytes, true, name, FORMAT, `page ${i} strip ${k}`);
      if (strip.length < want) throw corrupt(`page ${i} strip ${k}: ${strip.length} bytes, expected ${want}`);
      out.set(strip.subarray(0, want), o);
      if (p.predictor === 2) undoHorizontalPredictor(out.subarray(o, o + want), rows, rowBytes, item, rowBytes / item / p0.width, le);
      o += want;
    }
  }
  if (le !== LITTLE_ENDIAN_HOST) swapBytes(out, item);
  const data = new DTYPES[dtype].ctor(out.buffer, 0, total / item);
  const pageShape = p0.samples === 1 ? [p0.height, p0.width] : p0.planar === 2 ? [p0.samples, p0.height, p0.width] : [p0.height, p0.width, p0.samples];
  let shape = pages.length > 1 ? [pages.length, ...pageShape] : pageShape;
  const described = shapeFromDescription(p0.description);
  if (described && shapeSize(described) === data.length) shape = described;
  else if (described && shapeSize(described) > data.length && pages.length === 1) {
    // tifffile's truncate=True: one IFD for a whole series. Refuse rather than return one page.
    throw new IoNotSupportedError(name, FORMAT, `a truncated tifffile series (shape ${JSON.stringify(described)} in one page)`);
  }
  return { dtype, shape, data };
}

/**
 * The checks decodeTiffStack makes, for a TIFF that libvips is to decode (LZW, JPEG, tiles, or
 * any image): strips and tiles disjoint and able to hold their pages, and the first `pages` pages
 * (all by default) decoding to at most `maxBytes` as libvips gives them (palette as RGB).
 */
export function checkTiffForLibvips(bytes: Uint8Array, name: string, maxBytes: number, pages?: number): void {
  const corrupt = (d: string) => new IoCorruptError(name, FORMAT, d);
  const all = readPages(bytes, name).pages;
  checkBlocks(all, bytes.length, corrupt);
  let total = 0;
  all.slice(0, pages).forEach((p, i) => {
    checkExpansion(p, i, Math.ceil((p.width * p.samples * p.bits) / 8) * p.height, corrupt);
    total += p.width * p.height * (p.photometric === 3 ? 3 : p.samples) * Math.ceil(Math.max(p.bits, 8) / 8);
  });
  checkMaxBytes(total, maxBytes, name, FORMAT, pages === 1 ? 'the first page' : `${all.length} page(s)`);
}

/** Walks the IFD chain: each page's tags, every offset and count checked against the file. */
function readPages(bytes: Uint8Array, name: string): { pages: Page[]; le: boolean } {
  const corrupt = (d: string) => new IoCorruptError(name, FORMAT, d);
  if (bytes.length === 0) throw corrupt('empty file');
  if (!isTiff(bytes)) throw corrupt('not a TIFF file (bad signature)');
  const le = bytes[0] === 0x49;
  const big = (le ? bytes[2] : bytes[3]) === 43;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  const u16 = (o: number) => dv.getUint16(o, le);
  const u32 = (o: number) => dv.getUint32(o, le);
  const u64 = (o: number) => {
    const v = dv.getBigUint64(o, le);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt('offset out of range');
    return Number(v);
  };
  const need = (o: number, len: number, what: string) => {
    if (o < 0 || o + len > n) throw corrupt(`${what} lies outside the file`);
  };
  let ifd: number;
  if (big) {
    need(0, 16, 'BigTIFF header');
    if (u16(4) !== 8) throw corrupt('unsupported BigTIFF offset size');
    ifd = u64(8);
  } else {
    need(0, 8, 'header');
    ifd = u32(4);
  }
  const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };
  const pages: Page[] = [];
  const seen = new Set<number>();
  const entrySize = big ? 20 : 12;
  // Legit files never reuse bytes across IFDs, so the entries and values read stay below the file
  // size; overlapping IFDs crafted to make the walk quadratic run out of this budget instead.
  let budget = 2 * n + 1024;
  const spend = (k: number) => {
    budget -= k;
    if (budget < 0) throw corrupt('IFD structure larger than the file (overlapping IFDs?)');
  };
  while (ifd !== 0) {
    if (seen.has(ifd)) throw corrupt('IFD chain loops');
    seen.add(ifd);
    need(ifd, big ? 8 : 2, 'IFD');
    const count = big ? u64(ifd) : u16(ifd);
    const first = ifd + (big ? 8 : 2);
    need(first, count * entrySize + (big ? 8 : 4), 'IFD entries');
    spend(count + 1);
    const tags = new Map<number, { type: number; count: number; at: number }>();
    for (let k = 0; k < count; k++) {
      const e = first + k * entrySize;
      const tag = u16(e);
      const type = u16(e + 2);
      const cnt = big ? u64(e + 4) : u32(e + 4);
      const size = (TYPE_SIZE[type] ?? 0) * cnt;
      const inline = big ? 8 : 4;
      const at = size <= inline ? e + (big ? 12 : 8) : big ? u64(e + 12) : u32(e + 8);
      if (TYPE_SIZE[type]) need(at, size, `tag ${tag}`);
      tags.set(tag, { type, count: cnt, at });
    }
    const values = (tag: number): number[] | undefined => {
      const t = tags.get(tag);
      if (!t) return undefined;
      spend(t.count);
      const out: number[] = [];
      for (let i = 0; i < t.count; i++) {
        switch (t.type) {
          case 1:
          case 7:
            out.push(bytes[t.at + i]);
            break;
          case 3:
            out.push(u16(t.at + 2 * i));
            break;
          case 4:
          case 13:
            out.push(u32(t.at + 4 * i));
            break;
          case 16:
          case 18:
            out.push(u64(t.at + 8 * i));
            break;
          default:
            throw corrupt(`tag ${tag} has type ${t.type}, expected an unsigned integer`);
        }
      }
      return out;
    };
    const one = (tag: number, fallback?: number): number => {
      const v = values(tag);
      if (v === undefined || v.length === 0) {
        if (fallback === undefined) throw corrupt(`page ${pages.length} lacks tag ${tag}`);
        return fallback;
      }
      return v[0];
    };
    const bitsAll = values(T.BitsPerSample) ?? [1];
    const sfAll = values(T.SampleFormat) ?? [1];
    let description: string | undefined;
    const d = tags.get(T.ImageDescription);
    if (d && d.type === 2 && d.count < 1 << 20) {
      description = String.fromCharCode(...bytes.subarray(d.at, d.at + Math.min(d.count, 4096))).replace(/\0.*$/s, '');
    }
    const height = one(T.ImageLength);
    const tiled = tags.has(T.TileWidth);
    pages.push({
      width: one(T.ImageWidth),
      height,
      bits: bitsAll.reduce((a, b) => Math.max(a, b), 0),
      mixed: !bitsAll.every((b) => b === bitsAll[0]) || !sfAll.every((s) => s === sfAll[0]),
      samples: one(T.SamplesPerPixel, 1),
      sampleFormat: sfAll[0],
      compression: one(T.Compression, 1),
      predictor: one(T.Predictor, 1),
      planar: one(T.PlanarConfiguration, 1),
      photometric: one(T.Photometric, 1),
      rowsPerStrip: Math.min(one(T.RowsPerStrip, height), height) || height,
      offsets: values(tiled ? T.TileOffsets : T.StripOffsets) ?? [],
      byteCounts: values(tiled ? T.TileByteCounts : T.StripByteCounts) ?? [],
      description,
      tiled,
    });
    const next = first + count * entrySize;
    ifd = big ? u64(next) : u32(next);
  }
  if (pages.length === 0) throw corrupt('no pages');
  return { pages, le };
}

/**
 * Refuses strips or tiles that lie outside the file or share bytes with another one, of the same
 * page or any other. With blocks disjoint, all pages together decode to at most the file size
 * (uncompressed), or the codec's ratio times it: the per-page checks then bound the total.
 */
function checkBlocks(pages: Page[], fileSize: number, corrupt: (d: string) => Error): void {
  const blocks: Span[] = [];
  pages.forEach((p, i) => {
    const kind = p.tiled ? 'tile' : 'strip';
    if (p.byteCounts.length !== p.offsets.length) throw corrupt(`page ${i}: ${p.offsets.length} ${kind} offsets, ${p.byteCounts.length} byte counts`);
    p.offsets.forEach((start, k) => {
      const end = start + p.byteCounts[k];
      if (end > fileSize) throw corrupt(`page ${i} ${kind} ${k} lies outside the file`);
      blocks.push({ start, end, what: `page ${i} ${kind} ${k}` });
    });
  });
  refuseOverlaps(blocks, corrupt);
}

/** The most bytes one stored byte gives, per TIFF compression; undefined where no bound is known (JPEG, ZSTD...). */
function expansionRatio(compression: number): number | undefined {
  if (compression === 1) return 1;
  if (compression === 32773) return MAX_PACKBITS_RATIO;
  if (compression === 8 || compression === 32946) return MAX_DEFLATE_RATIO;
  if (compression === 5) return MAX_LZW_RATIO;
  return undefined;
}

/** Refuses a page whose strips or tiles cannot hold the `bytes` it claims, at its codec's ratio. */
function checkExpansion(p: Page, i: number, bytes: number, corrupt: (d: string) => Error): void {
  const ratio = expansionRatio(p.compression);
  if (ratio === undefined) return;
  // a few bytes of slack per compressed block: its own header and end codes
  const avail = p.byteCounts.reduce((sum, c) => sum + c * ratio + (ratio > 1 ? 64 : 0), 0);
  if (avail < bytes) throw corrupt(`page ${i}: ${bytes} bytes of pixels claimed, the ${p.tiled ? 'tiles' : 'strips'} hold less`);
}

function shapeFromDescription(desc: string | undefined): number[] | undefined {
  if (!desc || !desc.startsWith('{')) return undefined;
  try {
    const j = JSON.parse(desc) as { shape?: unknown };
    if (Array.isArray(j.shape) && j.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return j.shape as number[];
  } catch {
    // not tifffile's JSON: keep the shape from the pages
  }
  return undefined;
}

function unpackBits(src: Uint8Array, want: number, bad: () => Error): Uint8Array {
  const out = new Uint8Array(want);
  let i = 0;
  let o = 0;
  while (o < want && i < src.length) {
    const c = (src[i++] << 24) >> 24;
    if (c >= 0) {
      const len = c + 1;
      if (i + len > src.length || o + len > want) throw bad();
      out.set(src.subarray(i, i + len), o);
      i += len;
      o += len;
    } else if (c !== -128) {
      const len = 1 - c;
      if (i >= src.length || o + len > want) throw bad();
      out.fill(src[i++], o, o + len);
      o += len;
    }
  }
  return out.subarray(0, o);
}

/** Predictor 2: each sample was stored as the difference from the one to its left. */
function undoHorizontalPredictor(b: Uint8Array, rows: number, rowBytes: number, item: number, spp: number, le: boolean): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const perRow = rowBytes / item;
  for (let r = 0; r < rows; r++) {
    const base = r * rowBytes;
    for (let i = spp; i < perRow; i++) {
      const a = base + i * item;
      const prev = a - spp * item;
      if (item === 1) b[a] = (b[a] + b[prev]) & 0xff;
      else if (item === 2) dv.setUint16(a, (dv.getUint16(a, le) + dv.getUint16(prev, le)) & 0xffff, le);
      else if (item === 4) dv.setUint32(a, (dv.getUint32(a, le) + dv.getUint32(prev, le)) >>> 0, le);
      else dv.setBigUint64(a, BigInt.asUintN(64, dv.getBigUint64(a, le) + dv.getBigUint64(prev, le)), le);
    }
  }
}
