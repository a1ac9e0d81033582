/**
 * The storage abstraction. A backend knows keys and bytes, never scans or filesets:
 * all of the layout lives in the core. Keys are relative POSIX paths inside the database
 * root ("myscan_001/files.json"), checked once by `toKey` (key.ts): backends take them as
 * they are. A key ending in "/" names a folder (an empty directory on a file system, a
 * zero-byte marker object in S3).
 *
 * Backends throw the core's typed errors: KeyNotFoundError, ConditionFailedError,
 * InvalidKeyError, DBBusyError (lock), LockLostError, AbortedError, StorageError.
 */

import { InvalidArgumentError } from './errors.js';
import type { Key } from './key.js';

export type Body = Uint8Array | AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

export interface ObjectMeta {
  key: string;
  size: number;
  /** Opaque version tag: changes whenever the object is replaced. Not necessarily an MD5. */
  etag: string;
  mtime?: Date;
}

export interface SignalOptions {
  signal?: AbortSignal;
}

/** Byte offsets into an object: `start` inclusive, `end` exclusive (omitted: to the end of the object). */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface GetStreamOptions extends SignalOptions {
  /** Stream only these bytes (see `Backend.getStream`). */
  range?: ByteRange;
}

/** Bytes with the metadata of the very version they were read from (for conditional writes). */
export interface StoredObject {
  bytes: Uint8Array;
  meta: ObjectMeta;
}

export interface PutOptions extends SignalOptions {
  /** '*' = create only: fail with ConditionFailedError when the key exists. */
  ifNoneMatch?: '*';
  /** Replace only if the current object has this etag, else ConditionFailedError. */
  ifMatch?: string;
  /** Size of a streamed body when known (lets object stores skip buffering). */
  size?: number;
}

export interface ListOptions extends SignalOptions {
  /** With '/', list one level: objects directly under the prefix, and sub-folders as `prefix` entries. */
  delimiter?: '/';
  /**
   * Also list romidb's own entries (names starting with ".romidb-": temporary files, trash,
   * markers), which are never data; check() asks for them to find what a killed writer left.
   * On a file system a folder among them is listed as one entry, not entered.
   */
  internal?: boolean;
}



export type ListEntry = (ObjectMeta & { kind: 'object' }) | { kind: 'prefix'; key: string };

export interface LockOptions extends SignalOptions {
  /** How long to keep trying while another holder has the lock (0 = fail at once). */
  waitMs?: number;
  /** A lock not refreshed for this long is stale and may be taken over. */
  staleMs?: number;
  /** Called once if the lock is lost while held (stolen, lease expired, storage error). */
  onLost?: (err: Error) => void;
}

export interface LockInfo {
  /** Who holds the lock, when the backend can tell. */
  owner?: string;
  /** True when the lock is not ours and was written by another tool (e.g. a plain `lock` file). */
  foreign?: boolean;
  stale?: boolean;
  mtime?: Date;
}

export interface LockHandle {
  /** Throws LockLostError when the lock is no longer held. Called before every write. */
  assertHeld(): void;
  release(): Promise<void>;
}

export interface BackendCapabilities {
  /** Where conditional puts are atomic: against every client ('global') or only within this process. */
  conditionalWrites: 'global' | 'process';
  /** Whether files have real local paths (File.localPath()). */
  localPaths: boolean;
  /** Whether `lock` excludes other processes on this machine only ('host') or everywhere ('global'). */
  lockScope: 'host' | 'global';
  /** Whether writes can be forced to stable storage (fsync). */
  fsync: boolean;
}

export interface Backend {
  /** A URL naming the storage, without secrets. */
  readonly url: string;
  readonly capabilities: BackendCapabilities;
  get(key: Key, opts?: SignalOptions): Promise<StoredObject>;
  /**
   * The object as a stream read in pieces. With `range`, only those bytes are read and
   * streamed; `meta` still describes the whole object (`size` is its full size, `etag` that of
   * the version read). An `end` beyond the size is clamped to it; a `start` at or beyond the
   * size gives an empty stream, not an error. A negative or non-integer `start`/`end`, or `end`
   * before `start`, is InvalidArgumentError (ROMI_INVALID_ARGUMENT) before any I/O
   * (`checkByteRange`).
   */
  getStream(key: Key, opts?: GetStreamOptions): Promise<{ stream: ReadableStream<Uint8Array>; meta: ObjectMeta }>;
  /**
   * Atomic: a reader sees the old object or the new one, never a torn one. Once the promise
   * settles the caller may change `body`'s bytes (files.json is serialized into a reused buffer):
   * a backend that keeps them keeps a copy.
   */
  put(key: Key, body: Body, opts?: PutOptions): Promise<ObjectMeta>;
  head(key: Key, opts?: SignalOptions): Promise<ObjectMeta | undefined>;
  /**
   * Idempotent: deleting a missing key succeeds. A key ending in "/" deletes the folder
   * and everything below it (on a file system, by renaming it away first).
   */
  delete(key: Key, opts?: SignalOptions): Promise<void>;
  /**
   * Objects whose key starts with `prefix` (recursively, folder markers included as
   * zero-size objects with keys ending in "/"), or one level with `delimiter: '/'`.
   * Order is unspecified.
   */
  list(prefix: Key | '', opts?: ListOptions): AsyncIterable<ListEntry>;
  /** Exclusive lock named by a key. Throws DBBusyError when held elsewhere after `waitMs`. */
  lock(name: string, opts?: LockOptions): Promise<LockHandle>;
  /** What holds the lock `name` now, or undefined when nobody does. */
  inspectLock?(name: string, opts?: SignalOptions & { staleMs?: number }): Promise<LockInfo | undefined>;
  /** Clears the lock `name` whoever holds it. */
  forceUnlock?(name: string): Promise<void>;
  /** The real path of a key on a local file system, when there is one. */
  localPath?(key: Key): string | undefined;
  close?(): Promise<void>;
}

/**
 * Checks a `getStream` range (every backend calls it before any I/O): offsets are
 * non-negative integers and `end` is not before `start`. Throws InvalidArgumentError.
 */
export function checkByteRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  const { start, end } = (range ?? {}) as Partial<ByteRange>;
  const offset = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!offset(start) || (end !== undefined && (!offset(end) || end < start!))) {
    throw new InvalidArgumentError(`Invalid byte range (start ${String(start)}, end ${String(end)}): offsets are integers ≥ 0, and end is not before start`);
  }
}

/** Collects a body into one Uint8Array. */
export async function bodyToBytes(body: Body): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of iterateBody(body)) {
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  return concatBytes(chunks);
}

/** Joins byte chunks into one array (the chunk itself when there is only one). */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

export function iterateBody(body: Body): AsyncIterable<Uint8Array> {
  if (body instanceof Uint8Array) {
    return (async function* () {
      yield body;
    })();
  }
  if (Symbol.asyncIterator in body) return body as AsyncIterable<Uint8Array>;
  const stream = body as ReadableStream<Uint8Array>;
  return (async function* () {
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  })();
}
