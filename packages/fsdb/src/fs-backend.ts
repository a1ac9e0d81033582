/**
 * FsBackend: the Backend over a Node-compatible `fs` (the real disk, or a memfs volume).
 *
 * - Writes are atomic: bytes go to a temp file in the same folder, then rename() (or link()
 *   for create-only writes, which fails atomically when the target exists).
 * - Temp files and trash folders start with ".romidb-" and are never listed.
 * - Keys cannot leave the root: "..", absolute keys and symlinks resolving outside are refused.
 * - Conditional writes are atomic within this process; across processes the writer lock
 *   (fs-lock.ts, at <root>/lock) keeps a single writer.
 * - Small objects go through synchronous calls (`syncIO`): on a local disk a metadata call or
 *   a write of a few KiB takes microseconds, less than one round trip to libuv's thread pool.
 */
import nodeFs from 'node:fs';
import { posix, sep } from 'node:path';
import {
  AbortedError,
  checkByteRange,
  ConditionFailedError,
  InvalidKeyError,
  INTERNAL_PREFIX,
  KeyNotFoundError,
  KeyedMutex,
  StorageError,
  toKey,
  iterateBody,
  throwIfAborted,
  type Backend,
  type BackendCapabilities,
  type Body,
  type GetStreamOptions,
  type Key,
  type ListEntry,
  type ListOptions,
  type LockHandle,
  type LockInfo,
  type LockOptions,
  type ObjectMeta,
  type PutOptions,
  type SignalOptions,
  type StoredObject,
} from '@romi/db-core';
import { FsLock, pidAlive } from './fs-lock.js';

/** The part of Node's `fs` this backend uses (memfs provides it too). */
export type FsLike = typeof nodeFs;

export interface FsBackendOptions {
  /** The file system to use (default: node:fs). */
  fs?: FsLike;
  /** fsync files and their folder on every write: survives power loss, not only a crash. */
  fsync?: boolean;
  /** URL to report (default: file://<root>). */
  url?: string;
  /**
   * Whether `fs` is the real disk (default: when it is node:fs itself; say so for a wrapper of
   * it): enables O_NOFOLLOW opens, sweeping dead writers' temporary files, fsync and localPath.
   */
  realDisk?: boolean;
  /**
   * Use synchronous calls for what takes microseconds on a local disk (default true): reads of
   * objects up to 64 KiB, writes of bodies given whole up to 64 KiB (1 MiB on a real disk), and
   * stat, link, rename, unlink, mkdir and readdir. Each such call then blocks the event loop for
   * its duration instead of costing a thread-pool round trip (about 4× more here). Set false on
   * a network file system, where one call may take milliseconds and would stall everything else
   * the process does meanwhile.
   */
  syncIO?: boolean;
}

/**
 * Bodies up to this size are written (SMALL_WRITE_ON_DISK on a real disk), and files up to it
 * read, with synchronous calls (syncIO). Larger ones gain little (the copy dominates), and
 * memfs's synchronous write is slower for them (measured with a 10,000-entry files.json of 0.7 MB).
 */
const SMALL = 64 << 10;

/**
 * On a real disk, whole bodies up to this size are written with synchronous calls too: the copy
 * into the page cache takes well under a millisecond, and a 10,000-file files.json (0.7 MB),
 * rewritten on each change, cost 4 thread-pool round trips more per write on the other path.
 */
const SMALL_WRITE_ON_DISK = 1 << 20;

/**
 * Bytes per read of getStream. With a queue of none (highWaterMark 0) a reader holds one chunk at
 * a time: 512 KiB keeps a server's memory low under many downloads at about the throughput of 1 MiB.
 */
const CHUNK = 512 << 10;
let tempCounter = 0;
/**
 * Conditional commits (check the version, then rename) run one at a time per path in the whole
 * process, whichever FsBackend object makes them: capabilities.conditionalWrites is 'process'.
 */
const commits = new KeyedMutex();

type Stats = { ino: number | bigint; mtimeMs: number; size: number | bigint; mtime: Date; isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean };

function etagOf(s: Stats): string {
  return `${Number(s.ino).toString(36)}.${Math.round(s.mtimeMs * 1000).toString(36)}.${Number(s.size).toString(36)}`;
}

