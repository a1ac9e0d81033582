/**
 * One JSON document at the database root (users.json, groups.json), read and changed through
 * the Backend only, as plantdb writes it: `json.dump(data, f, indent=2)` (keys in insertion
 * order, ASCII escapes, no trailing newline) with `datetime.now().isoformat()` dates.
 *
 * Every change is read → change → conditional write: `ifMatch` on the etag read, or
 * `ifNoneMatch: '*'` when the document is absent; a ConditionFailedError (another process wrote
 * in between) re-reads and applies the change again. Changes made through one JsonFile are also
 * queued one after the other, so they do not race each other. Where storage's conditional writes
 * are atomic only within one process but other processes can reach it (a local folder:
 * `conditionalWrites: 'process'` with real paths), each change also holds a short host-wide
 * lock, `.romidb-accounts.lock`, so that two processes never lose each other's changes. The
 * database's writer lock is not taken: a server may hold it, or be serving read-only beside us.
 */
import {
  ConditionFailedError,
  CorruptDataError,
  formatPythonJson,
  INTERNAL_PREFIX,
  isPlainObject,
  isRomiError,
  KeyedMutex,
  parseJsonTree,
  sleep,
  toKey,
  type Backend,
  type Key,
} from '@romi/db-core';

/** The lock held around each change where conditional writes do not reach other processes. */
const ACCOUNTS_LOCK = `${INTERNAL_PREFIX}accounts.lock`;

/** How many times a change is tried when other writers keep changing the document in between. */
const MAX_ATTEMPTS = 50;

// ---- plantdb's JSON ----

/**
 * `json.dumps(value, indent=2)` byte for byte: keys in insertion order; scalars (and numbers
 * read from storage, kept as their text) as romidb writes them for Python.
 */
export function formatPlantdbJson(value: unknown, depth = 0): string {
  const pad = (d: number): string => `\n${'  '.repeat(d)}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${value.map((v) => pad(depth + 1) + formatPlantdbJson(v, depth + 1)).join(',')}${pad(depth)}]`;
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return `{${entries.map(([k, v]) => `${pad(depth + 1)}${formatPythonJson(k)}: ${formatPlantdbJson(v, depth + 1)}`).join(',')}${pad(depth)}}`;
  }
  return formatPythonJson(value);
}

const two = (n: number): string => String(n).padStart(2, '0');

