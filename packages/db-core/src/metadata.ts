import type { Backend } from './backend.js';
import type { Key } from './key.js';
import type { Port } from './port.js';
import { ConditionFailedError, CorruptDataError, ErrorCodes, InvalidMetadataError, isRomiError, OccupiedError, throwIfAborted } from './errors.js';
import { copyJsonValue, formatPythonJson, isPlainObject, jsonEqual, jsonProblem, parseJson, parseJsonTree, reconcile, setOwn, toPlain } from './json.js';
import type { Metadata, SignalOptions } from './types.js';
import { utf8 } from './util.js';

interface Loaded {
  /** Plain values, from JSON.parse: what readers get (copied). */
  plain: Record<string, unknown>;
  /** The stored text, parsed losslessly only when a write needs it. */
  text: string | undefined;
  tree?: Record<string, unknown>;
  /** undefined when the JSON file does not exist yet. */
  etag: string | undefined;
}

const MAX_ATTEMPTS = 8;

/** Parses a stored JSON object; `lossless` keeps number texts, which only writing back needs. */
function parseObject(key: string, text: string, lossless: boolean): Record<string, unknown> {
  let value: unknown;
  try {
    value = lossless ? parseJsonTree(text) : parseJson(text);
  } catch (err) {
    throw new CorruptDataError(key, jsonProblem(err), { cause: err });
  }
  if (!isPlainObject(value)) throw new CorruptDataError(key, 'not a JSON object');
  return value;
}

/** Reads a JSON object at `key`: {} when absent, CorruptDataError when unreadable or not an object. */
export async function readJsonObject(backend: Backend, key: Key, { signal }: SignalOptions = {}): Promise<Loaded> {
  let stored;
  try {
    stored = await backend.get(key, { signal });
  } catch (err) {
    if (isRomiError(err, ErrorCodes.NOT_FOUND)) return { plain: {}, text: undefined, tree: {}, etag: undefined };
    throw err;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(stored.bytes);
  } catch (err) {
    throw new CorruptDataError(key, 'not valid UTF-8', { cause: err });
  }
  return { plain: parseObject(key, text, false), text, etag: stored.meta.etag };
}

/** Validates the arguments of setMetadata before any I/O, returning the top-level changes. */
function metadataChanges(dataOrKey: unknown, value: unknown, argCount: number): Record<string, unknown> {
  if (typeof dataOrKey === 'string') {
    if (argCount < 2 || value === undefined) {
      throw new InvalidMetadataError(`No value given for metadata key "${dataOrKey}" (undefined cannot be stored)`);
    }
    const changes: Record<string, unknown> = {};
    // The value is stored one level down, under its key.
    setOwn(changes, dataOrKey, copyJsonValue(value, dataOrKey, 1));
    return changes;
  }
  return validateMetadata(dataOrKey);
}

export function validateMetadata(data: unknown): Record<string, unknown> {
  if (!isPlainObject(data)) {
    throw new InvalidMetadataError(`Metadata must be a plain object, got ${data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data}`);
  }
  return copyJsonValue(data, 'metadata') as Record<string, unknown>;
}

/**
 * The metadata JSON of one scan, fileset or file. Cached after the first read; every
 * change is a conditional read-modify-write of the whole file, serialised per key.
 */
export class MetadataStore {
  #cache: Loaded | undefined;
  #key: Key | (() => Key);

  /** `key` may be computed on first use: an object with an id unfit for a key stays listable. */
  constructor(
    private readonly host: Port,
    key: Key | (() => Key),
  ) {
    this.#key = key;
  }

  get key(): Key {
    if (typeof this.#key === 'function') this.#key = this.#key();
    return this.#key;
  }

  async #load({ signal }: SignalOptions): Promise<Loaded> {
    this.#cache ??= await readJsonObject(this.host.backend, this.key, { signal });
    return this.#cache;
  }

  forget(): void {
    this.#cache = undefined;
  }

  /**
   * Records that nothing is stored at the key (just checked): the first write is then a
   * create-only put with no read before it, and a conflict reads the key as usual.
   */
  knownAbsent(): void {
    this.#cache = { plain: {}, text: undefined, tree: {}, etag: undefined };
  }