/** The metadata calls of every put, get, head and list, as the promise API names them. */
type QuickCalls = Pick<FsLike['promises'], 'lstat' | 'stat' | 'link' | 'unlink' | 'rename' | 'realpath' | 'mkdir' | 'readdir'>;
const QUICK = ['lstat', 'stat', 'link', 'unlink', 'rename', 'realpath', 'mkdir', 'readdir'] as const;

/** The same calls made synchronously: settled at once, with no thread-pool round trip. */
function syncCalls(fs: FsLike): QuickCalls {
  const calls: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const name of QUICK) {
    calls[name] = async (...args) => (fs[`${name}Sync`] as (...a: unknown[]) => unknown).apply(fs, args);
  }
  return calls as unknown as QuickCalls;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

export class FsBackend implements Backend {
  readonly root: string;
  readonly url: string;
  readonly capabilities: BackendCapabilities;
  readonly #fs: FsLike;
  readonly #fsync: boolean;
  readonly #real: boolean;
  /** The calls of `#p` that `syncIO` makes synchronous (the same as `#p` without it). */
  readonly #q: QuickCalls;
  readonly #sync: boolean;
  #realRoot: string | undefined;
  /** Folders known to exist and to resolve inside the root. */
  #knownDirs = new Set<string>();
  /** Folders already cleared of dead writers' temporary files. */
  #swept = new Set<string>();
  readonly #lock: FsLock;

  constructor(root: string, opts: FsBackendOptions = {}) {
    this.#fs = opts.fs ?? nodeFs;
    this.#real = opts.realDisk ?? this.#fs === nodeFs;
    this.root = posix.resolve(root);
    this.url = opts.url ?? `file://${this.root}`;
    this.#fsync = (opts.fsync ?? false) && this.#real;
    this.#sync = opts.syncIO ?? true;
    this.#q = this.#sync ? syncCalls(this.#fs) : this.#fs.promises;
    this.capabilities = { conditionalWrites: 'process', localPaths: this.#real, lockScope: 'host', fsync: this.#real };
    this.#lock = new FsLock(this.#fs, this.root, this.url, (err, name) => this.#wrap(err, name));
  }

  get #p() {
    return this.#fs.promises;
  }

