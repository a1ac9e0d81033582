/**
 * RomiDB: the one implementation of DB over any Backend (scans, filesets and files are in
 * scan.ts, fileset.ts and file.ts; what they need of the database goes through a private
 * port, port.ts).
 *
 * Nothing is read eagerly: connect() checks the marker and takes the writer lock; a scan's
 * files.json and each metadata JSON are read on first use and cached. A writer holds the
 * lock, so its caches stay true; a read-only connection sees others' changes after reload().
 * Every change is a conditional write (ifMatch / ifNoneMatch) retried on conflict, so even
 * a tool that ignores the lock cannot be silently overwritten.
 */
import { bodyToBytes, type Backend, type Body, type LockHandle, type PutOptions } from './backend.js';
import { runCheck } from './check.js';
import { assertVacant, removeFolderIfEmpty, Undo } from './claims.js';
import {
  ErrorCodes,
  InvalidArgumentError,
  isRomiError,
  LockLostError,
  NotADatabaseError,
  NotConnectedError,
  ReadOnlyError,
  ScanExistsError,
  ScanNotFoundError,
  throwIfAborted,
} from './errors.js';
import { assertLookupId, assertValidId, assertWritableId } from './ids.js';
import type { Key } from './key.js';
import { keys, LOCK_NAME, MARKER_KEY, SCAN_LIST_KEY, storedNameProblem } from './layout.js';
import { validateMetadata } from './metadata.js';
import { attachPort, type PendingIndex, type Port } from './port.js';
import { parseJson } from './json.js';
import { assertQuery, selectByMetadata } from './query.js';
import { ScanImpl } from './scan.js';
import type { CheckOptions, CheckReport, ConnectOptions, CreateOptions, DB, QueryOptions, Scan, SignalOptions } from './types.js';
import { KeyedMutex, mapLimit, utf8 } from './util.js';

/** Below this many scans no scan list is stored (looking into a few folders is cheap). */
const SCAN_LIST_MIN = 100;
/** A larger scan list is not read (about 3 million ids): it was not written by romidb. */
const SCAN_LIST_MAX_BYTES = 64 << 20;

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function encodeScanList(ids: Iterable<string>): Uint8Array {
  return utf8.encode(`${JSON.stringify({ scans: [...ids].sort() })}\n`);
}

export interface RomiDBOptions {
  /** A writer lock not refreshed for this long is stale and may be taken over (default 10 s). */
  lockStaleMs?: number;
  /** Parallel reads when listing or querying many objects (default 16). */
  concurrency?: number;
}

/** Raw writes for tools that write the layout themselves (archive import): each checks the writer lock first. */
export interface StorageWriter {
  put(key: Key, body: Body, opts?: PutOptions): Promise<string>;
  delete(key: Key, opts?: SignalOptions): Promise<void>;
}

export class RomiDB implements DB {
  readonly backend: Backend;
  readonly options: Required<RomiDBOptions>;
  #connected = false;
  #readOnly = false;
  #lock: LockHandle | undefined;
  #lockLost: Error | undefined;
  #scanIds: Set<string> | undefined;
  /** The stored scan list (SCAN_LIST_KEY) as last read; undefined when there is none. */
  #storedScanList: Set<string> | undefined;
  /** Scans this writer created since connect(): known to be scans without looking. */
  #createdScans = new Set<string>();
  /** Whether this writer created or deleted scans: disconnect() brings the stored list up to date. */
  #scansChanged = false;
  #scans = new Map<string, ScanImpl>();
  #mutex = new KeyedMutex();
  /** Scan objects with index changes to write (see Port.pendingIndexes). */
  #pendingIndexes = new Set<PendingIndex>();
  readonly #port: Port;

  constructor(backend: Backend, options: RomiDBOptions = {}) {
    this.backend = backend;
    this.options = { lockStaleMs: options.lockStaleMs ?? 10_000, concurrency: options.concurrency ?? 16 };
    this.#port = {
      db: this,
      backend,
      concurrency: this.options.concurrency,
      lockStaleMs: this.options.lockStaleMs,
      assertConnected: () => this.#assertConnected(),
      assertWritable: (what) => this.#assertWritable(what),
      runExclusive: (key, fn) => this.#mutex.run(key, fn),
      write: async (key, body, opts) => {
        this.#assertWritable(opts.what);
        return (await backend.put(key, body, opts)).etag;
      },
      hasScan: (id, opts) => this.hasScan(id, opts),
      scanIndex: (id) => this.#scanObject(id),
      forgetAll: () => this.#forgetAll(),
      pendingIndexes: this.#pendingIndexes,
    };
    attachPort(this, this.#port);
  }

