import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { InvalidArgumentError } from '@romi/db-core';
import { IoCorruptError, IoTooLargeError } from './errors.js';

// What a decoder may allocate for one file. Claims in a header are checked against these before
// any output array exists: against the bytes that can back them (a compressed block expands at
// most by its codec's ratio, and blocks may not share bytes) and against `maxBytes`.

/** Options of the readers that decode arrays or pixels (images, NPY, NPZ, volumes). */
export interface DecodeOptions {
  /**
   * The most bytes one file may decode to, all pages or members together (default
   * DEFAULT_MAX_BYTES, 2 GiB). Checked before allocating; beyond it the reader throws IoTooLargeError.
   */
  maxBytes?: number;
}

export const DEFAULT_MAX_BYTES = 2 ** 31;

// The most bytes one compressed byte can decode to, per codec:
// deflate: a 258-byte match coded in 2 bits (1-bit length and distance codes) is 1032:1;
export const MAX_DEFLATE_RATIO = 1032;
// PackBits: a 2-byte run record repeats one byte at most 128 times;
export const MAX_PACKBITS_RATIO = 64;
// LZW (TIFF): a code takes at least 9 bits and stands for at most 4096 bytes (the table size).
export const MAX_LZW_RATIO = Math.ceil((4096 * 8) / 9);

/** The caller's maxBytes, checked (a non-negative integer), or the default. */
export function maxBytesOf(opts: DecodeOptions | undefined): number {
  const m = opts?.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isSafeInteger(m) || m < 0) throw new InvalidArgumentError(`maxBytes must be a non-negative integer, got ${String(m)}`);
  return m;
}

/**
 * Refuses `size` decoded bytes beyond `maxBytes`, or beyond what one Node.js array can hold
 * (4 GiB on Node 20), before anything is allocated.
 */
export function checkMaxBytes(size: number, maxBytes: number, name: string, format: string, what: string): void {
  const limit = Math.min(maxBytes, bufferConstants.MAX_LENGTH);
  if (size > limit) throw new IoTooLargeError(name, format, what, size, limit);
}

/** A zeroed buffer for `size` decoded bytes; an allocation that fails (out of memory) is an IoTooLargeError too. */
export function allocate(size: number, maxBytes: number, name: string, format: string, what: string): Uint8Array {
  try {
    return new Uint8Array(size);
  } catch (err) {
    throw new IoTooLargeError(name, format, what, size, maxBytes, `which cannot be allocated (${(err as Error).message})`);
  }
}

/**
 * Inflates a zlib (`wrapped`) or raw deflate stream that may give at most `limit` bytes. Node's
 * zlib stops as soon as the output passes the limit, so a stream that lies about its size costs
 * `limit` bytes and no more; the output buffer is allocated once, at that size.
 */
export function inflateBounded(raw: Uint8Array, limit: number, wrapped: boolean, name: string, format: string, what: string): Uint8Array {
  const fail = (detail: string, cause?: unknown) => new IoCorruptError(name, format, `${what}: ${detail}`, { cause });
  let out: Buffer;
  try {
    // One byte more than the limit: a stream that exactly fills it ends without a second buffer.
    const opts = { maxOutputLength: Math.max(1, limit), chunkSize: Math.max(64, Math.min(limit + 1, bufferConstants.MAX_LENGTH)) };
    out = wrapped ? zlib.inflateSync(raw, opts) : zlib.inflateRawSync(raw, opts);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw fail(`inflates to more than ${limit} bytes`, err);
    throw fail(`bad deflate data (${(err as Error).message})`, err);
  }
  if (out.length > limit) throw fail(`inflates to more than ${limit} bytes`);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** A range of bytes of a file, [start, end), that one part of it (a member, a strip) uses. */
export interface Span {
  start: number;
  end: number;
  what: string;
}

/** Refuses two parts of a file that share bytes: each must be backed by bytes of its own. */
export function refuseOverlaps(spans: Span[], corrupt: (detail: string) => Error): void {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  for (let k = 1; k < sorted.length; k++) {
    const [a, b] = [sorted[k - 1], sorted[k]];
    if (b.start < a.end) throw corrupt(`${a.what} and ${b.what} overlap (bytes ${b.start} to ${Math.min(a.end, b.end)})`);
  }
}
