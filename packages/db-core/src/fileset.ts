/** A fileset: the files one entry of files.json lists, and its metadata. */
import {
  ErrorCodes,
  FileExistsError,
  FileNotFoundError,
  FilesetNotFoundError,
  InvalidArgumentError,
  isRomiError,
  throwIfAborted,
} from './errors.js';
import { assertVacant, putNew, Undo } from './claims.js';
import { FileImpl, filenameFor } from './file.js';
import { assertLookupId, assertValidId, assertWritableId } from './ids.js';
import { formatPythonJson } from './json.js';
import type { Key } from './key.js';
import { keys, ScanIndex, storedNameProblem } from './layout.js';
import { MetadataHolderBase, MetadataStore, validateMetadata } from './metadata.js';
import type { FilesetParent, Port, ScanParent } from './port.js';
import { assertQuery, selectByMetadata } from './query.js';
import type { CreateFilesOptions, CreateOptions, DB, File, Fileset, NewFile, QueryOptions, Scan, SignalOptions } from './types.js';
import { mapLimit, utf8 } from './util.js';

export class FilesetImpl extends MetadataHolderBase implements Fileset, FilesetParent {
  readonly metadataStore: MetadataStore;
  #files = new Map<string, FileImpl>();

  constructor(
    readonly scan: ScanParent & Scan,
    readonly id: string,
  ) {
    super();
    this.metadataStore = new MetadataStore(scan.port, () => keys.filesetMetadata(scan.id, id));
  }

  get port(): Port {
    return this.scan.port;
  }

  get db(): DB {
    return this.port.db;
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

  protected override async assertExists(opts: SignalOptions): Promise<void> {
    await this.index(opts);
  }

  assertWritableIds(what: string): void {
    assertWritableId('fileset', this.id);
    this.scan.assertWritableIds(what);
  }

  /** The index, checking that this fileset is still in it. */
  async index(opts: SignalOptions = {}): Promise<ScanIndex> {
    const { index } = await this.scan.loadIndex(opts);
    if (!index.fileset(this.id)) throw new FilesetNotFoundError(this.scan.id, this.id);
    return index;
  }

  async listFiles(opts: QueryOptions = {}): Promise<string[]> {
    throwIfAborted(opts.signal);
    assertQuery(opts.query, opts.fuzzy);
    const ids = (await this.index(opts)).fileIds(this.id);
    return selectByMetadata(ids, (id) => this.fileObject(id), this.port.concurrency, opts);
  }

  async getFiles(opts: QueryOptions = {}): Promise<File[]> {
    throwIfAborted(opts.signal);
    const ids = await this.listFiles(opts);
    return Promise.all(ids.map((id) => this.fileObject(id).refresh(opts)));
  }

  async hasFile(id: string, opts: SignalOptions = {}): Promise<boolean> {
    throwIfAborted(opts.signal);
    assertLookupId('file', id);
    return (await this.index(opts)).file(this.id, id) !== undefined;
  }

  async getFile(id: string, opts: SignalOptions = {}): Promise<File> {
    throwIfAborted(opts.signal);
    if (!(await this.hasFile(id, opts))) throw new FileNotFoundError(`${this.scan.id}/${this.id}/${id}`);
    return this.fileObject(id).refresh(opts);
  }

  async createFile(id: string, opts: CreateOptions = {}): Promise<File> {
    throwIfAborted(opts.signal);
    assertValidId('file', id);
    const metadata = opts.metadata === undefined ? undefined : validateMetadata(opts.metadata);
    this.assertWritableIds('create a file');
    const what = `file "${this.scan.id}/${this.id}/${id}"`;
    const metadataKey = keys.fileMetadata(this.scan.id, this.id, id);
    const addEntry = (index: ScanIndex) => {
      if (!index.fileset(this.id)) throw new FilesetNotFoundError(this.scan.id, this.id);
      if (index.file(this.id, id)) throw new FileExistsError(`${this.scan.id}/${this.id}/${id}`);
      index.addFile(this.id, id);
    };
    if (metadata === undefined) {
      // Without metadata the place must be free now. The entry alone holds nothing: it is
      // written with the scan's next index write (the file's first write, usually), so that a
      // file created and written costs one index write.
      await assertVacant(this.port.backend, what, { objects: [metadataKey] }, opts);
      const replay = (index: ScanIndex) => {
        if (index.fileset(this.id) && !index.file(this.id, id)) index.addFile(this.id, id);
      };
      await this.scan.deferIndexChange('create a file', addEntry, replay, opts);
      const file = this.fileObject(id);
      file.metadataStore.knownAbsent();
      return file;
    }
    return Undo.run(
      () => this.port.assertWritable('undo a failed file creation'),
      async (undo) => {
        const removeEntry = async () => {
          this.#files.delete(id);
          await this.scan.mutateIndex('undo a failed file creation', (index) => index.file(this.id, id) && index.removeFile(this.id, id));
        };
        await undo.created(removeEntry, () => this.scan.mutateIndex('create a file', addEntry, opts));
        const file = this.fileObject(id);
        await undo.created(() => this.port.backend.delete(metadataKey), () => file.metadataStore.create(metadata, what, opts));
        return file;
      },
    );
  }

  async createFiles(files: Iterable<NewFile> | AsyncIterable<NewFile>, opts: CreateFilesOptions = {}): Promise<File[]> {
    throwIfAborted(opts.signal);
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
    const before = await this.index(opts);
    for (const item of items) {
      if (before.file(this.id, item.id)) throw new FileExistsError(`${this.scan.id}/${this.id}/${item.id}`);
    }
    const { backend } = this.port;
    const written = new Set<Key>();
    try {
      await mapLimit(
        items,
        opts.concurrency ?? 8,
        async (item) => {
          const what = `file "${this.scan.id}/${this.id}/${item.id}"`;
          const metadataKey = keys.fileMetadata(this.scan.id, this.id, item.id);
          if (item.metadata === undefined) await assertVacant(backend, what, { objects: [metadataKey] }, opts);
          // Create-only writes: a key already taken (unlisted data, orphan metadata) is never
          // overwritten, and the undo below removes only keys this call created.
          const put = async (key: Key, bytes: Uint8Array): Promise<void> => {
            // Recorded first: a write that lands but reports a failure is taken back too.
            written.add(key);
            try {
              await putNew(() => this.port.write(key, bytes, { ifNoneMatch: '*', signal: opts.signal, what: 'create files' }), what, key);
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
        opts,
      );
    } catch (err) {
      // Nothing was indexed: take back what this call wrote, best effort, unless another writer
      // owns the database now (it may have written the same keys).
      if (!isRomiError(err, ErrorCodes.LOCK_LOST)) {
        await Promise.allSettled(
          [...written].map(async (key) => {
            this.port.assertWritable('create files');
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
        return file.refresh(opts);
      }),
    );
  }

  async deleteFile(id: string, opts: SignalOptions = {}): Promise<void> {
    throwIfAborted(opts.signal);
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
      opts,
    );
    this.#files.get(id)?.metadataStore.forget();
    this.#files.delete(id);
    // Index first (readers never see an entry without data), then metadata, then data: a crash
    // in between leaves unlisted data, never metadata without its data. Past the index write the
    // file is gone: an abort no longer stops its removal.
    this.port.assertWritable('delete a file');
    await this.port.backend.delete(keys.fileMetadata(this.scan.id, this.id, id));
    if (filename !== null && storedNameProblem(filename) === undefined) {
      await this.port.backend.delete(keys.fileData(this.scan.id, this.id, filename));
    }
  }
}
