import sharp from 'sharp';
import { InvalidArgumentError, type File } from '@romi/db-core';
import { IoCorruptError, IoNotSupportedError } from './errors.js';
import { MAX_DEFLATE_RATIO, checkMaxBytes, maxBytesOf, type DecodeOptions } from './limits.js';
import { BYTES_NAME, loadSource, normalizeExt, saveToFile, type ArrayReadOptions, type Source, type WriteOptions } from './source.js';
import { checkTiffForLibvips } from './tiff.js';

/** Row-major pixels with interleaved channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
export interface Image {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

export type ImageFormat = 'png' | 'jpeg' | 'tiff' | 'webp';

export interface ImageEncodeOptions {
  /** JPEG and lossy WebP quality, 1-100. JPEG default 75 (Pillow's, which the Python tools use). */
  quality?: number;
  /** WebP only: lossless (the default unless a quality is given). */
  lossless?: boolean;
  /** PNG zlib level 0-9 (default 6, as libpng and Pillow). */
  compressionLevel?: number;
}
export interface ImageWriteOptions extends ImageEncodeOptions, WriteOptions {}

const FORMAT = 'image';
const EXT_FORMAT: Record<string, ImageFormat> = {
  png: 'png',
  jpg: 'jpeg',
  jpeg: 'jpeg',
  tif: 'tiff',
  tiff: 'tiff',
  webp: 'webp',
};

/** The format of encoded image bytes, from their signature; undefined when unknown. */
export function sniffImage(b: Uint8Array): ImageFormat | 'gif' | 'bmp' | undefined {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 42 && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 42))) {
    return 'tiff';
  }
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && ascii(b, 0, 4) === 'GIF8') return 'gif';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  return undefined;
}

function ascii(b: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...b.subarray(from, to));
}

/**
 * Decodes PNG, JPEG, TIFF (first page), WebP (and GIF) by content, whatever the file is named.
 * 16-bit PNG and TIFF come back as Uint16Array; everything else as Uint8Array. The pixels must fit
 * in `maxBytes` (checked from the header, before libvips decodes them).
 */
export async function decodeImage(bytes: Uint8Array, name = BYTES_NAME, opts: DecodeOptions = {}): Promise<Image> {
  const { data, width, height, channels } = await decodeWithSharp(bytes, name, false, opts);
  return { data, width, height, channels };
}

/**
 * The libvips decode behind decodeImage; with `allPages` the pages of a multi-page file are
 * stacked vertically (height = pages × pageHeight).
 */
