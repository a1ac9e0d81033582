/**
 * A scan: its files.json (cached, changed by conditional writes), its metadata and measures,
 * and the filesets it lists.
 */
import {
  ConditionFailedError,
  ErrorCodes,
  FilesetExistsError,
  FilesetNotFoundError,
  isRomiError,
  throwIfAborted,
} from './errors.js';
import { assertVacant, removeFolderIfEmpty, Undo } from './claims.js';
import { FilesetImpl } from './fileset.js';
import { assertLookupId, assertValidId, assertWritableId } from './ids.js';
import { keys, ScanIndex } from './layout.js';
import { MetadataHolderBase, MetadataStore, readJsonObject, validateMetadata } from './metadata.js';
import type { Port, ScanParent } from './port.js';
import { assertQuery, selectByMetadata } from './query.js';
import type { CreateOptions, DB, Fileset, Metadata, QueryOptions, Scan, SignalOptions } from './types.js';

const MAX_ATTEMPTS = 8;

interface IndexState {
  index: ScanIndex;
  /** undefined when files.json does not exist. */
  etag: string | undefined;
}

export class ScanImpl extends MetadataHolderBase implements Scan, ScanParent {
  readonly metadataStore: MetadataStore;
  #index: IndexState | undefined;
  #filesets = new Map<string, FilesetImpl>();
  /**
   * Changes made to the cached index and not written yet (deferIndexChange), replayed on any
   * index read again: the next index write stores them, or the timer, or flushIndex().
   */
  #pending: Array<(index: ScanIndex) => void> = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly port: Port,
    readonly id: string,
  ) {
    super();
    this.metadataStore = new MetadataStore(port, () => keys.scanMetadata(id));
  }

  get db(): DB {
    return this.port.db;
  }

  /** Drops every cached read, and the unwritten index changes (the scan is gone, or flushIndex() ran). */
  forget(): void {
    this.#pending = [];
    this.port.pendingIndexes.delete(this);
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#index = undefined;
    this.metadataStore.forget();
    for (const fs of this.#filesets.values()) fs.forget();
    this.#filesets.clear();
  }

  async loadIndex({ signal }: SignalOptions = {}): Promise<IndexState> {
    this.port.assertConnected();
    if (!this.#index) {
      const key = keys.index(this.id);
      try {
        const stored = await this.port.backend.get(key, { signal });
        this.#index = { index: ScanIndex.parse(stored.bytes, key), etag: stored.meta.etag };
      } catch (err) {
        if (!isRomiError(err, ErrorCodes.NOT_FOUND)) throw err;
        this.#index = { index: ScanIndex.empty(), etag: undefined };
      }
      for (const replay of this.#pending) replay(this.#index.index);
    }
    return this.#index;
  }

  async createIndex({ signal }: SignalOptions = {}): Promise<void> {
    const index = ScanIndex.empty();
    const etag = await this.port.write(keys.index(this.id), index.serialize(), { ifNoneMatch: '*', signal, what: 'create a scan' });
    this.#index = { index, etag };
  }

  /**
   * Applies `change` to the index and writes it conditionally; on a conflict the index is
   * re-read and `change` applied again. `change` must throw before it modifies anything.
   */
  async mutateIndex<T>(what: string, change: (index: ScanIndex) => T, { signal }: SignalOptions = {}): Promise<T> {
    this.port.assertWritable(what);
    const key = keys.index(this.id);
    return this.port.runExclusive(key, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const state = await this.loadIndex({ signal });
        const result = change(state.index);
        try {
          state.etag = await this.port.write(key, state.index.serialize(), {
            ...(state.etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: state.etag }),
            signal,
            what,
          });
          this.#pending = [];
          this.port.pendingIndexes.delete(this);
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

  /**
   * Applies `change` to the cached index now and leaves the write to the next index write of
   * this scan, or to a timer that fires once the event loop turns (or flushIndex()): a file
   * created and then written at once costs one index write, not two. `change` must throw before
   * it modifies anything; `replay` applies the same change again to an index read anew, and
   * does nothing where it no longer applies.
   */
  async deferIndexChange<T>(what: string, change: (index: ScanIndex) => T, replay: (index: ScanIndex) => void, opts: SignalOptions = {}): Promise<T> {
    this.port.assertWritable(what);
    return this.port.runExclusive(keys.index(this.id), async () => {
      const { index } = await this.loadIndex(opts);
      const result = change(index);
      this.#pending.push(replay);
      this.port.pendingIndexes.add(this);
      this.#flushTimer ??= setTimeout(() => {
        this.#flushTimer = undefined;
        // A failure leaves the changes pending: the next index write or flushIndex() reports it.
        this.flushIndex().catch(() => {});
      }, 0);
      return result;
    });
  }

  /** Writes the index changes deferIndexChange left pending, if any. */
  async flushIndex(opts: SignalOptions = {}): Promise<void> {
    if (this.#pending.length > 0) await this.mutateIndex('write the index', () => undefined, opts);
  }

  async getMeasures(opts: SignalOptions = {}): Promise<Metadata> {
    throwIfAborted(opts.signal);
    this.port.assertConnected();
    const { plain } = await readJsonObject(this.port.backend, keys.measures(this.id), opts);
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
    throwIfAborted(opts.signal);
    assertQuery(opts.query, opts.fuzzy);
    const ids = (await this.loadIndex(opts)).index.filesetIds();
    return selectByMetadata(ids, (id) => this.filesetObject(id), this.port.concurrency, opts);
  }

  async getFilesets(opts: QueryOptions = {}): Promise<Fileset[]> {
    throwIfAborted(opts.signal);
    return (await this.listFilesets(opts)).map((id) => this.filesetObject(id));
  }

  async hasFileset(id: string, opts: SignalOptions = {}): Promise<boolean> {
    throwIfAborted(opts.signal);
    assertLookupId('fileset', id);
    return (await this.loadIndex(opts)).index.fileset(id) !== undefined;
  }

  async getFileset(id: string, opts: SignalOptions = {}): Promise<Fileset> {
    throwIfAborted(opts.signal);
    if (!(await this.hasFileset(id, opts))) throw new FilesetNotFoundError(this.id, id);
    return this.filesetObject(id);
  }

  async createFileset(id: string, opts: CreateOptions = {}): Promise<Fileset> {
    throwIfAborted(opts.signal);
    assertValidId('fileset', id);
    const metadata = opts.metadata === undefined ? undefined : validateMetadata(opts.metadata);
    this.assertWritableIds('create a fileset');
    if (await this.hasFileset(id, opts)) throw new FilesetExistsError(this.id, id);
    const { backend } = this.port;
    const what = `fileset "${this.id}/${id}"`;
    const folder = keys.filesetFolder(this.id, id);
    // Its folder and both metadata places must hold nothing: a failed creation is then undone
    // by removing what it wrote, and a deletion later removes only what was made through romidb.
    await assertVacant(backend, what, { folders: [folder, keys.fileMetadataFolder(this.id, id)], objects: [keys.filesetMetadata(this.id, id)] }, opts);
    const folderExisted = (await backend.head(folder, opts)) !== undefined;
    return Undo.run(
      () => this.port.assertWritable('undo a failed fileset creation'),
      async (undo) => {
        // The folder exists before the entry: Python loaders skip entries without a folder.
        if (!folderExisted) {
          await undo.created(
            () => removeFolderIfEmpty(backend, folder),
            () => this.port.write(folder, new Uint8Array(), { signal: opts.signal, what: 'create a fileset' }),
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
            opts,
          ),
        );
        const fileset = this.filesetObject(id);
        if (metadata !== undefined) {
          await undo.created(
            () => backend.delete(keys.filesetMetadata(this.id, id)),
            () => fileset.metadataStore.create(metadata, what, opts),
          );
        }
        return fileset;
      },
    );
  }

  assertWritableIds(what: string): void {
    assertWritableId('scan', this.id);
    this.port.assertWritable(what);
  }

  async deleteFileset(id: string, opts: SignalOptions = {}): Promise<void> {
    throwIfAborted(opts.signal);
    assertLookupId('fileset', id);
    assertWritableId('fileset', id);
    this.assertWritableIds('delete a fileset');
    await this.mutateIndex(
      'delete a fileset',
      (index) => {
        if (!index.fileset(id)) throw new FilesetNotFoundError(this.id, id);
        index.removeFileset(id);
      },
      opts,
    );
    this.#filesets.get(id)?.forget();
    this.#filesets.delete(id);
    // Past the index write the fileset is gone: an abort no longer stops its removal.
    for (const key of [keys.filesetMetadata(this.id, id), keys.fileMetadataFolder(this.id, id), keys.filesetFolder(this.id, id)]) {
      this.port.assertWritable('delete a fileset');
      await this.port.backend.delete(key);
    }
  }
}
