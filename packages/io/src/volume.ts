import type { File } from '@romi/db-core';
import { IoCorruptError, IoNotSupportedError } from './errors.js';
import { decodeWithSharp } from './image.js';
import { type NDArray } from './ndarray.js';
import { decodeNpy, isNpy } from './npy.js';
import { decodeNpz, encodeNpz } from './npz.js';
import type { DecodeOptions } from './limits.js';
import { BYTES_NAME, loadSource, normalizeExt, saveToFile, type ArrayReadOptions, type Source, type WriteOptions } from './source.js';
import { TiffFallback, decodeTiffStack, encodeTiffStack, isTiff } from './tiff.js';
import { isZip } from './zip.js';

export interface VolumeWriteOptions extends WriteOptions {
  /**
   * TIFF: deflate each page (default false, as plantdb writes without imagecodecs).
   * NPZ: deflate the archive (default true, as imageio's and numpy's savez_compressed).
   */
  compress?: boolean;
}

const FORMAT = 'volume';

/**
 * Reads a volume by content: a multi-page TIFF (plantdb; one page per index of axis 0), an NPZ
 * holding `arr_0` (romidata's imageio format) or a single array, or a plain NPY. `maxBytes`
 * bounds the decoded total (all pages, all NPZ members) before it is allocated.
 */
export async function decodeVolume(bytes: Uint8Array, name = BYTES_NAME, opts: DecodeOptions = {}): Promise<NDArray> {
  if (bytes.length === 0) throw new IoCorruptError(name, FORMAT, 'empty file');
  if (isTiff(bytes)) {
    try {
      return decodeTiffStack(bytes, name, opts);
    } catch (err) {
      if (!(err instanceof TiffFallback)) throw err;
      return tiffThroughSharp(bytes, name, opts);
    }
  }
  if (isZip(bytes)) {
    const arrays = decodeNpz(bytes, name, opts);
    const keys = Object.keys(arrays);
    if ('arr_0' in arrays) return arrays.arr_0;
    if (keys.length === 1) return arrays[keys[0]];
    throw new IoCorruptError(name, FORMAT, `NPZ without arr_0 holds ${keys.length} arrays (${keys.slice(0, 5).join(', ')}); use readNpz`);
  }
  if (isNpy(bytes)) return decodeNpy(bytes, name, opts);
  throw new IoCorruptError(name, FORMAT, 'not a TIFF, NPZ or NPY file');
}

// Compressions our TIFF reader leaves out (LZW, JPEG, tiles...): libvips reads 8- and 16-bit ones.
async function tiffThroughSharp(bytes: Uint8Array, name: string, opts: DecodeOptions): Promise<NDArray> {
  const img = await decodeWithSharp(bytes, name, true, opts);
  const rest = img.channels > 1 ? [img.channels] : [];
  const shape = img.pages > 1 ? [img.pages, img.pageHeight, img.width, ...rest] : [img.height, img.width, ...rest];
  return { dtype: img.data instanceof Uint16Array ? 'uint16' : 'uint8', shape, data: img.data };
}

export function encodeVolume(arr: NDArray, ext = 'tiff', opts: { compress?: boolean } = {}): Uint8Array {
  const e = normalizeExt(ext);
  if (e === 'tif' || e === 'tiff') return encodeTiffStack(arr, { compress: opts.compress ?? false });
  if (e === 'npz') return encodeNpz({ arr_0: arr }, { compress: opts.compress ?? true });
  throw new IoNotSupportedError(`.${e}`, FORMAT, 'volumes are written as tiff, tif or npz');
}

export async function readVolume(src: Source, opts?: ArrayReadOptions): Promise<NDArray> {
  const { bytes, name } = await loadSource(src, opts);
  return decodeVolume(bytes, name, opts);
}

export async function writeVolume(file: File, arr: NDArray, ext = 'tiff', opts: VolumeWriteOptions = {}): Promise<void> {
  const e = normalizeExt(ext);
  await saveToFile(file, encodeVolume(arr, e, opts), e, opts);
}