export async function decodeWithSharp(
  bytes: Uint8Array,
  name: string,
  allPages: boolean,
  opts: DecodeOptions = {},
): Promise<Image & { pages: number; pageHeight: number }> {
  const maxBytes = maxBytesOf(opts);
  if (bytes.length === 0) throw new IoCorruptError(name, FORMAT, 'empty file');
  const kind = sniffImage(bytes);
  if (kind === undefined) throw new IoCorruptError(name, FORMAT, 'not a PNG, JPEG, TIFF or WebP image (unknown signature)');
  if (kind === 'bmp') throw new IoNotSupportedError(name, FORMAT, 'BMP images are not supported');
  try {
    // Strips and tiles that share bytes, or pages beyond maxBytes, are refused before libvips runs.
    if (kind === 'tiff') checkTiffForLibvips(bytes, name, maxBytes, allPages ? undefined : 1);
    // failOn 'error': a truncated or damaged file throws instead of decoding to grey pixels.
    const input = sharp(bytes, { failOn: 'error', pages: allPages ? -1 : 1 });
    // PNG and JPEG headers say all we need; other formats cost a libvips header read.
    const quick = allPages ? undefined : headerInfo(bytes, kind);
    let pages = 1;
    let pageHeight = 0;
    let wide: boolean;
    let grey: boolean;
    let ch: number;
    let width: number;
    if (quick) ({ wide, grey, channels: ch, width, height: pageHeight } = quick);
    else {
      const meta = await input.metadata();
      pages = allPages ? (meta.pages ?? 1) : 1;
      pageHeight = allPages ? (meta.pageHeight ?? meta.height ?? 0) : (meta.height ?? 0);
      width = meta.width ?? 0;
      wide = meta.depth === 'ushort' || meta.depth === 'short';
      if (!wide && meta.depth !== 'uchar' && meta.depth !== 'char') {
        throw new IoNotSupportedError(name, FORMAT, `${meta.depth} samples are not supported (read float TIFFs with readVolume)`);
      }
      grey = meta.space === 'b-w' || meta.space === 'grey16';
      ch = meta.channels ?? 0;
    }
    const what = `${pages > 1 ? `${pages} pages of ` : ''}${width}×${pageHeight} pixels of ${ch} channel(s)`;
    // A PNG's pixels come out of one deflate stream: at most 1032 bytes, of 8 one-bit pixels each, per byte of file.
    if (kind === 'png' && width * pageHeight > bytes.length * MAX_DEFLATE_RATIO * 8 + 1024) {
      throw new IoCorruptError(name, FORMAT, `${what} claimed in ${bytes.length} bytes, more than deflate can hold`);
    }
    checkMaxBytes(width * pageHeight * pages * ch * (wide ? 2 : 1), maxBytes, name, FORMAT, what);
    const done = (data: Buffer | Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4) => ({
      ...make(data, width, height, channels, wide),
      pages,
      pageHeight: pageHeight || height,
    });
    if (grey && ch === 1) {
      // libvips would turn grey into sRGB on output; asking for grey keeps one channel.
      const { data, info } = await input
        .toColourspace(wide ? 'grey16' : 'b-w')
        .raw(wide ? { depth: 'ushort' } : {})
        .toBuffer({ resolveWithObject: true });
      return done(data, info.width, info.height, 1);
    }
    if (grey && ch === 2 && wide) {
      const { data, info } = await input.toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
      return done(data, info.width, info.height, 2);
    }
    if (grey && ch === 2) {
      // 8-bit grey+alpha: libvips keeps alpha only through sRGB; the grey value is copied to R=G=B.
      const { data, info } = await input.toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== 4) throw new Error(`expected RGBA, got ${info.channels} channels`);
      const n = info.width * info.height;
      const out = new Uint8Array(n * 2);
      for (let i = 0; i < n; i++) {
        out[2 * i] = data[4 * i];
        out[2 * i + 1] = data[4 * i + 3];
      }
      return done(out, info.width, info.height, 2);
    }
    let pipeline = input;
    if (wide) pipeline = pipeline.toColourspace('rgb16');
    const { data, info } = await pipeline.raw(wide ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
    if (info.channels < 1 || info.channels > 4) {
      throw new IoNotSupportedError(name, FORMAT, `${info.channels} channels are not supported`);
    }
    return done(data, info.width, info.height, info.channels as 1 | 2 | 3 | 4);
  } catch (err) {
    if (err instanceof IoNotSupportedError || err instanceof IoCorruptError) throw err;
    throw new IoCorruptError(name, FORMAT, `cannot decode ${kind}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Bit depth and colour type from a PNG's IHDR (and tRNS) or a JPEG's SOF marker, or undefined
 * when the header is not the plain kind this reads (then libvips is asked).
 */
function headerInfo(
  b: Uint8Array,
  kind: string,
): { wide: boolean; grey: boolean; channels: number; width: number; height: number } | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (kind === 'png') {
    if (b.length < 33 || String.fromCharCode(...b.subarray(12, 16)) !== 'IHDR') return undefined;
    const depth = b[24];
    const type = b[25];
    let trns = false;
    // Walk the chunks before the pixel data for a tRNS (transparency makes an alpha channel).
    for (let p = 8; p + 8 <= b.length; ) {
      const len = dv.getUint32(p);
      const t = String.fromCharCode(...b.subarray(p + 4, p + 8));
      if (t === 'IDAT' || t === 'IEND') break;
      if (t === 'tRNS') trns = true;
      p += 12 + len;
    }
    const base: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };
    if (!(type in base) || ![1, 2, 4, 8, 16].includes(depth)) return undefined;
    const channels = base[type] + (trns && (type === 0 || type === 2) ? 1 : 0);
    return { wide: depth === 16, grey: type === 0 || type === 4, channels, width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (kind === 'jpeg') {
    for (let p = 2; p + 9 < b.length; ) {
      if (b[p] !== 0xff) return undefined;
      const m = b[p + 1];
      if (m === 0xff) {
        p++;
        continue;
      }
      // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC): precision, size, component count.
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        const comps = b[p + 9];
        if (b[p + 4] !== 8 || (comps !== 1 && comps !== 3)) return undefined;
        return { wide: false, grey: comps === 1, channels: comps, width: dv.getUint16(p + 7), height: dv.getUint16(p + 5) };
      }
      if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) {
        p += 2;
        continue;
      }
      p += 2 + dv.getUint16(p + 2);
    }
  }
  return undefined;
}

function make(data: Buffer | Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, wide: boolean): Image {
  if (!wide) return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, channels };
  // Uint16Array views need 2-byte alignment; sharp's buffers have it, copy if one ever does not.
  const u16 =
    data.byteOffset % 2 === 0
      ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)
      : new Uint16Array(new Uint8Array(data).buffer);
  return { data: u16, width, height, channels };
}

export function checkImage(img: unknown): asserts img is Image {
  if (typeof img !== 'object' || img === null) throw new InvalidArgumentError('image must be an Image object');
  const { data, width, height, channels } = img as Image;
  if (!Number.isSafeInteger(width) || width < 1 || !Number.isSafeInteger(height) || height < 1) {
    throw new InvalidArgumentError(`image size ${width}×${height} is not a positive integer size`);
  }
  if (![1, 2, 3, 4].includes(channels)) throw new InvalidArgumentError(`image channels must be 1-4, got ${channels}`);
  if (!(data instanceof Uint8Array || data instanceof Uint16Array)) {
    throw new InvalidArgumentError('image data must be a Uint8Array or a Uint16Array');
  }
  if (data.length !== width * height * channels) {
    throw new InvalidArgumentError(`image data has ${data.length} samples, ${width}×${height}×${channels} needs ${width * height * channels}`);
  }
}

function imageFormatOf(ext: string): ImageFormat {
  const f = EXT_FORMAT[normalizeExt(ext)];
  if (!f) throw new IoNotSupportedError(`.${normalizeExt(ext)}`, FORMAT, 'images are written as png, jpg, jpeg, tif, tiff or webp');
  return f;
}

/** Encodes an image; `format` is an extension (png jpg jpeg tif tiff webp). */
export async function encodeImage(img: Image, format: string = 'png', opts: ImageEncodeOptions = {}): Promise<Uint8Array> {
  checkImage(img);
  const fmt = imageFormatOf(format);
  const wide = img.data instanceof Uint16Array;
  if (wide && (fmt === 'jpeg' || fmt === 'webp')) {
    throw new IoNotSupportedError(`.${format}`, FORMAT, `${fmt.toUpperCase()} holds 8-bit samples only; write 16-bit images as png or tiff`);
  }
  const q = opts.quality;
  if (q !== undefined && !(Number.isInteger(q) && q >= 1 && q <= 100)) {
    throw new InvalidArgumentError(`quality must be an integer from 1 to 100, got ${q}`);
  }
  const level = opts.compressionLevel;
  if (level !== undefined && !(Number.isInteger(level) && level >= 0 && level <= 9)) {
    throw new InvalidArgumentError(`compressionLevel must be an integer from 0 to 9, got ${level}`);
  }
  const { width, height, channels } = img;
  let s = sharp(img.data, { raw: { width, height, channels } });
  let outChannels: number = channels;
  if (fmt === 'jpeg' && (channels === 2 || channels === 4)) {
    // As the Python tools do: JPEG has no alpha, keep the colour channels.
    s = s.removeAlpha();
    outChannels = channels - 1;
  }
  const grey = outChannels <= 2;
  // Raw input is read as sRGB (or "multiband"); say what the samples are so that grey stays grey
  // and 16-bit samples are not rescaled.
  if (wide) s = s.toColourspace(grey ? 'grey16' : 'rgb16');
  else if (grey) s = s.toColourspace('b-w');
  let out: Buffer;
  switch (fmt) {
    case 'png':
      out = await s.png({ compressionLevel: level ?? 6 }).toBuffer();
      break;
    case 'jpeg':
      out = await s.jpeg({ quality: q ?? 75 }).toBuffer();
      break;
    case 'tiff':
      // Deflate is lossless and read by libtiff, Pillow and tifffile alike (sharp's default is JPEG).
      out = await s.tiff({ compression: 'deflate' }).toBuffer();
      break;
    case 'webp': {
      const lossless = opts.lossless ?? q === undefined;
      // exact: keep the colour under transparent pixels, or lossless would not round-trip.
      out = await s.webp(lossless ? { lossless: true, exact: true } : { quality: q, exact: true }).toBuffer();
      break;
    }
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export async function readImage(src: Source, opts?: ArrayReadOptions): Promise<Image> {
  const { bytes, name } = await loadSource(src, opts);
  return decodeImage(bytes, name, opts);
}

export async function writeImage(file: File, img: Image, ext = 'png', opts: ImageWriteOptions = {}): Promise<void> {
  const e = normalizeExt(ext);
  const bytes = await encodeImage(img, e, opts);
  await saveToFile(file, bytes, e, opts);
}