/** Python's `datetime.now().isoformat()` for this instant: local time, no zone, microseconds unless 0. */
export function formatPythonDate(d: Date): string {
  const base = `${String(d.getFullYear()).padStart(4, '0')}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  const ms = d.getMilliseconds();
  return ms === 0 ? base : `${base}.${String(ms * 1000).padStart(6, '0')}`;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?)?(?:(Z)|([+-])(\d{2})(?::?(\d{2})(?::?(\d{2}))?)?)?$/;

/**
 * What `datetime.fromisoformat` reads, as an instant: a date and time without a zone is local
 * time (as plantdb writes it); with `Z` or `±HH:MM` it is that zone's. Undefined when it is not one.
 */
export function parsePythonDate(text: string): Date | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const zoned = m[8] !== undefined || m[9] !== undefined;
  // setFullYear: years 0–99 are not 1900–1999.
  const date = zoned ? new Date(Date.UTC(2000, mo - 1, d, h, mi, s, ms)) : new Date(2000, mo - 1, d, h, mi, s, ms);
  if (zoned) date.setUTCFullYear(y);
  else date.setFullYear(y);
  // 31 February rolls over into March: not a date.
  if ((zoned ? date.getUTCDate() : date.getDate()) !== d) return undefined;
  if (m[9] === undefined) return date;
  const offsetMs = (Number(m[10]) * 3600 + Number(m[11] ?? 0) * 60 + Number(m[12] ?? 0)) * 1000;
  return new Date(date.getTime() - (m[9] === '-' ? -offsetMs : offsetMs));
}

// ---- the document ----

/** A document as read: its parsed value (made by `parse`) and the etag of the version read. */
export interface Versioned<T> {
  doc: T;
  etag?: string;
}

/** What a change returns: the value for the caller, and whether the document must be written. */
export interface Change<R> {
  result: R;
  write: boolean;
}

export interface JsonFileOptions<T> {
  name: string;
  /** The document when the key is absent or empty (plantdb treats an empty file as none). */
  empty: () => T;
  /** Checks and converts what JSON.parse gave; a problem is thrown as a string. */
  parse: (tree: unknown) => T;
  /** The plain JSON value to write. */
  serialize: (doc: T) => unknown;
  /** How long to wait for the host lock (local folders). */
  lockWaitMs?: number;
}

export class JsonFile<T> {
  readonly key: Key;
  readonly #backend: Backend;
  readonly #opts: JsonFileOptions<T>;
  readonly #queue = new KeyedMutex();

  constructor(backend: Backend, opts: JsonFileOptions<T>) {
    this.#backend = backend;
    this.#opts = opts;
    this.key = toKey(opts.name);
  }

  /** The document now (ROMI_CORRUPT when it cannot be read as one; nothing is ever written over it). */
  async read(signal?: AbortSignal): Promise<Versioned<T>> {
    let stored;
    try {
      stored = await this.#backend.get(this.key, { signal });
    } catch (err) {
      if (isRomiError(err, 'ROMI_NOT_FOUND')) return { doc: this.#opts.empty() };
      throw err;
    }
    if (stored.bytes.byteLength === 0) return { doc: this.#opts.empty(), etag: stored.meta.etag };
    let tree: unknown;
    try {
      tree = parseJsonTree(stored.bytes);
    } catch (err) {
      throw new CorruptDataError(this.key, `not valid JSON (${(err as Error).message})`);
    }
    try {
      return { doc: this.#opts.parse(tree), etag: stored.meta.etag };
    } catch (err) {
      if (typeof err === 'string') throw new CorruptDataError(this.key, err);
      throw err;
    }
  }

  /**
   * Applies `change` to the document read now and writes it conditionally, again on a fresh
   * read whenever another writer got there first. `change` may modify the document it is given
   * (a fresh copy each time) and must throw before modifying anything when it refuses.
   */
  async update<R>(change: (doc: T) => Change<R>, signal?: AbortSignal): Promise<R> {
    return this.#queue.run(this.key, () => this.#withHostLock(signal, async () => {
      for (let attempt = 1; ; attempt++) {
        const { doc, etag } = await this.read(signal);
        const { result, write } = change(doc);
        if (!write) return result;
        const body = new TextEncoder().encode(formatPlantdbJson(this.#opts.serialize(doc)));
        try {
          await this.#backend.put(this.key, body, etag === undefined ? { ifNoneMatch: '*', signal } : { ifMatch: etag, signal });
          return result;
        } catch (err) {
          if (!isRomiError(err, 'ROMI_CONDITION_FAILED')) throw err;
          if (attempt >= MAX_ATTEMPTS) throw new ConditionFailedError(this.key, `other writers changed it ${MAX_ATTEMPTS} times in a row`, { cause: err });
        }
        // Apart, at random, so that writers that collided do not collide again.
        await sleep(Math.random() * Math.min(200, 5 * attempt), signal);
      }
    }));
  }

  async #withHostLock<R>(signal: AbortSignal | undefined, fn: () => Promise<R>): Promise<R> {
    const { capabilities } = this.#backend;
    if (capabilities.conditionalWrites === 'global') {
      // S3: the conditional writes are the store's; S3Backend checks once that it honours them
      // (as before its writer lock) and refuses a store that ignores them (ROMI_NOT_SUPPORTED).
      await (this.#backend as Backend & { verifyConditionalWrites?(signal?: AbortSignal): Promise<void> }).verifyConditionalWrites?.(signal);
      return fn();
    }
    if (!capabilities.localPaths) return fn();
    const lock = await this.#backend.lock(ACCOUNTS_LOCK, { waitMs: this.#opts.lockWaitMs ?? 10_000, signal });
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  }
}
