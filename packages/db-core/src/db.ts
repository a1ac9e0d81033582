/**
 * The one implementation of DB / Scan / Fileset / File, over any Backend.
 *
 * Nothing is read eagerly: connect() checks the marker and takes the writer lock; a scan's
 * files.json and each metadata JSON are read on first use and cached. A writer holds the
 * lock, so its caches stay true; a read-only connection sees others' changes after reload().
 * Every change is a conditional write (ifMatch / ifNoneMatch) retried on conflict, so even
 * a tool that ignores the lock cannot be silently overwritten.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Backend, Body, LockHandle } from './backend.js';
import {
  ConditionFailedError,
  ErrorCodes,
  FileExistsError,
  FileNotFoundError,
  FilesetExistsError,
  FilesetNotFoundError,
  InvalidArgumentError,
  InvalidIdError,
  isRomiError,
  LockLostError,
  NotADatabaseError,
  NotConnectedError,
  ReadOnlyError,
  ScanExistsError,
  ScanNotFoundError,
  throwIfAborted,
} from './errors.js';
import { assertValidId, assertWritableId, type IdKind } from './ids.js';
import { assertVacant, putNew, removeFolderIfEmpty, Undo } from './claims.js';
import { formatPythonJson } from './json.js';
import { keys, LOCK_NAME, MARKER_KEY, ScanIndex, storedNameProblem } from './layout.js';
import { metadataChanges, MetadataStore, readJsonObject, validateMetadata, type MetadataHost } from './metadata.js';
import { assertQuery, isEmptyQuery, matchesQuery } from './query.js';
import { runCheck } from './check.js';
import type {
  CheckOptions,
  CheckReport,
  ConnectOptions,
  CreateFilesOptions,
  CreateOptions,
  DB,
  File,
  Fileset,
  Metadata,
  NewFile,
  QueryOptions,
  Scan,
  SignalOptions,
} from './types.js';
import { KeyedMutex, mapLimit, utf8 } from './util.js';

export interface RomiDBOptions {
  /** A writer lock not refreshed for this long is stale and may be taken over (default 10 s). */
  lockStaleMs?: number;
  /** Parallel reads when listing or querying many objects (default 16). */
  concurrency?: number;
}

const MAX_ATTEMPTS = 8;

/** The ids whose object's metadata matches the query of `opts` (all of them without one). */
async function selectByMetadata(
  ids: string[],
  holder: (id: string) => { getMetadata(): Promise<Metadata> },
  concurrency: number,
  opts: QueryOptions,
): Promise<string[]> {
  if (isEmptyQuery(opts.query)) return ids;
  const keep = await mapLimit(ids, concurrency, async (id) => matchesQuery(await holder(id).getMetadata(), opts.query, opts.fuzzy), opts.signal);
  return ids.filter((_, i) => keep[i]);
}

/** Ids used to look objects up: anything that cannot be a single folder or file name is refused. */
function assertLookupId(kind: IdKind, id: unknown): asserts id is string {
  if (typeof id !== 'string') throw new InvalidIdError(kind, id, 'ids are strings');
  const problem = storedNameProblem(id) ?? (id.includes('/') ? 'contains "/"' : undefined);
  if (problem !== undefined) throw new InvalidIdError(kind, id, problem);
}

/** '.png' and 'png' both give 'png'; the resulting file name must be one safe segment. */
function filenameFor(id: string, ext: unknown): string {
  if (typeof ext !== 'string') throw new InvalidArgumentError(`File extension must be a string, got ${typeof ext}`);
  const clean = ext.startsWith('.') ? ext.slice(1) : ext;
  if (!/^[A-Za-z0-9_.+-]*$/.test(clean) || clean.startsWith('.') || clean.endsWith('.') || clean.length > 32) {
    throw new InvalidArgumentError(`Invalid file extension ${JSON.stringify(ext)}: letters, digits, "_", "-", "+" and inner "." only, at most 32`);
  }
  const name = clean === '' ? id : `${id}.${clean}`;
  if (name.length > 255) throw new InvalidArgumentError(`File name "${name}" is longer than 255 characters`);
  return name;
}

