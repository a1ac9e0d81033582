/**
 * How several servers on one database see each other's writes at once: a short journal of the
 * scans written through the write routes, `.romidb-changes.json` at the database root (one of
 * romidb's internal names: never listed as a scan nor served).
 *
 * A write route appends `{seq, scan}` while it still holds the database's writer lock, so the
 * journal's order is the order of the writes. Before answering from what it caches (scan infos,
 * the database's indexes), a server asks storage for the journal's version tag (one HEAD, which
 * requests arriving meanwhile share); when it changed, it reads the journal and forgets the
 * scans written since it last looked — or everything, when more writes happened than the journal
 * keeps. Writes made outside a server (the CLI, a pipeline) are not journaled: the catalog's
 * background pass sees them (catalog.ts).
 */
import { ErrorCodes, isPlainObject, isRomiError, type Backend } from '@romi/db-core';
import { JsonFile } from './auth/json-file.js';

/** Entries kept: a server that missed more writes than this forgets everything it cached. */
const KEPT = 512;

export interface JournalOptions {
  /** Drops what is cached of one scan, or of all of them without an id. */
  forget(scanId?: string): Promise<void>;
  /** A write that could not be journaled. */
  onError(err: unknown): void;
}

interface Journal {
  seq: number;
  entries: Array<{ seq: number; scan: string }>;
}

export class ChangeJournal {
  readonly #file: JsonFile<Journal>;
  readonly #backend: Backend;
  readonly #opts: JournalOptions;
  /** What this server has applied: the journal's version tag and last sequence number. */
  #etag: string | undefined;
  #seq = 0;
  #started = false;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  constructor(backend: Backend, opts: JournalOptions) {
    this.#backend = backend;
    this.#opts = opts;
    this.#file = new JsonFile<Journal>(backend, {
      name: '.romidb-changes.json',
      empty: () => ({ seq: 0, entries: [] }),
      // Anything else (a journal damaged by hand) counts as empty: it is rewritten by the next write.
      parse: (tree) => {
        if (!isPlainObject(tree) || typeof tree.seq !== 'number' || !Array.isArray(tree.entries)) return { seq: 0, entries: [] };
        const entries = tree.entries.filter((e): e is { seq: number; scan: string } => isPlainObject(e) && typeof e.seq === 'number' && typeof e.scan === 'string');
        return { seq: tree.seq, entries };
      },
      serialize: (doc) => doc,
    });
  }

  /** Where this server starts: what was written before it started is not cached yet. */
  async start(): Promise<void> {
    const { doc, etag } = await this.#read();
    this.#etag = etag;
    this.#seq = doc.seq;
    this.#started = true;
  }

  /** The journal; one that is not JSON reads as empty with its own tag (the next write replaces it). */
  async #read(): Promise<{ doc: Journal; etag?: string }> {
    try {
      return await this.#file.read();
    } catch (err) {
      if (!isRomiError(err, ErrorCodes.CORRUPT)) throw err;
      return { doc: { seq: 0, entries: [] }, etag: (await this.#backend.head(this.#file.key))?.etag };
    }
  }

  /** Records a write to `scanId` (called under the writer lock). Never throws: the write is done. */
  async record(scanId: string): Promise<void> {
    try {
      await this.#file.update((doc) => {
        doc.seq += 1;
        doc.entries.push({ seq: doc.seq, scan: scanId });
        if (doc.entries.length > KEPT) doc.entries.splice(0, doc.entries.length - KEPT);
        return { result: undefined, write: true };
      });
    } catch (err) {
      if (isRomiError(err, ErrorCodes.CORRUPT)) {
        // Not JSON: replaced (it is the server's own file). Servers that had seen more forget everything.
        await this.#backend.put(this.#file.key, new TextEncoder().encode(JSON.stringify({ seq: 1, entries: [{ seq: 1, scan: scanId }] }))).catch((e: unknown) => this.#opts.onError(e));
      } else {
        this.#opts.onError(err);
      }
    }
  }

  /**
   * Applies the writes recorded since the last look. A call waits for a look that starts after
   * it was made: one already under way may have read the tag before the caller's write ended.
   */
  sync(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#look().finally(() => {
        this.#running = undefined;
      });
      return this.#running;
    }
    this.#queued ??= this.#running.then(
      () => this.#next(),
      () => this.#next(),
    );
    return this.#queued;
  }

  #next(): Promise<void> {
    this.#queued = undefined;
    return this.sync();
  }

  async #look(): Promise<void> {
    if (!this.#started) return this.start();
    const head = await this.#backend.head(this.#file.key);
    if (head?.etag === this.#etag) return;
    const { doc, etag } = await this.#read();
    const first = doc.entries[0]?.seq ?? doc.seq + 1;
    if (doc.seq < this.#seq || first > this.#seq + 1) {
      // Writes were missed (or the journal was replaced): nothing cached can be trusted.
      await this.#opts.forget();
    } else {
      const scans = new Set(doc.entries.filter((e) => e.seq > this.#seq).map((e) => e.scan));
      for (const scan of scans) await this.#opts.forget(scan);
    }
    this.#etag = etag;
    this.#seq = doc.seq;
  }
}
