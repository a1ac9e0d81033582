/**
 * MapBackend: the Backend over a plain Map, in memory, with no Node module. The core's own
 * tests run on it, and it is a database anywhere JavaScript runs (a browser, a worker).
 * Keys are stored flat, as in object storage: a folder is a zero-byte marker "a/"; every
 * change is synchronous inside one call, so conditional writes are atomic for all its users.
 */
import { checkByteRange, concatBytes, iterateBody, type Backend, type BackendCapabilities, type Body, type GetStreamOptions, type ListEntry, type ListOptions, type LockHandle, type LockInfo, type LockOptions, type ObjectMeta, type PutOptions, type SignalOptions, type StoredObject } from './backend.js';
import { ConditionFailedError, DBBusyError, InvalidKeyError, isRomiError, KeyNotFoundError, StorageError, throwIfAborted } from './errors.js';
import type { Key } from './key.js';
import { isInternalKey } from './layout.js';
import { sleep } from './util.js';

interface Entry {
  bytes: Uint8Array;
  etag: string;
  mtime: Date;
}

let versions = 0;
/** Streams are read in pieces of this size, as from other storage. */
const CHUNK = 1 << 20;

/** Keys are checked by toKey; what is checked here is only that none climbs out ("..", "."). */
function assertInside(key: string): void {
  if (key.startsWith('/') || /(^|\/)\.\.?(\/|$)/.test(key)) throw new InvalidKeyError(key, 'leaves the database root');
}

export class MapBackend implements Backend {
  readonly url: string;
  readonly capabilities: BackendCapabilities = { conditionalWrites: 'global', localPaths: false, lockScope: 'host', fsync: false };
  readonly #objects = new Map<string, Entry>();
  readonly #locks = new Map<string, { owner: number; since: Date }>();

  constructor(name = 'map') {
    this.url = `map://${name}`;
  }

  #entry(key: string): Entry {
    assertInside(key);
    const entry = this.#objects.get(key);
    if (!entry) throw new KeyNotFoundError(key);
    return entry;
  }

  #meta(key: string, entry: Entry): ObjectMeta {
    return { key, size: entry.bytes.byteLength, etag: entry.etag, mtime: entry.mtime };
  }

  async get(key: Key, opts: SignalOptions = {}): Promise<StoredObject> {
    throwIfAborted(opts.signal);
    const entry = this.#entry(key);
    return { bytes: entry.bytes.slice(), meta: this.#meta(key, entry) };
  }

  async getStream(key: Key, opts: GetStreamOptions = {}): Promise<{ stream: ReadableStream<Uint8Array>; meta: ObjectMeta }> {
    checkByteRange(opts.range);
    throwIfAborted(opts.signal);
    const entry = this.#entry(key);
    // A copy of the range only (slice clamps it to the size), so the reader cannot change the stored bytes.
    const bytes = entry.bytes.slice(opts.range?.start ?? 0, opts.range?.end);
    const meta = this.#meta(key, entry);
    let offset = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        throwIfAborted(opts.signal);
        if (offset >= bytes.byteLength) {
          controller.close();
          return;
        }
        controller.enqueue(bytes.subarray(offset, offset + CHUNK));
        offset += CHUNK;
      },
    });
    return { stream, meta };
  }

  async put(key: Key, body: Body, opts: PutOptions = {}): Promise<ObjectMeta> {
    throwIfAborted(opts.signal);
    assertInside(key);
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of iterateBody(body)) {
        throwIfAborted(opts.signal);
        chunks.push(chunk.slice());
      }
    } catch (err) {
      if (isRomiError(err)) throw err;
      throw new StorageError(`Storage error on "${key}" in ${this.url}: the body failed (${(err as Error).message})`, { cause: err, key });
    }
    // Read whole first, then checked and stored in one synchronous step: atomic.
    const bytes = key.endsWith('/') ? new Uint8Array() : concatBytes(chunks);
    const current = this.#objects.get(key);
    if (opts.ifNoneMatch === '*' && current) throw new ConditionFailedError(key, 'the object already exists');
    if (opts.ifMatch !== undefined && current?.etag !== opts.ifMatch) throw new ConditionFailedError(key, current ? undefined : 'the object does not exist');
    const entry = { bytes, etag: `v${++versions}`, mtime: new Date() };
    this.#objects.set(key, entry);
    return this.#meta(key, entry);
  }

  async head(key: Key, opts: SignalOptions = {}): Promise<ObjectMeta | undefined> {
    throwIfAborted(opts.signal);
    assertInside(key);
    const entry = this.#objects.get(key);
    if (entry) return this.#meta(key, entry);
    // A folder exists as soon as something is stored below it, marker or not.
    if (key.endsWith('/') && [...this.#objects.keys()].some((k) => k.startsWith(key))) return { key, size: 0, etag: 'folder' };
    return undefined;
  }

  async delete(key: Key, opts: SignalOptions = {}): Promise<void> {
    throwIfAborted(opts.signal);
    assertInside(key);
    if (!key.endsWith('/')) {
      this.#objects.delete(key);
      return;
    }
    for (const k of [...this.#objects.keys()]) if (k.startsWith(key)) this.#objects.delete(k);
  }

  async *list(prefix: Key | '', opts: ListOptions = {}): AsyncIterable<ListEntry> {
    throwIfAborted(opts.signal);
    if (prefix !== '') assertInside(prefix);
    // The folder being listed is not one of its own entries; a key named by the prefix is.
    const keys = [...this.#objects.keys()]
      .filter((k) => k.startsWith(prefix) && !(prefix.endsWith('/') && k === prefix) && (opts.internal || !isInternalKey(k)))
      .sort();
    if (opts.delimiter !== '/') {
      for (const key of keys) yield { kind: 'object', ...this.#meta(key, this.#objects.get(key)!) };
      return;
    }
    const folders = new Set<string>();
    for (const key of keys) {
      const slash = key.indexOf('/', prefix.length);
      if (slash >= 0) {
        const folder = key.slice(0, slash + 1);
        if (!folders.has(folder)) yield { kind: 'prefix', key: folder };
        folders.add(folder);
      } else {
        yield { kind: 'object', ...this.#meta(key, this.#objects.get(key)!) };
      }
    }
  }

  async lock(name: string, opts: LockOptions = {}): Promise<LockHandle> {
    const deadline = Date.now() + (opts.waitMs ?? 0);
    while (this.#locks.has(name)) {
      if (Date.now() >= deadline) throw new DBBusyError(`Database ${this.url} is busy: another writer holds the lock`);
      await sleep(Math.min(20, Math.max(1, deadline - Date.now())), opts.signal);
    }
    throwIfAborted(opts.signal);
    const holder = { owner: ++versions, since: new Date() };
    this.#locks.set(name, holder);
    return {
      assertHeld: () => {},
      release: async () => {
        if (this.#locks.get(name) === holder) this.#locks.delete(name);
      },
    };
  }

  async inspectLock(name: string): Promise<LockInfo | undefined> {
    const holder = this.#locks.get(name);
    return holder ? { owner: `holder ${holder.owner} since ${holder.since.toISOString()}`, stale: false, mtime: holder.since } : undefined;
  }

  async forceUnlock(name: string): Promise<void> {
    this.#locks.delete(name);
  }
}
