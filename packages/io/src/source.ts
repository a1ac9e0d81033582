import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  AbortedError,
  FileNotFoundError,
  InvalidArgumentError,
  StorageError,
  isRomiError,
  throwIfAborted,
  type File,
} from '@romi/db-core';
import type { DecodeOptions } from './limits.js';

/** What every reader accepts: a database File, a local path (or file: URL), or the bytes themselves. */
export type Source = File | string | URL | Uint8Array | ArrayBuffer;

export interface ReadOptions {
  signal?: AbortSignal;
}
/** The readers that decode arrays or pixels also take `maxBytes` (see limits.ts). */
export interface ArrayReadOptions extends ReadOptions, DecodeOptions {}
export interface WriteOptions {
  signal?: AbortSignal;
}

export interface Loaded {
  bytes: Uint8Array;
  /** How error messages name the source: a path, `<scan>/<fileset>/<file>`, or `<bytes>`. */
  name: string;
}

export const BYTES_NAME = '<bytes>';

function isFile(x: unknown): x is File {
  return typeof x === 'object' && x !== null && typeof (x as File).readBytes === 'function';
}

/** A readable name for a source, used in every error about its content. */
function sourceName(src: Source): string {
  if (typeof src === 'string') return src;
  if (src instanceof URL) return src.protocol === 'file:' ? fileURLToPath(src) : src.href;
  if (src instanceof Uint8Array || src instanceof ArrayBuffer) return BYTES_NAME;
  if (isFile(src)) return fileName(src);
  return String(src);
}

function fileName(f: File): string {
  let local: string | undefined;
  try {
    local = f.localPath?.();
  } catch {
    local = undefined;
  }
  if (local) return local;
  // Guarded: light File implementations (tests, adapters) may lack the parent objects.
  const scan = (f as Partial<File>).scan?.id;
  const fileset = (f as Partial<File>).fileset?.id;
  const leaf = f.filename ?? f.id;
  return [scan, fileset, leaf].filter((p) => typeof p === 'string' && p !== '').join('/') || String(leaf);
}

/** Reads the whole source into memory. Missing files are FileNotFoundError, other I/O StorageError. */
export async function loadSource(src: Source, opts: ReadOptions = {}): Promise<Loaded> {
  throwIfAborted(opts.signal);
  if (src instanceof Uint8Array) return { bytes: src, name: BYTES_NAME };
  if (src instanceof ArrayBuffer) return { bytes: new Uint8Array(src), name: BYTES_NAME };
  if (typeof src === 'string' || src instanceof URL) {
    const name = sourceName(src);
    try {
      const buf = await readFile(src, { signal: opts.signal });
      return { bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), name };
    } catch (err) {
      throw fsError(err, name);
    }
  }
  if (isFile(src)) {
    const bytes = await src.readBytes({ signal: opts.signal });
    return { bytes, name: fileName(src) };
  }
  throw new InvalidArgumentError('A reader takes a File, a local path, a file: URL, or a Uint8Array');
}

function fsError(err: unknown, name: string): Error {
  if (isRomiError(err)) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.name === 'AbortError') return new AbortedError({ cause: err });
  if (e?.code === 'ENOENT') return new FileNotFoundError(name, 'no such file');
  if (e?.code === 'EISDIR') return new InvalidArgumentError(`${name} is a directory, not a file`);
  return new StorageError(`Cannot read ${name}: ${e?.message ?? String(err)}`, { cause: err, key: name });
}

/** Normalises a writer's extension: no leading dot, lower case for the format choice. */
export function normalizeExt(ext: string): string {
  if (typeof ext !== 'string') throw new InvalidArgumentError('The extension must be a string');
  const e = ext.startsWith('.') ? ext.slice(1) : ext;
  if (!/^[A-Za-z0-9_-]{1,16}$/.test(e)) throw new InvalidArgumentError(`Invalid file extension ${JSON.stringify(ext)}`);
  return e.toLowerCase();
}

/** Writes encoded bytes through the File (which names it `<id>.<ext>`). */
export async function saveToFile(file: File, bytes: Uint8Array, ext: string, opts: WriteOptions = {}): Promise<void> {
  if (typeof file !== 'object' || file === null || typeof (file as File).writeBytes !== 'function') {
    throw new InvalidArgumentError('A writer takes a database File (use the encode* functions for bytes)');
  }
  throwIfAborted(opts.signal);
  await file.writeBytes(bytes, ext, { signal: opts.signal });
}