  /**
   * The path of a key. Keys are checked by toKey; what is checked here is where the path
   * lands: inside the root (symlinks are checked where they are met).
   */
  #path(key: string): string {
    const path = posix.resolve(this.root, key);
    if (path !== this.root && !path.startsWith(`${this.root}/`)) throw new InvalidKeyError(key, 'leaves the database root');
    return path;
  }

  async #rootReal(): Promise<string> {
    if (this.#realRoot === undefined) {
      try {
        this.#realRoot = await this.#q.realpath(this.root);
      } catch (err) {
        throw this.#wrap(err, '');
      }
    }
    return this.#realRoot;
  }

  #inside(real: string, rootReal: string): boolean {
    return real === rootReal || real.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep) || real.startsWith(`${rootReal}/`);
  }

  /** Checks that the folder holding `path` (or its nearest existing ancestor) is inside the root. */
  async #checkParent(key: string, path: string): Promise<void> {
    const dir = posix.dirname(path);
    if (dir === this.root || this.#knownDirs.has(dir)) return;
    const up = posix.dirname(dir);
    if (up === this.root || this.#knownDirs.has(up)) {
      // One lstat instead of a realpath: a real folder inside a checked one stays inside.
      try {
        const st = await this.#q.lstat(dir);
        if (st.isDirectory()) {
          this.#knownDirs.add(dir);
          return;
        }
      } catch (err) {
        if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return;
        throw this.#wrap(err, key);
      }
    }
    const rootReal = await this.#rootReal();
    let probe = dir;
    for (;;) {
      try {
        const real = await this.#q.realpath(probe);
        if (!this.#inside(real, rootReal)) throw new InvalidKeyError(key, 'resolves outside the database root (symlink)');
        if (probe === dir) this.#knownDirs.add(dir);
        return;
      } catch (err) {
        if (errno(err) !== 'ENOENT' && errno(err) !== 'ENOTDIR') throw this.#wrap(err, key);
        if (probe === this.root || probe.length <= this.root.length) return;
        probe = posix.dirname(probe);
      }
    }
  }

  /** A symlink as the last component must also resolve inside the root. */
  async #checkLink(key: string, path: string): Promise<void> {
    let st;
    try {
      st = await this.#q.lstat(path);
    } catch {
      return;
    }
    if (!st.isSymbolicLink()) return;
    let real: string;
    try {
      real = await this.#q.realpath(path);
    } catch (err) {
      throw new KeyNotFoundError(key, { cause: err });
    }
    if (!this.#inside(real, await this.#rootReal())) throw new InvalidKeyError(key, 'symlink pointing outside the database root');
  }

  #wrap(err: unknown, key: string): Error {
    if (err instanceof Error && 'code' in err && typeof (err as { code: unknown }).code === 'string' && String((err as { code: string }).code).startsWith('ROMI_')) return err;
    const code = errno(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return new KeyNotFoundError(key, { cause: err });
    if (code === 'ABORT_ERR' || (err as Error)?.name === 'AbortError') return new AbortedError({ cause: err });
    return new StorageError(`Storage error on "${key}" in ${this.url}: ${code ?? (err as Error)?.message}`, { cause: err, key });
  }

  #meta(key: string, st: Stats): ObjectMeta {
    return { key, size: Number(st.size), etag: etagOf(st), mtime: st.mtime };
  }

  /**
   * Opens a key for reading. On the real disk O_NOFOLLOW saves a syscall: only when the last
   * component is a symlink (ELOOP) is it resolved and checked to stay inside the root.
   */
  async #openRead(key: string, path: string): Promise<Awaited<ReturnType<FsLike['promises']['open']>>> {
    await this.#checkParent(key, path);
    try {
      if (this.#real) {
        try {
          return await this.#p.open(path, nodeFs.constants.O_RDONLY | nodeFs.constants.O_NOFOLLOW);
        } catch (err) {
          if (errno(err) !== 'ELOOP') throw err;
        }
      } else {
        await this.#checkLink(key, path);
        return await this.#p.open(path, 'r');
      }
    } catch (err) {
      throw this.#wrap(err, key);
    }
    await this.#checkLink(key, path);
    try {
      return await this.#p.open(path, 'r');
    } catch (err) {
      throw this.#wrap(err, key);
    }
  }

  async get(key: Key, opts: SignalOptions = {}): Promise<StoredObject> {
    throwIfAborted(opts.signal);
    const path = this.#path(key);
    if (this.#sync) {
      await this.#checkParent(key, path);
      const small = this.#getSmallSync(key, path);
      if (small) return small;
    }
    const handle = await this.#openRead(key, path);
    try {
      const st = (await handle.stat()) as Stats;
      if (!st.isFile()) throw new KeyNotFoundError(key);
      const bytes = await handle.readFile({ signal: opts.signal } as object);
      return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), meta: this.#meta(key, st) };
    } catch (err) {
      throw this.#wrap(err, key);
    } finally {
      // The bytes are read: a failing close of a read-only handle loses nothing.
      await handle.close().catch(() => {});
    }
  }

  /**
   * get() of a file of up to SMALL bytes, with synchronous calls; undefined for what the
   * asynchronous path reads instead (a larger file, a symlink to check).
   */
  #getSmallSync(key: Key, path: string): StoredObject | undefined {
    const fs = this.#fs;
    let fd: number;
    try {
      if (!this.#real && fs.lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) return undefined;
      fd = fs.openSync(path, this.#real ? nodeFs.constants.O_RDONLY | nodeFs.constants.O_NOFOLLOW : 'r');
    } catch (err) {
      if (errno(err) === 'ELOOP') return undefined;
      throw this.#wrap(err, key);
    }
    try {
      const st = fs.fstatSync(fd) as Stats;
      if (!st.isFile()) throw new KeyNotFoundError(key);
      const size = Number(st.size);
      if (size > SMALL) return undefined;
      const bytes = new Uint8Array(size);
      let done = 0;
      for (let n = -1; done < size && n !== 0; done += n) n = fs.readSync(fd, bytes, done, size - done, done);
      return { bytes: done === size ? bytes : bytes.subarray(0, done), meta: this.#meta(key, st) };
    } catch (err) {
      throw this.#wrap(err, key);
    } finally {
      // The bytes are read: a failing close of a read-only descriptor loses nothing.
      try {
        fs.closeSync(fd);
      } catch {}
    }
  }

  async getStream(key: Key, opts: GetStreamOptions = {}): Promise<{ stream: ReadableStream<Uint8Array>; meta: ObjectMeta }> {
    checkByteRange(opts.range);
    throwIfAborted(opts.signal);
    const path = this.#path(key);
    const handle = await this.#openRead(key, path);
    let st: Stats;
    try {
      st = (await handle.stat()) as Stats;
      if (!st.isFile()) throw new KeyNotFoundError(key);
    } catch (err) {
      await handle.close().catch(() => {});
      throw this.#wrap(err, key);
    }
    // Read from `start`, never past `end` nor the size the meta gives: a range costs its own
    // bytes, and a small file one read of its own size.
    let position = opts.range?.start ?? 0;
    const end = Math.min(opts.range?.end ?? Infinity, Number(st.size));
    let closed = false;
    const close = async (): Promise<void> => {
      if (!closed) {
        closed = true;
        await handle.close().catch(() => {});
      }
    };
    const stream = new ReadableStream<Uint8Array>({
      start: async (controller) => {
        // Nothing to read (an empty file or range): closed at once, not when a reader asks.
        if (position >= end) {
          await close();
          controller.close();
        }
      },
      pull: async (controller) => {
        try {
          throwIfAborted(opts.signal);
          const length = Math.min(CHUNK, end - position);
          // Not zero-filled (only the bytes read are handed on), and not from Node's shared pool.
          const buffer = new Uint8Array(Buffer.allocUnsafeSlow(Math.max(length, 0)).buffer, 0, Math.max(length, 0));
          const { bytesRead } = length > 0 ? await handle.read(buffer, 0, length, position) : { bytesRead: 0 };
          if (bytesRead === 0) {
            await close();
            controller.close();
            return;
          }
          position += bytesRead;
          controller.enqueue(bytesRead === length ? buffer : buffer.subarray(0, bytesRead));
          // The last bytes: close now. Without a read-ahead queue, a reader that stops once it has
          // the size it expected never asks again, and the file would stay open until collected.
          if (position >= end) {
            await close();
            controller.close();
          }
        } catch (err) {
          await close();
          controller.error(this.#wrap(err, key));
        }
      },
      cancel: close,
    }, { highWaterMark: 0 });
    return { stream, meta: this.#meta(key, st) };
  }

  async #mkdirs(dir: string, key: string): Promise<void> {
    if (dir === this.root || this.#knownDirs.has(dir)) return;
    try {
      await this.#q.mkdir(dir, { recursive: true });
    } catch (err) {
      if (errno(err) === 'ENOTDIR' || errno(err) === 'EEXIST') throw new InvalidKeyError(key, 'a parent of this key is a file');
      throw this.#wrap(err, key);
    }
    await this.#checkParent(key, `${dir}/x`);
  }

  async put(key: Key, body: Body, opts: PutOptions = {}): Promise<ObjectMeta> {
    throwIfAborted(opts.signal);
    const path = this.#path(key);
    if (key.endsWith('/')) {
      // Folders may have been removed behind our back: always ask for them.
      this.#knownDirs.delete(path);
      await this.#mkdirs(path, key);
      return { key, size: 0, etag: 'folder' };
    }
    const dir = posix.dirname(path);
    await this.#mkdirs(dir, key);
    await this.#checkParent(key, path);
    if (this.#real && !this.#swept.has(dir)) {
      this.#swept.add(dir);
      await this.#sweepTemps(dir);
    }
    const temp = `${dir}/${INTERNAL_PREFIX}${process.pid.toString(36)}-${(tempCounter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}.tmp`;
    let st: Stats;
    try {
      st = this.#sync && body instanceof Uint8Array && body.byteLength <= (this.#real ? SMALL_WRITE_ON_DISK : SMALL) ? this.#writeTempSync(temp, body) : await this.#writeTemp(temp, body, opts.signal);
    } catch (err) {
      await this.#q.unlink(temp).catch(() => {});
      if (errno(err) === 'ENOENT' && body instanceof Uint8Array && this.#knownDirs.has(dir)) {
        // The folder was removed by someone else since we made it: make it again, once.
        this.#forgetDirs(dir);
        return this.put(key, body, opts);
      }
      throw this.#wrap(err, key);
    }
    const conditional = opts.ifNoneMatch === '*' || opts.ifMatch !== undefined;
    const commit = async (): Promise<void> => {
      try {
        if (opts.ifNoneMatch === '*') {
          // link() fails if the target exists, atomically, even against other processes.
          try {
            await this.#q.link(temp, path);
          } catch (err) {
            if (errno(err) === 'EEXIST') throw new ConditionFailedError(key, 'the object already exists');
            throw err;
          }
          // Committed: the temporary name is only a leftover now (check() finds it if this fails).
          await this.#q.unlink(temp).catch(() => {});
          return;
        }
        if (opts.ifMatch !== undefined) {
          let current: Stats | undefined;
          try {
            current = (await this.#q.stat(path)) as Stats;
          } catch (err) {
            if (errno(err) !== 'ENOENT') throw err;
          }
          if (!current) throw new ConditionFailedError(key, 'the object does not exist');
          if (etagOf(current) !== opts.ifMatch) throw new ConditionFailedError(key);
        }
        await this.#q.rename(temp, path);
      } catch (err) {
        await this.#q.unlink(temp).catch(() => {});
        if (errno(err) === 'EISDIR' || errno(err) === 'ENOTEMPTY') throw new InvalidKeyError(key, 'a folder is stored at this key');
        throw this.#wrap(err, key);
      }
    };
    if (conditional) await commits.run(path, commit);
    else await commit();
    if (this.#fsync) await this.#syncDir(dir, key);
    return this.#meta(key, st);
  }

  /**
   * Removes the temporary files that writers killed mid-write left in `dir` (their pid, in the
   * name, is dead). Only a writer calls this, under the lock, once per folder per process.
   */
  async #sweepTemps(dir: string): Promise<void> {
    let names: string[];
    try {
      names = (await this.#q.readdir(dir)) as string[];
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(INTERNAL_PREFIX) || !name.endsWith('.tmp')) continue;
      const pid = parseInt(name.slice(INTERNAL_PREFIX.length), 36);
      if (Number.isSafeInteger(pid) && pid !== process.pid && !pidAlive(pid)) await this.#q.unlink(`${dir}/${name}`).catch(() => {});
    }
  }

  async #writeTemp(temp: string, body: Body, signal?: AbortSignal): Promise<Stats> {
    const handle = await this.#p.open(temp, 'wx');
    try {
      if (body instanceof Uint8Array) {
        await handle.writeFile(asBuffer(body));
      } else {
        for await (const chunk of iterateBody(body)) {
          throwIfAborted(signal);
          let offset = 0;
          while (offset < chunk.byteLength) {
            const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
            offset += bytesWritten;
          }
        }
      }
      if (this.#fsync) await handle.sync();
      return (await handle.stat()) as Stats;
    } finally {
      await handle.close();
    }
  }

  /** #writeTemp of a small body, with synchronous calls. */
  #writeTempSync(temp: string, body: Uint8Array): Stats {
    const fs = this.#fs;
    const bytes = asBuffer(body);
    const fd = fs.openSync(temp, 'wx');
    try {
      for (let offset = 0; offset < bytes.byteLength; ) {
        const written = fs.writeSync(fd, bytes, offset, bytes.byteLength - offset);
        if (written <= 0) throw Object.assign(new Error('write() wrote nothing'), { code: 'EIO' });
        offset += written;
      }
      if (this.#fsync) fs.fsyncSync(fd);
      return fs.fstatSync(fd) as Stats;
    } finally {
      fs.closeSync(fd);
    }
  }

  async #syncDir(dir: string, key: string): Promise<void> {
    try {
      const handle = await this.#p.open(dir, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw this.#wrap(err, key);
    }
  }

  async head(key: Key, opts: SignalOptions = {}): Promise<ObjectMeta | undefined> {
    throwIfAborted(opts.signal);
    const path = this.#path(key);
    await this.#checkParent(key, path);
    let st: Stats | undefined;
    try {
      // Missing is the common answer here: without an exception when the call is synchronous.
      st = (await this.#q.lstat(path, { throwIfNoEntry: false } as object)) as Stats | undefined;
      if (!st) return undefined;
      if (st.isSymbolicLink()) {
        await this.#checkLink(key, path);
        st = (await this.#q.stat(path)) as Stats;
      }
    } catch (err) {
      const e = this.#wrap(err, key);
      if ((e as { code?: string }).code === 'ROMI_NOT_FOUND') return undefined;
      throw e;
    }
    if (key.endsWith('/')) return st.isDirectory() ? { key, size: 0, etag: 'folder', mtime: st.mtime } : undefined;
    return st.isFile() ? this.#meta(key, st) : undefined;
  }

  async delete(key: Key, opts: SignalOptions = {}): Promise<void> {
    throwIfAborted(opts.signal);
    const path = this.#path(key);
    await this.#checkParent(key, path);
    try {
      if (!key.endsWith('/')) {
        try {
          await this.#q.unlink(path);
        } catch (err) {
          // A folder at a file key is not what was meant: unlink says EISDIR on Linux, EPERM elsewhere.
          if (errno(err) === 'EPERM' && (await this.#q.lstat(path)).isDirectory()) return;
          throw err;
        }
        return;
      }
      // Only a real folder is removed: a file or a link at a folder key is not what was meant.
      if (!(await this.#q.lstat(path)).isDirectory()) return;
      // Rename the folder away first: the removal itself is not atomic, the rename is.
      const trash = `${this.root}/${INTERNAL_PREFIX}trash-${process.pid.toString(36)}-${(tempCounter++).toString(36)}`;
      await this.#q.rename(path, trash);
      this.#forgetDirs(path);
      await this.#p.rm(trash, { recursive: true, force: true });
    } catch (err) {
      // Nothing of the kind asked for is there: a missing key, or a folder at a file key.
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR' || errno(err) === 'EISDIR') return;
      throw this.#wrap(err, key);
    }
  }

  #forgetDirs(path: string): void {
    for (const d of this.#knownDirs) if (d === path || d.startsWith(`${path}/`)) this.#knownDirs.delete(d);
  }

  async *list(prefix: Key | '', opts: ListOptions = {}): AsyncIterable<ListEntry> {
    const slash = prefix.lastIndexOf('/');
    const dirKey = prefix.slice(0, slash + 1);
    const namePrefix = prefix.slice(slash + 1);
    const dirPath = dirKey === '' ? this.root : this.#path(dirKey);
    if (dirKey !== '') await this.#checkParent(dirKey, `${dirPath}/x`);
    yield* this.#walk(dirKey, dirPath, namePrefix, opts.delimiter === '/', opts.internal === true, opts.signal);
  }

  async *#walk(dirKey: string, dirPath: string, namePrefix: string, oneLevel: boolean, internal: boolean, signal?: AbortSignal): AsyncIterable<ListEntry> {
    throwIfAborted(signal);
    let entries: import("node:fs").Dirent[];
    try {
      entries = (await this.#q.readdir(dirPath, { withFileTypes: true })) as import("node:fs").Dirent[];
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return;
      throw this.#wrap(err, dirKey);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const name = String(entry.name);
      const ours = name.startsWith(INTERNAL_PREFIX);
      if ((ours && !internal) || !name.startsWith(namePrefix)) continue;
      const key = dirKey + name;
      const path = `${dirPath}/${name}`;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        // Followed only when it resolves inside the root.
        try {
          const real = await this.#q.realpath(path);
          if (!this.#inside(real, await this.#rootReal())) continue;
          const st = await this.#q.stat(path);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch {
          continue;
        }
      }
      if (isDir) {
        // A real folder inside a checked one needs no realpath check later.
        if (!entry.isSymbolicLink() && (dirPath === this.root || this.#knownDirs.has(dirPath))) this.#knownDirs.add(path);
        if (oneLevel) {
          yield { kind: 'prefix', key: `${key}/` };
        } else if (ours) {
          yield { kind: 'object', key: `${key}/`, size: 0, etag: 'folder' };
        } else {
          yield { kind: 'object', key: `${key}/`, size: 0, etag: 'folder' };
          yield* this.#walk(`${key}/`, path, '', false, internal, signal);
        }
      } else if (isFile) {
        let st: Stats;
        try {
          st = (await this.#q.stat(path)) as Stats;
        } catch (err) {
          if (errno(err) === 'ENOENT') continue;
          throw this.#wrap(err, key);
        }
        yield { kind: 'object', ...this.#meta(key, st) };
      }
    }
  }

  // ---- the writer lock (fs-lock.ts) ----

  inspectLock(name: string, opts: SignalOptions & { staleMs?: number } = {}): Promise<LockInfo | undefined> {
    return this.#lock.inspect(name, opts);
  }

  forceUnlock(name: string): Promise<void> {
    return this.#lock.forceUnlock(name);
  }

  lock(name: string, opts: LockOptions = {}): Promise<LockHandle> {
    return this.#lock.acquire(name, opts);
  }

  localPath(key: Key): string | undefined {
    return this.#real ? this.#path(key) : undefined;
  }
}

/** A Buffer view of the same bytes: memfs copies anything else into a new Buffer first, byte by byte. */
function asBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
