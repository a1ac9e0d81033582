import sharp, { type Metadata, type Sharp } from 'sharp';
import { InvalidArgumentError, isRomiError, throwIfAborted } from '@romi/db-core';
import { IoCorruptError, IoNotSupportedError } from './errors.js';
import { sniffImage } from './image.js';
import { MAX_DEFLATE_RATIO, checkMaxBytes, maxBytesOf, type DecodeOptions } from './limits.js';
import { BYTES_NAME } from './source.js';
import { checkTiffForLibvips } from './tiff.js';

// plantdb's webcache (plantdb/server/webcache.py) makes image previews with Pillow:
//
//   image = Image.open(src); image.load(); image.thumbnail((n, n))
//   if image.mode != "RGB": image = image.convert(mode="RGB")
//   image.save(dst, quality=84, optimize=True)            # JPEG
//
// resizeImage does the same with libvips: the output size is Pillow's to the pixel (thumbnailSize
// repeats Image.thumbnail's rounding), the resampling is Pillow's choice of filter (bicubic, that is
// Catmull-Rom, or nearest for palette and 1-bit images) and alpha is handled as Pillow handles it:
// - RGBA and LA images are resized with premultiplied alpha (Pillow converts to RGBa/La for the
//   resize), then the alpha channel is dropped without compositing (convert("RGB")): a pixel left
//   fully transparent by the resize comes out black (0, 0, 0), and an image that is not resized
//   keeps the colour stored under its transparent pixels;
// - transparency from a PNG tRNS chunk or a GIF is not an alpha channel for Pillow (it stays in
//   `info`): it is ignored, the colour under it kept.
// The JPEG is libvips' (mozjpeg in its libjpeg-turbo-compatible defaults, as Pillow's libjpeg-turbo):
// quality 84, 4:2:0 chroma, optimised Huffman tables, baseline. Pixels are not byte-identical to
// Pillow's (two resamplers, two JPEG encoders); the tests hold them within a few levels.

/** plantdb's named image sizes: the longest side of `thumb` and `large` previews. */
export const WEBCACHE_IMAGE_SIZES = Object.freeze({ thumb: 150, large: 1500 });
/** plantdb's voxel size for the `preview` point cloud. */
export const WEBCACHE_PREVIEW_VOXEL_SIZE = 1.8;

export interface ResizeOptions extends DecodeOptions {
  signal?: AbortSignal;
  /** The file's name, for error messages (default "<bytes>"). */
  name?: string;
}

export interface ResizedImage {
  bytes: Uint8Array;
  width: number;
  height: number;
  contentType: 'image/jpeg';
}

export interface ImageSize {
  width: number;
  height: number;
  /** sharp's name of the format: `jpeg`, `png`, `tiff`, `webp` or `gif`. */
  format: string;
}

const FORMAT = 'image';
const JPEG_QUALITY = 84;
/** Bytes per sample of libvips' band formats (complex ones, unlisted, count as 8). */
const SAMPLE_BYTES: Record<string, number> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, double: 8 };

function checkMaxSide(maxSide: number): void {
  if (typeof maxSide !== 'number' || !Number.isSafeInteger(maxSide) || maxSide < 1) {
    throw new InvalidArgumentError(`maxSide must be a positive integer, got ${String(maxSide)}`);
  }
}

/**
 * The size Pillow's `Image.thumbnail((maxSide, maxSide))` gives a `width`×`height` image: the
 * aspect ratio kept, each side rounded down or up to whichever keeps the ratio closer (down on a
 * tie), never 0, never larger than the image (an image that fits keeps its size).
 */
export function thumbnailSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  checkMaxSide(maxSide);
  for (const [what, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`${what} must be a positive integer, got ${String(v)}`);
  }
  // Image.thumbnail's preserve_aspect_ratio(), with the same doubles.
  let x = maxSide;
  let y = maxSide;
  if (x >= width && y >= height) return { width, height };
  const aspect = width / height;
  // round_aspect: min((floor, ceil), key) keeps the first of equals, then max(..., 1).
  const roundAspect = (v: number, key: (n: number) => number) => {
    const f = Math.floor(v);
    const c = Math.ceil(v);
    return Math.max(key(c) < key(f) ? c : f, 1);
  };
  if (x / y >= aspect) x = roundAspect(y * aspect, (n) => Math.abs(aspect - n / y));
  else y = roundAspect(x / aspect, (n) => (n === 0 ? 0 : Math.abs(aspect - x / n)));
  return { width: x, height: y };
}

interface Plan {
  width: number;
  height: number;
  /** Pillow resamples palette ("P") and 1-bit ("1") images with NEAREST. */
  nearest: boolean;
  /** The alpha sharp sees is a tRNS chunk or GIF transparency, which Pillow ignores: drop it before resizing. */
  dropAlphaFirst: boolean;
}