export class RomiDB implements DB {
  readonly backend: Backend;
  readonly options: Required<RomiDBOptions>;
  #connected = false;
  #readOnly = false;
  #lock: LockHandle | undefined;
  #lockLost: Error | undefined;
  #scanIds: Set<string> | undefined;
  #scans = new Map<string, ScanImpl>();
  #mutex = new KeyedMutex();

  constructor(backend: Backend, options: RomiDBOptions = {}) {
    this.backend = backend;
    this.options = { lockStaleMs: options.lockStaleMs ?? 10_000, concurrency: options.concurrency ?? 16 };
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
    this.#forgetAll();
  }

  async disconnect(): Promise<void> {
    if (!this.#connected) return;
    this.#connected = false;
    this.#forgetAll();
    const lock = this.#lock;
    this.#lock = undefined;
    if (lock) await lock.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
  }

  // ---- used by scans, filesets, files ----

  assertConnected(): void {
    if (!this.#connected) throw new NotConnectedError(this.url);
  }

  assertWritable(what: string): void {
    this.assertConnected();
    if (this.#readOnly) throw new ReadOnlyError(what);
    if (this.#lockLost) throw new LockLostError(`Cannot ${what}: the writer lock was lost (${this.#lockLost.message})`, { cause: this.#lockLost });
    this.#lock?.assertHeld();
  }

  runExclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.#mutex.run(key, fn);
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

  async #scanIdSet(signal?: AbortSignal): Promise<Set<string>> {
    if (!this.#scanIds) {
      const candidates: string[] = [];
      for await (const entry of this.backend.list('', { delimiter: '/', signal })) {
        if (entry.kind !== 'prefix') continue;
        const name = entry.key.slice(0, -1);
        if (name.startsWith('.') || name === LOCK_NAME || storedNameProblem(name) !== undefined) continue;
        candidates.push(name);
      }
      const isScan = await mapLimit(candidates, this.options.concurrency, (id) => this.#isScanFolder(id, signal), signal);
      this.#scanIds = new Set(candidates.filter((_, i) => isScan[i]));
    }
    return this.#scanIds;
  }

  #scanObject(id: string): ScanImpl {
    let scan = this.#scans.get(id);
    if (!scan) {
      scan = new ScanImpl(this, id);
      this.#scans.set(id, scan);
    }
    return scan;
  }

  // ---- DB ----

  async listScans(opts: QueryOptions = {}): Promise<string[]> {
    assertQuery(opts.query, opts.fuzzy);
    this.assertConnected();
    const ids = [...(await this.#scanIdSet(opts.signal))].sort();
    return selectByMetadata(ids, (id) => this.#scanObject(id), this.options.concurrency, opts);
  }

  async getScans(opts: QueryOptions = {}): Promise<Scan[]> {
    return (await this.listScans(opts)).map((id) => this.#scanObject(id));
  }

  async hasScan(id: string, opts: SignalOptions = {}): Promise<boolean> {
    assertLookupId('scan', id);
    this.assertConnected();
    if (this.#scanIds) return this.#scanIds.has(id);
    if (this.#scans.has(id)) return true;
    return this.#isScanFolder(id, opts.signal);
  }

  async getScan(id: string, opts: SignalOptions = {}): Promise<Scan> {
    if (!(await this.hasScan(id, opts))) throw new ScanNotFoundError(id);
    return this.#scanObject(id);
  }

  async createScan(id: string, opts: CreateOptions = {}): Promise<Scan> {
    assertValidId('scan', id);
    const metadata = opts.metadata === undefined ? {} : validateMetadata(opts.metadata);
    this.assertWritable('create a scan');
    return this.runExclusive(`scan:${id}`, async () => {
      if (await this.hasScan(id, opts)) throw new ScanExistsError(id);
      const what = `scan "${id}"`;
      const folder = keys.scanFolder(id);
      await assertVacant(this.backend, what, { folders: [folder] }, opts.signal);
      const folderExisted = (await this.backend.head(folder, opts)) !== undefined;
      const scan = this.#scanObject(id);
      await Undo.run(
        () => this.assertWritable('undo a failed scan creation'),
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
              await scan.createIndex(opts.signal);
            } catch (err) {
              if (isRomiError(err, ErrorCodes.CONDITION_FAILED)) throw new ScanExistsError(id);
              throw err;
            }
          });
          await undo.created(
            () => this.backend.delete(keys.scanMetadata(id)),
            () => scan.metadataStore.create(metadata, what, opts.signal),
          );
        },
      );
      this.#scanIds?.add(id);
      return scan;
    });
  }

  async deleteScan(id: string, opts: SignalOptions = {}): Promise<void> {
    assertLookupId('scan', id);
    assertWritableId('scan', id);
    this.assertWritable('delete a scan');
    await this.runExclusive(`scan:${id}`, async () => {
      if (!(await this.hasScan(id, opts))) throw new ScanNotFoundError(id);
      // The index goes first: a reader never sees entries whose data is being removed.
      await this.backend.delete(keys.index(id), opts);
      this.assertWritable('delete a scan');
      await this.backend.delete(keys.scanFolder(id), opts);
      this.#scans.get(id)?.forget();
      this.#scans.delete(id);
      this.#scanIds?.delete(id);
    });
  }

  async reload(scanId?: string): Promise<void> {
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
    this.assertConnected();
    if (opts.fix) this.assertWritable('repair the database');
    const report = await runCheck(this, opts);
    if (opts.fix) this.#forgetAll();
    return report;
  }

  /** Internal: put that checks the lock first. */
  async write(key: string, body: Body, opts: Parameters<Backend['put']>[2] & { what: string }): Promise<string> {
    this.assertWritable(opts.what);
    const meta = await this.backend.put(key, body, opts);
    return meta.etag;
  }
}

/** getMetadata/setMetadata, shared by scans, filesets and files. */
abstract class WithMetadata {
  abstract readonly metadataStore: MetadataStore;
  abstract get db(): RomiDB;

  /** Throws when the object no longer exists (checked before its metadata is written). */
  protected async assertExists(): Promise<void> {}

  /** Throws unless the database takes writes and this object's ids are ones romidb may change. */
  abstract assertWritableIds(what: string): void;

  getMetadata(): Promise<Metadata>;
  getMetadata<T = unknown>(key: string, fallback?: T): Promise<T>;
  async getMetadata(key?: string, fallback?: unknown): Promise<any> {
    this.db.assertConnected();
    return this.metadataStore.get(key, fallback);
  }

  setMetadata(data: Metadata): Promise<void>;
  setMetadata(key: string, value: unknown): Promise<void>;
  async setMetadata(dataOrKey: Metadata | string, value?: unknown): Promise<void> {
    const changes = metadataChanges(dataOrKey, value, arguments.length);
    this.assertWritableIds('set metadata');
    await this.assertExists();
    await this.metadataStore.merge(changes);
  }
}

interface IndexState {
  index: ScanIndex;
  /** undefined when files.json does not exist. */
  etag: string | undefined;
}

export class ScanImpl extends WithMetadata implements Scan {
  readonly metadataStore: MetadataStore;
  #index: IndexState | undefined;
  #filesets = new Map<string, FilesetImpl>();

  constructor(
    readonly db: RomiDB,
    readonly id: string,
  ) {
    super();
    this.metadataStore = new MetadataStore(db as MetadataHost, () => keys.scanMetadata(id));
  }

  forget(): void {
    this.#index = undefined;
    this.metadataStore.forget();
    for (const fs of this.#filesets.values()) fs.forget();
    this.#filesets.clear();
  }

  async loadIndex(signal?: AbortSignal): Promise<IndexState> {
    this.db.assertConnected();
    if (!this.#index) {
      const key = keys.index(this.id);
      try {
        const stored = await this.db.backend.get(key, { signal });
        this.#index = { index: ScanIndex.parse(stored.bytes, key), etag: stored.meta.etag };
      } catch (err) {
        if (!isRomiError(err, ErrorCodes.NOT_FOUND)) throw err;
        this.#index = { index: ScanIndex.empty(), etag: undefined };
      }
    }
    return this.#index;
  }

  async createIndex(signal?: AbortSignal): Promise<void> {
    const index = ScanIndex.empty();
    const etag = await this.db.write(keys.index(this.id), index.serialize(), { ifNoneMatch: '*', signal, what: 'create a scan' });
    this.#index = { index, etag };
  }

  /**
   * Applies `change` to the index and writes it conditionally; on a conflict the index is
   * re-read and `change` applied again. `change` must throw before it modifies anything.
   */
  async mutateIndex<T>(what: string, change: (index: ScanIndex) => T, signal?: AbortSignal): Promise<T> {
    this.db.assertWritable(what);
    const key = keys.index(this.id);
    return this.db.runExclusive(key, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const state = await this.loadIndex(signal);
        const result = change(state.index);
        try {
          state.etag = await this.db.write(key, state.index.serialize(), {
            ...(state.etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: state.etag }),
            signal,
            what,
          });
          return result;
        } catch (err) {
          // What is cached may now differ from storage: read it again.
          this.#index = undefined;
          if (!isRomiError(err, ErrorCodes.CONDITION_FAILED)) throw err;
        }
      }
      throw new ConditionFailedError(key, `still changing after ${MAX_ATTEMPTS} attempts`);
    });
  }

  async getMeasures(opts: SignalOptions = {}): Promise<Metadata> {
    this.db.assertConnected();
    const { plain } = await readJsonObject(this.db.backend, keys.measures(this.id), opts.signal);
    return plain;
  }

  filesetObject(id: string): FilesetImpl {
    let fs = this.#filesets.get(id);
    if (!fs) {
      fs = new FilesetImpl(this, id);
      this.#filesets.set(id, fs);
    }
    return fs;
  }

  async listFilesets(opts: QueryOptions = {}): Promise<string[]> {
    assertQuery(opts.query, opts.fuzzy);
    const ids = (await this.loadIndex(opts.signal)).index.filesetIds();
    return selectByMetadata(ids, (id) => this.filesetObject(id), this.db.options.concurrency, opts);
  }

  async getFilesets(opts: QueryOptions = {}): Promise<Fileset[]> {
    return (await this.listFilesets(opts)).map((id) => this.filesetObject(id));
  }

  async hasFileset(id: string, opts: SignalOptions = {}): Promise<boolean> {
    assertLookupId('fileset', id);
    return (await this.loadIndex(opts.signal)).index.fileset(id) !== undefined;
  }

  async getFileset(id: string, opts: SignalOptions = {}): Promise<Fileset> {
    if (!(await this.hasFileset(id, opts))) throw new FilesetNotFoundError(this.id, id);
    return this.filesetObject(id);
  }

  async createFileset(id: string, opts: CreateOptions = {}): Promise<Fileset> {
    assertValidId('fileset', id);
    const metadata = opts.metadata === undefined ? undefined : validateMetadata(opts.metadata);
    this.assertWritableIds('create a fileset');
    if (await this.hasFileset(id, opts)) throw new FilesetExistsError(this.id, id);
    const { backend } = this.db;
    const what = `fileset "${this.id}/${id}"`;
    const folder = keys.filesetFolder(this.id, id);
    // Its folder and both metadata places must hold nothing: a failed creation is then undone
    // by removing what it wrote, and a deletion later removes only what was made through romidb.
    await assertVacant(backend, what, { folders: [folder, keys.fileMetadataFolder(this.id, id)], objects: [keys.filesetMetadata(this.id, id)] }, opts.signal);
    const folderExisted = (await backend.head(folder, opts)) !== undefined;
    return Undo.run(
      () => this.db.assertWritable('undo a failed fileset creation'),
      async (undo) => {
        // The folder exists before the entry: Python loaders skip entries without a folder.
        if (!folderExisted) {
          await undo.created(
            () => removeFolderIfEmpty(backend, folder),
            () => this.db.write(folder, new Uint8Array(), { signal: opts.signal, what: 'create a fileset' }),
          );
        }
        const removeEntry = async () => {
          this.#filesets.delete(id);
          await this.mutateIndex('undo a failed fileset creation', (index) => index.fileset(id) && index.removeFileset(id));
        };
        await undo.created(removeEntry, () =>
          this.mutateIndex(
            'create a fileset',
            (index) => {
              if (index.fileset(id)) throw new FilesetExistsError(this.id, id);
              index.addFileset(id);
            },
            opts.signal,
          ),
        );
        const fileset = this.filesetObject(id);
        if (metadata !== undefined) {
          await undo.created(
            () => backend.delete(keys.filesetMetadata(this.id, id)),
            () => fileset.metadataStore.create(metadata, what, opts.signal),
          );
        }
        return fileset;
      },
    );
  }

  assertWritableIds(what: string): void {
    assertWritableId('scan', this.id);
    this.db.assertWritable(what);
  }

  async deleteFileset(id: string, opts: SignalOptions = {}): Promise<void> {
    assertLookupId('fileset', id);
    assertWritableId('fileset', id);
    this.assertWritableIds('delete a fileset');
    await this.mutateIndex(
      'delete a fileset',
      (index) => {
        if (!index.fileset(id)) throw new FilesetNotFoundError(this.id, id);
        index.removeFileset(id);
      },
      opts.signal,
    );
    this.#filesets.get(id)?.forget();
    this.#filesets.delete(id);
    for (const key of [keys.filesetMetadata(this.id, id), keys.fileMetadataFolder(this.id, id), keys.filesetFolder(this.id, id)]) {
      this.db.assertWritable('delete a fileset');
      await this.db.backend.delete(key, opts);
    }
  }
}

export class FilesetImpl extends WithMetadata implements Fileset {
  readonly metadataStore: MetadataStore;
  #files = new Map<string, FileImpl>();

  constructor(
    readonly scan: ScanImpl,
    readonly id: string,
  ) {
    super();
    this.metadataStore = new MetadataStore(scan.db as MetadataHost, () => keys.filesetMetadata(scan.id, id));
  }

  get db(): RomiDB {
    return this.scan.db;
  }

  forget(): void {
    this.metadataStore.forget();
    for (const f of this.#files.values()) f.metadataStore.forget();
    this.#files.clear();
  }

  fileObject(id: string): FileImpl {
    let f = this.#files.get(id);
    if (!f) {
      f = new FileImpl(this, id);
      this.#files.set(id, f);
    }
    return f;
  }

  protected override async assertExists(): Promise<void> {
    await this.index();
  }

  assertWritableIds(what: string): void {
    assertWritableId('fileset', this.id);
    this.scan.assertWritableIds(what);
  }

  /** The index, checking that this fileset is still in it. */
  async index(signal?: AbortSignal): Promise<ScanIndex> {
    const { index } = await this.scan.loadIndex(signal);
    if (!index.fileset(this.id)) throw new FilesetNotFoundError(this.scan.id, this.id);
    return index;
  }

  async listFiles(opts: QueryOptions = {}): Promise<string[]> {
    assertQuery(opts.query, opts.fuzzy);
    const ids = (await this.index(opts.signal)).fileIds(this.id);
    return selectByMetadata(ids, (id) => this.fileObject(id), this.db.options.concurrency, opts);
  }

  async getFiles(opts: QueryOptions = {}): Promise<File[]> {
    const ids = await this.listFiles(opts);
    return Promise.all(ids.map((id) => this.fileObject(id).refresh(opts.signal)));
  }

  async hasFile(id: string, opts: SignalOptions = {}): Promise<boolean> {
    assertLookupId('file', id);
    return (await this.index(opts.signal)).file(this.id, id) !== undefined;
  }

  async getFile(id: string, opts: SignalOptions = {}): Promise<File> {
    if (!(await this.hasFile(id, opts))) throw new FileNotFoundError(`${this.scan.id}/${this.id}/${id}`);
    return this.fileObject(id).refresh(opts.signal);
  }

  async createFile(id: string, opts: CreateOptions = {}): Promise<File> {
    assertValidId('file', id);
    const metadata = opts.metadata === undefined ? undefined : validateMetadata(opts.metadata);
    this.assertWritableIds('create a file');
    const what = `file "${this.scan.id}/${this.id}/${id}"`;
    const metadataKey = keys.fileMetadata(this.scan.id, this.id, id);
    // Metadata given is written create-only below; without it, the place must be free now.
    if (metadata === undefined) await assertVacant(this.db.backend, what, { objects: [metadataKey] }, opts.signal);
    return Undo.run(
      () => this.db.assertWritable('undo a failed file creation'),
      async (undo) => {
        const removeEntry = async () => {
          this.#files.delete(id);
          await this.scan.mutateIndex('undo a failed file creation', (index) => index.file(this.id, id) && index.removeFile(this.id, id));
        };
        await undo.created(removeEntry, () =>
          this.scan.mutateIndex(
            'create a file',
            (index) => {
              if (!index.fileset(this.id)) throw new FilesetNotFoundError(this.scan.id, this.id);
              if (index.file(this.id, id)) throw new FileExistsError(`${this.scan.id}/${this.id}/${id}`);
              index.addFile(this.id, id);
            },
            opts.signal,
          ),
        );
        const file = this.fileObject(id);
        if (metadata !== undefined) await undo.created(() => this.db.backend.delete(metadataKey), () => file.metadataStore.create(metadata, what, opts.signal));
        return file;
      },
    );
  }

  async createFiles(files: Iterable<NewFile> | AsyncIterable<NewFile>, opts: CreateFilesOptions = {}): Promise<File[]> {
    // Everything is checked before the first write.
    const items: Array<{ id: string; filename: string | null; data?: Uint8Array; metadata?: Record<string, unknown> }> = [];
    const seen = new Set<string>();
    for await (const f of files as AsyncIterable<NewFile>) {
      assertValidId('file', f?.id);
      if (seen.has(f.id)) throw new InvalidArgumentError(`File id "${f.id}" appears twice in one createFiles() call`);
      seen.add(f.id);
      const data = typeof f.data === 'string' ? utf8.encode(f.data) : f.data;
      if (data !== undefined && !(data instanceof Uint8Array)) throw new InvalidArgumentError(`File "${f.id}": data must be a Uint8Array or a string`);
      if (data !== undefined && f.ext === undefined) throw new InvalidArgumentError(`File "${f.id}": an extension is required with data`);
      items.push({
        id: f.id,
        filename: data === undefined ? null : filenameFor(f.id, f.ext),
        data,
        metadata: f.metadata === undefined ? undefined : validateMetadata(f.metadata),
      });
    }
    this.assertWritableIds('create files');
    const before = await this.index(opts.signal);
    for (const item of items) {
      if (before.file(this.id, item.id)) throw new FileExistsError(`${this.scan.id}/${this.id}/${item.id}`);
    }
    const { backend } = this.db;
    const written = new Set<string>();
    try {
      await mapLimit(
        items,
        opts.concurrency ?? 8,
        async (item) => {
          const what = `file "${this.scan.id}/${this.id}/${item.id}"`;
          const metadataKey = keys.fileMetadata(this.scan.id, this.id, item.id);
          if (item.metadata === undefined) await assertVacant(backend, what, { objects: [metadataKey] }, opts.signal);
          // Create-only writes: a key already taken (unlisted data, orphan metadata) is never
          // overwritten, and the undo below removes only keys this call created.
          const put = async (key: string, bytes: Uint8Array): Promise<void> => {
            // Recorded first: a write that lands but reports a failure is taken back too.
            written.add(key);
            try {
              await putNew(() => this.db.write(key, bytes, { ifNoneMatch: '*', signal: opts.signal, what: 'create files' }), what, key);
            } catch (err) {
              if (isRomiError(err, ErrorCodes.ALREADY_EXISTS)) written.delete(key);
              throw err;
            }
          };
          if (item.data !== undefined) await put(keys.fileData(this.scan.id, this.id, item.filename!), item.data);
          if (item.metadata !== undefined) await put(metadataKey, utf8.encode(formatPythonJson(item.metadata)));
        },
        opts.signal,
      );
      // One index write for the whole batch.
      await this.scan.mutateIndex(
        'create files',
        (index) => {
          if (!index.fileset(this.id)) throw new FilesetNotFoundError(this.scan.id, this.id);
          for (const item of items) {
            if (index.file(this.id, item.id)) throw new FileExistsError(`${this.scan.id}/${this.id}/${item.id}`);
          }
          for (const item of items) index.addFile(this.id, item.id, item.filename);
        },
        opts.signal,
      );
    } catch (err) {
      // Nothing was indexed: take back what this call wrote, best effort, unless another writer
      // owns the database now (it may have written the same keys).
      if (!isRomiError(err, ErrorCodes.LOCK_LOST)) {
        await Promise.allSettled(
          [...written].map(async (key) => {
            this.db.assertWritable('create files');
            await backend.delete(key);
          }),
        );
      }
      throw err;
    }
    return Promise.all(
      items.map((item) => {
        const file = this.fileObject(item.id);
        file.metadataStore.forget();
        return file.refresh(opts.signal);
      }),
    );
  }

  async deleteFile(id: string, opts: SignalOptions = {}): Promise<void> {
    assertLookupId('file', id);
    assertWritableId('file', id);
    this.assertWritableIds('delete a file');
    const filename = await this.scan.mutateIndex(
      'delete a file',
      (index) => {
        if (!index.fileset(this.id)) throw new FilesetNotFoundError(this.scan.id, this.id);
        const node = index.file(this.id, id);
        if (!node) throw new FileNotFoundError(`${this.scan.id}/${this.id}/${id}`);
        index.removeFile(this.id, id);
        return ScanIndex.filenameOf(node);
      },
      opts.signal,
    );
    this.#files.get(id)?.metadataStore.forget();
    this.#files.delete(id);
    // Index first (readers never see an entry without data), then metadata, then data: a crash
    // in between leaves unlisted data, never metadata without its data.
    this.db.assertWritable('delete a file');
    await this.db.backend.delete(keys.fileMetadata(this.scan.id, this.id, id), opts);
    if (filename !== null && storedNameProblem(filename) === undefined) {
      await this.db.backend.delete(keys.fileData(this.scan.id, this.id, filename), opts);
    }
  }
}

export class FileImpl extends WithMetadata implements File {
  readonly metadataStore: MetadataStore;
  #filename: string | null = null;

  constructor(
    readonly fileset: FilesetImpl,
    readonly id: string,
  ) {
    super();
    this.metadataStore = new MetadataStore(fileset.db as MetadataHost, () => keys.fileMetadata(fileset.scan.id, fileset.id, id));
  }

  get scan(): ScanImpl {
    return this.fileset.scan;
  }
  get db(): RomiDB {
    return this.fileset.db;
  }
  get #path(): string {
    return `${this.scan.id}/${this.fileset.id}/${this.id}`;
  }

  get filename(): string | null {
    return this.#filename;
  }

  /** The current index entry's file name; FileNotFoundError when the file is gone. */
  async #currentFilename(signal?: AbortSignal): Promise<string | null> {
    const index = await this.fileset.index(signal);
    const node = index.file(this.fileset.id, this.id);
    if (!node) throw new FileNotFoundError(this.#path);
    this.#filename = ScanIndex.filenameOf(node);
    return this.#filename;
  }

  protected override async assertExists(): Promise<void> {
    await this.#currentFilename();
  }

  assertWritableIds(what: string): void {
    assertWritableId('file', this.id);
    this.fileset.assertWritableIds(what);
  }

  /** Called by getFile/getFiles so that `filename` is right from the start. */
  async refresh(signal?: AbortSignal): Promise<this> {
    await this.#currentFilename(signal);
    return this;
  }

  async #write(body: Body, ext: string, signal?: AbortSignal): Promise<void> {
    const filename = filenameFor(this.id, ext);
    this.assertWritableIds('write a file');
    const current = await this.#currentFilename(signal);
    const { backend } = this.db;
    const key = keys.fileData(this.scan.id, this.fileset.id, filename);
    const what = `data of file "${this.#path}"`;
    // Rewritten with another extension: the old data goes once the index names the new one.
    // A marker says so until it is gone, so that check --fix can finish a rewrite cut short.
    const old = current !== null && current !== filename && storedNameProblem(current) === undefined ? keys.fileData(this.scan.id, this.fileset.id, current) : undefined;
    const marker = old === undefined ? undefined : keys.replacedMarker(old);
    await Undo.run(
      () => this.db.assertWritable('undo a failed write'),
      async (undo) => {
        // Data first, then the index: a crash in between leaves an unlisted file that check() finds.
        if (current === filename) {
          await this.db.write(key, body, { signal, what: 'write a file' });
        } else if (body instanceof Uint8Array) {
          // A new name: whatever is stored there is not this file's, so it is never replaced.
          await undo.created(() => backend.delete(key), () => putNew(() => this.db.write(key, body, { ifNoneMatch: '*', signal, what: 'write a file' }), what, key));
        } else {
          await assertVacant(backend, what, { objects: [key] }, signal);
          await undo.created(() => backend.delete(key), () => this.db.write(key, body, { signal, what: 'write a file' }));
        }
        if (marker !== undefined) await undo.created(() => backend.delete(marker), () => this.db.write(marker, utf8.encode(filename), { signal, what: 'write a file' }));
        await this.scan.mutateIndex(
          'write a file',
          (index) => {
            const node = index.file(this.fileset.id, this.id);
            if (!node) throw new FileNotFoundError(this.#path);
            if (ScanIndex.filenameOf(node) !== current) throw new ConditionFailedError(keys.index(this.scan.id), `file "${this.#path}" was rewritten meanwhile`);
            if (current !== filename) index.setFilename(this.fileset.id, this.id, filename);
          },
          signal,
        );
      },
    );
    this.#filename = filename;
    if (old !== undefined) {
      this.db.assertWritable('write a file');
      await backend.delete(old, { signal });
      await backend.delete(marker!, { signal });
    }
  }

  async writeBytes(data: Uint8Array, ext: string, opts: SignalOptions = {}): Promise<void> {
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('writeBytes() takes a Uint8Array');
    await this.#write(data, ext, opts.signal);
  }

  async writeText(text: string, ext: string, opts: SignalOptions = {}): Promise<void> {
    if (typeof text !== 'string') throw new InvalidArgumentError('writeText() takes a string');
    await this.#write(utf8.encode(text), ext, opts.signal);
  }

  async writeStream(src: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>, ext: string, opts: SignalOptions = {}): Promise<void> {
    await this.#write(src, ext, opts.signal);
  }

  async importFile(localPath: string, opts: SignalOptions = {}): Promise<void> {
    let info;
    try {
      info = await stat(localPath);
    } catch (err) {
      throw new InvalidArgumentError(`Cannot import "${localPath}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!info.isFile()) throw new InvalidArgumentError(`Cannot import "${localPath}": not a regular file`);
    const ext = extname(localPath).slice(1);
    filenameFor(this.id, ext);
    await this.#write(createReadStream(localPath), ext, opts.signal);
  }

  async #dataKey(signal?: AbortSignal): Promise<string> {
    const filename = await this.#currentFilename(signal);
    if (filename === null) throw new FileNotFoundError(this.#path, 'file was created but never written');
    return keys.fileData(this.scan.id, this.fileset.id, filename);
  }

  async readBytes(opts: SignalOptions = {}): Promise<Uint8Array> {
    const key = await this.#dataKey(opts.signal);
    try {
      return (await this.db.backend.get(key, opts)).bytes;
    } catch (err) {
      if (isRomiError(err, ErrorCodes.NOT_FOUND)) throw new FileNotFoundError(key, 'listed in files.json but missing from storage');
      throw err;
    }
  }

  async readText(opts: SignalOptions = {}): Promise<string> {
    return utf8.decode(await this.readBytes(opts));
  }

  readStream(opts: SignalOptions = {}): ReadableStream<Uint8Array> {
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (!reader) {
          const key = await this.#dataKey(opts.signal);
          try {
            reader = (await this.db.backend.getStream(key, opts)).stream.getReader();
          } catch (err) {
            if (isRomiError(err, ErrorCodes.NOT_FOUND)) throw new FileNotFoundError(key, 'listed in files.json but missing from storage');
            throw err;
          }
        }
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: async (reason) => {
        await reader?.cancel(reason);
      },
    });
  }

  localPath(): string | undefined {
    if (this.#filename === null || !this.db.backend.localPath) return undefined;
    return this.db.backend.localPath(keys.fileData(this.scan.id, this.fileset.id, this.#filename));
  }
}

