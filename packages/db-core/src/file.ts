/** A file: one entry of files.json, its data (one object) and its metadata. */
import type { Body } from './backend.js';
import { assertVacant, putNew, Undo } from './claims.js';
import { ConditionFailedError, ErrorCodes, FileNotFoundError, InvalidArgumentError, isRomiError, throwIfAborted } from './errors.js';
import { assertWritableId } from './ids.js';
import type { Key } from './key.js';
import { keys, ScanIndex, storedNameProblem } from './layout.js';
import { localFiles } from './local-files.js';
import { MetadataHolderBase, MetadataStore } from './metadata.js';
import type { FilesetParent, Port, ScanParent } from './port.js';
import type { DB, File, Fileset, Scan, SignalOptions } from './types.js';
import { utf8 } from './util.js';

/** '.png' and 'png' both give 'png'; the resulting file name must be one safe segment. */
export function filenameFor(id: string, ext: unknown): string {
  if (typeof ext !== 'string') throw new InvalidArgumentError(`File extension must be a string, got ${typeof ext}`);
  const clean = ext.startsWith('.') ? ext.slice(1) : ext;
  if (!/^[A-Za-z0-9_.+-]*$/.test(clean) || clean.startsWith('.') || clean.endsWith('.') || clean.length > 32) {
    throw new InvalidArgumentError(`Invalid file extension ${JSON.stringify(ext)}: letters, digits, "_", "-", "+" and inner "." only, at most 32`);
  }
  const name = clean === '' ? id : `${id}.${clean}`;
  if (name.length > 255) throw new InvalidArgumentError(`File name "${name}" is longer than 255 characters`);
  return name;
}

export class FileImpl extends MetadataHolderBase implements File {
  readonly metadataStore: MetadataStore;
  #filename: string | null = null;

  constructor(
    readonly fileset: FilesetParent & Fileset,
    readonly id: string,
  ) {
    super();
    this.metadataStore = new MetadataStore(fileset.port, () => keys.fileMetadata(fileset.scan.id, fileset.id, id));
  }