/** The signature, then the header through sharp (metadata: no pixel is decoded). */
async function readHeader(bytes: Uint8Array, name: string, beforeLibvips?: (kind: string) => void): Promise<{ kind: string; meta: Metadata }> {
  if (bytes.length === 0) throw new IoCorruptError(name, FORMAT, 'empty file');
  const kind = sniffImage(bytes);
  if (kind === undefined) throw new IoCorruptError(name, FORMAT, 'not a PNG, JPEG, TIFF, WebP or GIF image (unknown signature)');
  if (kind === 'bmp') throw new IoNotSupportedError(name, FORMAT, 'BMP images are not supported');
  beforeLibvips?.(kind);
  try {
    // limitInputPixels: sizes are bounded by the callers (maxBytes), libvips' limit would be an untyped error.
    return { kind, meta: await sharp(bytes, { failOn: 'error', limitInputPixels: false }).metadata() };
  } catch (err) {
    throw new IoCorruptError(name, FORMAT, `cannot read the ${kind} header: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads the header and checks what decoding would cost. */
async function plan(bytes: Uint8Array, name: string, maxBytes: number): Promise<Plan> {
  // Strips and tiles that share bytes, or pages beyond maxBytes, are refused before libvips runs.
  const { kind, meta } = await readHeader(bytes, name, (k) => {
    if (k === 'tiff') checkTiffForLibvips(bytes, name, maxBytes, 1);
  });
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const channels = meta.channels ?? 0;
  if (!(width >= 1 && height >= 1 && channels >= 1)) throw new IoCorruptError(name, FORMAT, `a ${width}×${height} image of ${channels} channel(s)`);
  const what = `${width}×${height} pixels of ${channels} channel(s)`;
  // A PNG's pixels come out of one deflate stream: at most 1032 bytes, of 8 one-bit pixels each, per byte of file.
  if (kind === 'png' && width * height > bytes.length * MAX_DEFLATE_RATIO * 8 + 1024) {
    throw new IoCorruptError(name, FORMAT, `${what} claimed in ${bytes.length} bytes, more than deflate can hold`);
  }
  const sampleBytes = SAMPLE_BYTES[meta.depth ?? 'uchar'] ?? 8;
  checkMaxBytes(width * height * channels * sampleBytes, maxBytes, name, FORMAT, what);
  // PNG colour type (IHDR byte 25) and bit depth (24): Pillow's mode.
  const pngType = kind === 'png' && bytes.length > 25 ? bytes[25] : -1;
  const pngDepth = kind === 'png' && bytes.length > 25 ? bytes[24] : -1;
  const nearest = pngType === 3 || (pngType === 0 && pngDepth === 1) || kind === 'gif';
  const dropAlphaFirst = meta.hasAlpha && (pngType === 0 || pngType === 2 || pngType === 3 || kind === 'gif');
  return { width, height, nearest, dropAlphaFirst };
}

/**
 * What plantdb's webcache serves for an image at size `maxSide` (150 for `thumb`, 1500 for `large`,
 * or any positive integer): Pillow's `thumbnail((maxSide, maxSide))` (aspect kept, never upscaled),
 * as RGB (grey copied to R, G and B, alpha dropped as Pillow drops it), encoded as JPEG quality 84.
 *
 * The source's header is read first: an unknown or damaged file is `ROMI_CORRUPT`, one that would
 * decode to more than `maxBytes` (default 2 GiB, see DecodeOptions) `ROMI_NOT_SUPPORTED`
 * (IoTooLargeError), before any pixel is decoded; `maxSide` that is not a positive integer is
 * `ROMI_INVALID_ARGUMENT`.
 */
export async function resizeImage(src: Uint8Array, maxSide: number, opts: ResizeOptions = {}): Promise<ResizedImage> {
  throwIfAborted(opts.signal);
  checkMaxSide(maxSide);
  const maxBytes = maxBytesOf(opts);
  if (!(src instanceof Uint8Array)) throw new InvalidArgumentError('resizeImage takes the image file as a Uint8Array');
  const name = opts.name ?? BYTES_NAME;
  const p = await plan(src, name, maxBytes);
  throwIfAborted(opts.signal);
  const size = thumbnailSize(p.width, p.height, maxSide);
  const resize = size.width !== p.width || size.height !== p.height;
  // The pixel count is checked above (maxBytes): libvips' own limit would refuse with an untyped error.
  const input = { failOn: 'error', limitInputPixels: false } as const;
  try {
    let pipeline: Sharp;
    if (p.dropAlphaFirst && resize) {
      // Pillow resizes these without their transparency: take it away first (sharp would drop it after the resize).
      const { data, info } = await sharp(src, input).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      pipeline = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
    } else pipeline = sharp(src, input);
    if (resize) {
      // fastShrinkOnLoad false: JPEG DCT scaling leaves at least a factor 2 to the cubic filter, as
      // Pillow's reducing_gap=2 leaves it to its own.
      pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: p.nearest ? 'nearest' : 'cubic', fastShrinkOnLoad: false });
    }
    const { data, info } = await pipeline
      .removeAlpha()
      .toColourspace('srgb')
      .jpeg({ quality: JPEG_QUALITY, chromaSubsampling: '4:2:0', optimizeCoding: true })
      .toBuffer({ resolveWithObject: true });
    if (info.width !== size.width || info.height !== size.height || info.channels !== 3) {
      throw new Error(`libvips made a ${info.width}×${info.height} image of ${info.channels} channels, expected ${size.width}×${size.height} RGB`);
    }
    throwIfAborted(opts.signal);
    return { bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: size.width, height: size.height, contentType: 'image/jpeg' };
  } catch (err) {
    if (isRomiError(err)) throw err;
    throw new IoCorruptError(name, FORMAT, `cannot decode: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The size an image's header declares, without decoding its pixels (sharp metadata), so that a
 * server can bound what it is asked for. The header is not checked against the data: use
 * resizeImage or decodeImage for that. Unknown or unreadable bytes are `ROMI_CORRUPT`, BMP
 * `ROMI_NOT_SUPPORTED`.
 */
export async function imageSize(src: Uint8Array, name: string = BYTES_NAME): Promise<ImageSize> {
  if (!(src instanceof Uint8Array)) throw new InvalidArgumentError('imageSize takes the image file as a Uint8Array');
  const { kind, meta } = await readHeader(src, name);
  if (!(meta.width && meta.height)) throw new IoCorruptError(name, FORMAT, `the ${kind} header gives no size`);
  return { width: meta.width, height: meta.height, format: meta.format ?? kind };
}