  get url(): string {
    return this.backend.url;
  }
  get isConnected(): boolean {
    return this.#connected;
  }
  get readOnly(): boolean {
    return this.#readOnly;
  }

  async connect(opts: ConnectOptions = {}): Promise<void> {
    const readOnly = opts.readOnly ?? false;
    if (this.#connected) {
      if (readOnly === this.#readOnly) return;
      throw new InvalidArgumentError(`Already connected ${this.#readOnly ? 'read-only' : 'as writer'}; disconnect() first`);
    }
    throwIfAborted(opts.signal);
    if (!(await this.backend.head(MARKER_KEY, { signal: opts.signal }))) throw new NotADatabaseError(this.url);
    if (!readOnly) {
      this.#lockLost = undefined;
      this.#lock = await this.backend.lock(LOCK_NAME, {
        waitMs: opts.waitMs ?? 0,
        staleMs: this.options.lockStaleMs,
        signal: opts.signal,
        onLost: (err) => {
          this.#lockLost = err;
        },
      });
    }
    this.#readOnly = readOnly;
    this.#connected = true;
    this.#createdScans.clear();
    this.#scansChanged = false;
    this.#forgetAll();
  }

  async disconnect(): Promise<void> {
    if (!this.#connected) return;
    // The entries createFile left pending go in before the lock does; if they cannot, the lock
    // is released all the same and the failure reported.
    let failure: unknown;
    await this.#flushIndexes().catch((err: unknown) => {
      failure = err;
    });
    await this.#saveScanList();
    this.#connected = false;
    // What could not be written is dropped (and reported below), also in objects reload() replaced.
    for (const scan of [...this.#pendingIndexes]) scan.forget();
    this.#forgetAll();
    const lock = this.#lock;
    this.#lock = undefined;
    if (lock) await lock.release();
    if (failure !== undefined) throw failure;
  }

  /** Writes the index entries that createFile left pending (ScanImpl.deferIndexChange), if any. */
  async #flushIndexes(): Promise<void> {
    if (!this.#connected || this.#readOnly) return;
    for (const scan of [...this.#pendingIndexes]) await scan.flushIndex();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
  }

  /**
   * Raw writes under the writer lock, for tools that write the layout themselves (an archive
   * import): every put and delete checks first that this database is connected as the writer
   * and still holds its lock.
   */
  storageWriter(): StorageWriter {
    return {
      put: (key, body, opts = {}) => this.#port.write(key, body, { ...opts, what: 'write to the database' }),
      delete: async (key, opts) => {
        this.#assertWritable('write to the database');
        await this.backend.delete(key, opts);
      },
    };
  }

  #assertConnected(): void {
    if (!this.#connected) throw new NotConnectedError(this.url);
  }

  #assertWritable(what: string): void {
    this.#assertConnected();
    if (this.#readOnly) throw new ReadOnlyError(what);
    if (this.#lockLost) throw new LockLostError(`Cannot ${what}: the writer lock was lost (${this.#lockLost.message})`, { cause: this.#lockLost });
    this.#lock?.assertHeld();
  }

  #forgetAll(): void {
    this.#scanIds = undefined;
    for (const scan of this.#scans.values()) scan.forget();
    this.#scans.clear();
  }

  async #isScanFolder(id: string, signal?: AbortSignal): Promise<boolean> {
    if (await this.backend.head(keys.index(id), { signal })) return true;
    for await (const _ of this.backend.list(keys.metadataFolder(id), { delimiter: '/', signal })) return true;
    return false;
  }

  /**
   * The scans: the folders of the root that hold files.json or metadata/. Looking into each
   * folder costs a request per folder on object storage (2,000 HEADs for 2,000 scans), so a
   * writer keeps a list of the folders it found to be scans (SCAN_LIST_KEY) and a listing looks
   * only into the folders the list does not name. The list only confirms folders the listing
   * finds: a scan made by another tool is looked into and found, a deleted one is not listed.
   */
  async #scanIdSet(signal?: AbortSignal): Promise<Set<string>> {
    if (!this.#scanIds) {
      const [candidates, stored] = await Promise.all([this.#rootFolders(signal), this.#readScanList(signal)]);
      await this.#judgeFolders(candidates, stored, signal);
    }
    return this.#scanIds!;
  }

  /** Sets #scanIds from the root's folders, looking into those the stored list does not name. */
  async #judgeFolders(candidates: string[], stored: Set<string> | undefined, signal?: AbortSignal): Promise<void> {
    const known = (id: string): boolean => stored?.has(id) === true || this.#createdScans.has(id);
    const unknown = candidates.filter((id) => !known(id));
    const isScan = await mapLimit(unknown, this.options.concurrency, (id) => this.#isScanFolder(id, signal), signal);
    const found = new Set(unknown.filter((_, i) => isScan[i]));
    this.#scanIds = new Set(candidates.filter((id) => known(id) || found.has(id)));
    this.#storedScanList = stored;
  }

  async #rootFolders(signal?: AbortSignal): Promise<string[]> {
    const names: string[] = [];
    for await (const entry of this.backend.list('', { delimiter: '/', signal })) {
      if (entry.kind !== 'prefix') continue;
      const name = entry.key.slice(0, -1);
      if (name.startsWith('.') || name === LOCK_NAME || storedNameProblem(name) !== undefined) continue;
      names.push(name);
    }
    return names;
  }

  /**
   * The stored scan list, or undefined when there is none, or it cannot be read or is larger
   * than SCAN_LIST_MAX_BYTES (a writer then rewrites it): at most that much is ever read.
   */
  async #readScanList(signal?: AbortSignal): Promise<Set<string> | undefined> {
    try {
      const { stream, meta } = await this.backend.getStream(SCAN_LIST_KEY, { range: { start: 0, end: SCAN_LIST_MAX_BYTES }, signal });
      if (meta.size > SCAN_LIST_MAX_BYTES) {
        await stream.cancel();
        return undefined;
      }
      const bytes = await bodyToBytes(stream);
      const { scans } = parseJson(bytes) as { scans?: unknown };
      return Array.isArray(scans) ? new Set(scans.filter((id): id is string => typeof id === 'string')) : undefined;
    } catch (err) {
      if (isRomiError(err, ErrorCodes.ABORTED)) throw err;
      return undefined;
    }
  }

  /**
   * A writer's disconnect rewrites the stored scan list when it no longer matches the scans
   * (created, deleted, or found by looking into folders). Only a cache: if this fails, later
   * listings look into more folders, nothing else.
   */
  async #saveScanList(): Promise<void> {
    if (this.#readOnly || this.#lockLost || !(this.#scansChanged || this.#scanIds)) return;
    try {
      if (!this.#scanIds) {
        // Scans were created or deleted without a listing: list the root, but look into its
        // folders only where a list will be kept (a small database pays one listing, no more).
        const candidates = await this.#rootFolders();
        if (candidates.length < SCAN_LIST_MIN) return;
        await this.#judgeFolders(candidates, await this.#readScanList());
      }
      const ids = this.#scanIds!;
      const stored = this.#storedScanList;
      if (stored ? sameSet(stored, ids) : ids.size < SCAN_LIST_MIN) return;
      this.#assertWritable('record the scans');
      await this.backend.put(SCAN_LIST_KEY, encodeScanList(ids));
    } catch {
      // Nothing lost: see above.
    }
  }

  #scanObject(id: string): ScanImpl {
    let scan = this.#scans.get(id);
    if (!scan) {
      scan = new ScanImpl(this.#port, id);
      this.#scans.set(id, scan);
    }
    return scan;
  }

  // ---- DB ----

  async listScans(opts: QueryOptions = {}): Promise<string[]> {
    throwIfAborted(opts.signal);
    assertQuery(opts.query, opts.fuzzy);
    this.#assertConnected();
    const ids = [...(await this.#scanIdSet(opts.signal))].sort();
    return selectByMetadata(ids, (id) => this.#scanObject(id), this.options.concurrency, opts);
  }

  async getScans(opts: QueryOptions = {}): Promise<Scan[]> {
    throwIfAborted(opts.signal);
    return (await this.listScans(opts)).map((id) => this.#scanObject(id));
  }

  async hasScan(id: string, opts: SignalOptions = {}): Promise<boolean> {
    throwIfAborted(opts.signal);
    assertLookupId('scan', id);
    this.#assertConnected();
    if (this.#scanIds) return this.#scanIds.has(id);
    if (this.#scans.has(id)) return true;
    return this.#isScanFolder(id, opts.signal);
  }

  async getScan(id: string, opts: SignalOptions = {}): Promise<Scan> {
    throwIfAborted(opts.signal);
    if (!(await this.hasScan(id, opts))) throw new ScanNotFoundError(id);
    return this.#scanObject(id);
  }

  async createScan(id: string, opts: CreateOptions = {}): Promise<Scan> {
    throwIfAborted(opts.signal);
    assertValidId('scan', id);
    const metadata = opts.metadata === undefined ? {} : validateMetadata(opts.metadata);
    this.#assertWritable('create a scan');
    return this.#mutex.run(`scan:${id}`, async () => {
      if (await this.hasScan(id, opts)) throw new ScanExistsError(id);
      const what = `scan "${id}"`;
      const folder = keys.scanFolder(id);
      await assertVacant(this.backend, what, { folders: [folder] }, opts);
      const folderExisted = (await this.backend.head(folder, opts)) !== undefined;
      const scan = this.#scanObject(id);
      await Undo.run(
        () => this.#assertWritable('undo a failed scan creation'),
        async (undo) => {
          const removeIndex = async () => {
            scan.forget();
            this.#scans.delete(id);
            await this.backend.delete(keys.index(id));
            if (!folderExisted) await removeFolderIfEmpty(this.backend, folder);
          };
          await undo.created(removeIndex, async () => {
            try {
              // files.json is created only if absent: of two racing creators exactly one wins.
              await scan.createIndex(opts);
            } catch (err) {
              if (isRomiError(err, ErrorCodes.CONDITION_FAILED)) throw new ScanExistsError(id);
              throw err;
            }
          });
          await undo.created(
            () => this.backend.delete(keys.scanMetadata(id)),
            () => scan.metadataStore.create(metadata, what, opts),
          );
        },
      );
      this.#scanIds?.add(id);
      this.#createdScans.add(id);
      this.#scansChanged = true;
      return scan;
    });
  }

  async deleteScan(id: string, opts: SignalOptions = {}): Promise<void> {
    throwIfAborted(opts.signal);
    assertLookupId('scan', id);
    assertWritableId('scan', id);
    this.#assertWritable('delete a scan');
    await this.#mutex.run(`scan:${id}`, async () => {
      if (!(await this.hasScan(id, opts))) throw new ScanNotFoundError(id);
      await this.#unlistScan(id, opts.signal);
      // The index goes first: a reader never sees entries whose data is being removed.
      await this.backend.delete(keys.index(id), opts);
      // Past this point the scan is gone: an abort no longer stops its removal.
      this.#assertWritable('delete a scan');
      await this.backend.delete(keys.scanFolder(id));
      this.#scans.get(id)?.forget();
      this.#scans.delete(id);
      this.#scanIds?.delete(id);
      this.#createdScans.delete(id);
      this.#scansChanged = true;
    });
  }

  /**
   * Takes a scan out of the stored list before the scan is deleted: a scan deleted halfway
   * (killed writer) is then judged by its folder again, never listed by the list alone.
   */
  async #unlistScan(id: string, signal?: AbortSignal): Promise<void> {
    // One change of the list at a time: two deletes must not each write back the other's scan.
    await this.#mutex.run(SCAN_LIST_KEY, async () => {
      const recorded = await this.#readScanList(signal);
      if (!recorded?.has(id)) return;
      recorded.delete(id);
      this.#assertWritable('delete a scan');
      await this.backend.put(SCAN_LIST_KEY, encodeScanList(recorded), { signal });
      this.#storedScanList = recorded;
    });
  }

  async reload(scanId?: string): Promise<void> {
    await this.#flushIndexes();
    if (scanId === undefined) {
      this.#forgetAll();
      return;
    }
    assertLookupId('scan', scanId);
    this.#scans.get(scanId)?.forget();
    this.#scans.delete(scanId);
    this.#scanIds = undefined;
  }

  async check(opts: CheckOptions = {}): Promise<CheckReport> {
    throwIfAborted(opts.signal);
    this.#assertConnected();
    if (opts.fix) this.#assertWritable('repair the database');
    // check() reads storage: what this writer created is there first.
    await this.#flushIndexes();
    const scans = new Set<string>();
    const report = await runCheck(this.#port, opts, scans);
    if (opts.fix) this.#forgetAll();
    if (!this.#readOnly && opts.scans === undefined) {
      // check() looked into every folder: the scans it found, not the stored list (a tool may
      // have stripped a listed scan of files.json and metadata/); disconnect() rewrites the list.
      this.#scanIds = scans;
      this.#storedScanList = await this.#readScanList(opts.signal);
    }
    return report;
  }
}
