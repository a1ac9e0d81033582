import type { File } from '@romi/db-core';
import { InvalidArgumentError } from '@romi/db-core';
import { IoCorruptError, IoNotSupportedError } from './errors.js';
import { checkNDArray, type NDArray } from './ndarray.js';
import { decodeNpy, encodeNpy } from './npy.js';
import { checkMaxBytes, maxBytesOf, type DecodeOptions } from './limits.js';
import { BYTES_NAME, loadSource, normalizeExt, saveToFile, type ArrayReadOptions, type Source, type WriteOptions } from './source.js';
import { extractZipEntry, isZip, listZip, writeZip, zipTotalSize } from './zip.js';

const FORMAT = 'NPZ';

export interface NpzWriteOptions extends WriteOptions {
  /** Deflate the entries, as `np.savez_compressed` does (default true); false stores them like `np.savez`. */
  compress?: boolean;
}

/**
 * Decodes every member. The sizes the directory claims are checked before anything is inflated:
 * each against its compressed bytes, their total against `maxBytes` (members count whole, .npy
 * headers included).
 */
export function decodeNpz(bytes: Uint8Array, name = BYTES_NAME, opts: DecodeOptions = {}): Record<string, NDArray> {
  const maxBytes = maxBytesOf(opts);
  if (bytes.length === 0) throw new IoCorruptError(name, FORMAT, 'empty file');
  // An archive with no entries is only its 22-byte end record, which starts with PK\5\6.
  if (!isZip(bytes)) throw new IoCorruptError(name, FORMAT, 'not a ZIP archive');
  const entries = listZip(bytes, name, FORMAT);
  checkMaxBytes(zipTotalSize(entries), maxBytes, name, FORMAT, `the archive's ${entries.length} members`);
  const out: Record<string, NDArray> = Object.create(null) as Record<string, NDArray>;
  for (const entry of entries) {
    if (entry.name.endsWith('/')) continue;
    // numpy's keys are the member names without ".npy"; other members are not arrays.
    if (!entry.name.endsWith('.npy')) {
      throw new IoNotSupportedError(name, FORMAT, `member ${JSON.stringify(entry.name)} is not a .npy array`);
    }
    const key = entry.name.slice(0, -4);
    if (key in out) throw new IoCorruptError(name, FORMAT, `duplicate member ${JSON.stringify(entry.name)}`);
    const member = `${name}[${entry.name}]`;
    out[key] = decodeNpy(extractZipEntry(bytes, entry, name, FORMAT), member, { maxBytes });
  }
  return { ...out };
}

export function encodeNpz(arrays: Record<string, NDArray>, opts: { compress?: boolean } = {}): Uint8Array {
  if (typeof arrays !== 'object' || arrays === null) throw new InvalidArgumentError('arrays must be a record of NDArrays');
  const entries: Record<string, Uint8Array> = {};
  for (const [key, arr] of Object.entries(arrays)) {
    if (key === '' || key.includes('\0')) throw new InvalidArgumentError(`Invalid NPZ key ${JSON.stringify(key)}`);
    checkNDArray(arr, `arrays[${JSON.stringify(key)}]`);
    entries[`${key}.npy`] = encodeNpy(arr);
  }
  return writeZip(entries, opts.compress ?? true);
}

export async function readNpz(src: Source, opts?: ArrayReadOptions): Promise<Record<string, NDArray>> {
  const { bytes, name } = await loadSource(src, opts);
  return decodeNpz(bytes, name, opts);
}

export async function writeNpz(
  file: File,
  arrays: Record<string, NDArray>,
  ext = 'npz',
  opts: NpzWriteOptions = {},
): Promise<void> {
  const e = normalizeExt(ext);
  await saveToFile(file, encodeNpz(arrays, opts), e, opts);
}