  /** The cached metadata itself, not a copy: for readers that do not change it (queries). */
  async read(opts: SignalOptions = {}): Promise<Record<string, unknown>> {
    return (await this.#load(opts)).plain;
  }

  async get(key: string | undefined, fallback: unknown, opts: SignalOptions = {}): Promise<unknown> {
    const { plain } = await this.#load(opts);
    if (key === undefined) return toPlain(plain);
    return Object.prototype.hasOwnProperty.call(plain, key) ? toPlain(plain[key]) : fallback;
  }

  /** Shallow merge of `changes` (already validated), persisted before it resolves. */
  async merge(changes: Record<string, unknown>, { signal }: SignalOptions = {}): Promise<void> {
    this.host.assertWritable('set metadata');
    await this.host.runExclusive(this.key, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const current = await this.#load({ signal });
        // Number texts matter only when writing back: parse losslessly now.
        const tree = (current.tree ??= parseObject(this.key, current.text!, true));
        const next: Record<string, unknown> = { ...tree };
        for (const k of Object.keys(changes)) {
          setOwn(next, k, reconcile(changes[k], Object.prototype.hasOwnProperty.call(tree, k) ? tree[k] : undefined));
        }
        if (current.etag !== undefined && jsonEqual(next, tree)) return;
        this.host.assertWritable('set metadata');
        try {
          const meta = await this.host.backend.put(
            this.key,
            utf8.encode(formatPythonJson(next)),
            current.etag === undefined ? { ifNoneMatch: '*', signal } : { ifMatch: current.etag, signal },
          );
          this.#cache = { plain: toPlain(next) as Record<string, unknown>, text: undefined, tree: next, etag: meta.etag };
          return;
        } catch (err) {
          this.#cache = undefined;
          if (!isRomiError(err, ErrorCodes.CONDITION_FAILED)) throw err;
        }
      }
      throw new ConditionFailedError(this.key, `still changing after ${MAX_ATTEMPTS} attempts`);
    });
  }

  /**
   * Writes the metadata of a new object, only if nothing is stored at its key yet
   * (OccupiedError otherwise, naming `what` was being created).
   */
  async create(data: Metadata, what: string, { signal }: SignalOptions = {}): Promise<void> {
    this.host.assertWritable('set metadata');
    await this.host.runExclusive(this.key, async () => {
      let meta;
      try {
        meta = await this.host.backend.put(this.key, utf8.encode(formatPythonJson(data)), { ifNoneMatch: '*', signal });
      } catch (err) {
        if (isRomiError(err, ErrorCodes.CONDITION_FAILED)) throw new OccupiedError(what, this.key);
        throw err;
      }
      this.#cache = { plain: toPlain(data) as Record<string, unknown>, text: undefined, tree: data, etag: meta.etag };
    });
  }
}

/** getMetadata/setMetadata, shared by scans, filesets and files. */
export abstract class MetadataHolderBase {
  abstract readonly metadataStore: MetadataStore;
  abstract readonly port: Port;

  /** Throws when the object no longer exists (checked before its metadata is written). */
  protected async assertExists(_opts: SignalOptions): Promise<void> {}

  /** Throws unless the database takes writes and this object's ids are ones romidb may change. */
  abstract assertWritableIds(what: string): void;

  getMetadata(opts?: SignalOptions): Promise<Metadata>;
  getMetadata<T = unknown>(key: string, fallback?: T, opts?: SignalOptions): Promise<T>;
  async getMetadata(keyOrOpts?: string | SignalOptions, fallback?: unknown, opts?: SignalOptions): Promise<any> {
    const key = typeof keyOrOpts === 'string' ? keyOrOpts : undefined;
    const options = (typeof keyOrOpts === 'string' ? opts : keyOrOpts) ?? {};
    throwIfAborted(options.signal);
    this.port.assertConnected();
    return this.metadataStore.get(key, fallback, options);
  }

  setMetadata(data: Metadata, opts?: SignalOptions): Promise<void>;
  setMetadata(key: string, value: unknown, opts?: SignalOptions): Promise<void>;
  async setMetadata(dataOrKey: Metadata | string, value?: unknown, opts?: SignalOptions): Promise<void> {
    const byKey = typeof dataOrKey === 'string';
    const changes = metadataChanges(dataOrKey, value, arguments.length);
    const options = (byKey ? opts : (value as SignalOptions | undefined)) ?? {};
    throwIfAborted(options.signal);
    this.assertWritableIds('set metadata');
    await this.assertExists(options);
    await this.metadataStore.merge(changes, options);
  }
}