  get port(): Port {
    return this.fileset.port;
  }
  get scan(): ScanParent & Scan {
    return this.fileset.scan;
  }
  get db(): DB {
    return this.port.db;
  }
  get #path(): string {
    return `${this.scan.id}/${this.fileset.id}/${this.id}`;
  }

  get filename(): string | null {
    return this.#filename;
  }

  /** The current index entry's file name; FileNotFoundError when the file is gone. */
  async #currentFilename(opts: SignalOptions = {}): Promise<string | null> {
    const index = await this.fileset.index(opts);
    const node = index.file(this.fileset.id, this.id);
    if (!node) throw new FileNotFoundError(this.#path);
    this.#filename = ScanIndex.filenameOf(node);
    return this.#filename;
  }

  protected override async assertExists(opts: SignalOptions): Promise<void> {
    await this.#currentFilename(opts);
  }

  assertWritableIds(what: string): void {
    assertWritableId('file', this.id);
    this.fileset.assertWritableIds(what);
  }

  /** Called by getFile/getFiles so that `filename` is right from the start. */
  async refresh(opts: SignalOptions = {}): Promise<this> {
    await this.#currentFilename(opts);
    return this;
  }

  async #write(body: Body, ext: string, signal?: AbortSignal): Promise<void> {
    const filename = filenameFor(this.id, ext);
    this.assertWritableIds('write a file');
    const current = await this.#currentFilename({ signal });
    const { backend } = this.port;
    const key = keys.fileData(this.scan.id, this.fileset.id, filename);
    const what = `data of file "${this.#path}"`;
    // Rewritten with another extension: the old data goes once the index names the new one.
    // A marker (next to the old data, naming the new) says so until both are settled.
    const old = current !== null && current !== filename && storedNameProblem(current) === undefined ? keys.fileData(this.scan.id, this.fileset.id, current) : undefined;
    const marker = old === undefined ? undefined : keys.replacedMarker(old);
    await Undo.run(
      () => this.port.assertWritable('undo a failed write'),
      async (undo) => {
        // The marker names the new data before it exists: check --fix then finishes a rewrite
        // cut short either way (removes the new data before the index write, the old after).
        if (marker !== undefined) await undo.created(() => backend.delete(marker), () => this.port.write(marker, utf8.encode(filename), { signal, what: 'write a file' }));
        // Data first, then the index: a crash in between leaves an unlisted file that check() finds.
        if (current === filename) {
          await this.port.write(key, body, { signal, what: 'write a file' });
        } else if (body instanceof Uint8Array) {
          // A new name: whatever is stored there is not this file's, so it is never replaced.
          await undo.created(() => backend.delete(key), () => putNew(() => this.port.write(key, body, { ifNoneMatch: '*', signal, what: 'write a file' }), what, key));
        } else {
          await assertVacant(backend, what, { objects: [key] }, { signal });
          await undo.created(() => backend.delete(key), () => this.port.write(key, body, { signal, what: 'write a file' }));
        }
        // Rewritten under its own name, the data write was the whole change: files.json stays.
        if (current === filename) return;
        await this.scan.mutateIndex(
          'write a file',
          (index) => {
            const node = index.file(this.fileset.id, this.id);
            if (!node) throw new FileNotFoundError(this.#path);
            if (ScanIndex.filenameOf(node) !== current) throw new ConditionFailedError(keys.index(this.scan.id), `file "${this.#path}" was rewritten meanwhile`);
            index.setFilename(this.fileset.id, this.id, filename);
          },
          { signal },
        );
      },
    );
    this.#filename = filename;
    if (old !== undefined) {
      // The index names the new data: an abort no longer stops removing the old one.
      this.port.assertWritable('write a file');
      await backend.delete(old);
      await backend.delete(marker!);
    }
  }

  async writeBytes(data: Uint8Array, ext: string, opts: SignalOptions = {}): Promise<void> {
    throwIfAborted(opts.signal);
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('writeBytes() takes a Uint8Array');
    await this.#write(data, ext, opts.signal);
  }

  async writeText(text: string, ext: string, opts: SignalOptions = {}): Promise<void> {
    throwIfAborted(opts.signal);
    if (typeof text !== 'string') throw new InvalidArgumentError('writeText() takes a string');
    await this.#write(utf8.encode(text), ext, opts.signal);
  }

  async writeStream(src: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>, ext: string, opts: SignalOptions = {}): Promise<void> {
    throwIfAborted(opts.signal);
    await this.#write(src, ext, opts.signal);
  }

  async importFile(localPath: string, opts: SignalOptions = {}): Promise<void> {
    throwIfAborted(opts.signal);
    const source = await localFiles().open(localPath);
    filenameFor(this.id, source.ext);
    await this.#write(source.read(), source.ext, opts.signal);
  }

  async #dataKey(opts: SignalOptions = {}): Promise<Key> {
    const filename = await this.#currentFilename(opts);
    if (filename === null) throw new FileNotFoundError(this.#path, 'file was created but never written');
    return keys.fileData(this.scan.id, this.fileset.id, filename);
  }

  async readBytes(opts: SignalOptions = {}): Promise<Uint8Array> {
    throwIfAborted(opts.signal);
    const key = await this.#dataKey(opts);
    try {
      return (await this.port.backend.get(key, opts)).bytes;
    } catch (err) {
      if (isRomiError(err, ErrorCodes.NOT_FOUND)) throw new FileNotFoundError(key, 'listed in files.json but missing from storage');
      throw err;
    }
  }

  async readText(opts: SignalOptions = {}): Promise<string> {
    throwIfAborted(opts.signal);
    return utf8.decode(await this.readBytes(opts));
  }

  readStream(opts: SignalOptions = {}): ReadableStream<Uint8Array> {
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (!reader) {
          const key = await this.#dataKey(opts);
          try {
            reader = (await this.port.backend.getStream(key, opts)).stream.getReader();
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
    if (this.#filename === null || !this.port.backend.localPath) return undefined;
    return this.port.backend.localPath(keys.fileData(this.scan.id, this.fileset.id, this.#filename));
  }
}
