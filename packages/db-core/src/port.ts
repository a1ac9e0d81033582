/**
 * The private port between a RomiDB and what works inside it (its scans, filesets and files,
 * check, mirror): what they need of the database, none of which the public API shows.
 * Objects lower in the tree see their parents through the small interfaces below, so that no
 * module imports one above it.
 */
import type { Backend, Body, PutOptions } from './backend.js';
import type { Key } from './key.js';
import type { ScanIndex } from './layout.js';
import type { DB, SignalOptions } from './types.js';

/** The index of one scan, as its scan object caches and changes it. */
interface IndexOps {
  /** files.json as cached (read on first use); etag undefined when it does not exist. */
  loadIndex(opts?: SignalOptions): Promise<{ index: ScanIndex; etag: string | undefined }>;
  /**
   * Applies `change` and writes the index conditionally, re-reading and re-applying it on a
   * conflict. `change` must throw before it modifies anything.
   */
  mutateIndex<T>(what: string, change: (index: ScanIndex) => T, opts?: SignalOptions): Promise<T>;
}

export interface Port {
  /** The public object (what `scan.db` returns). */
  readonly db: DB;
  readonly backend: Backend;
  /** Parallel reads when listing or querying many objects. */
  readonly concurrency: number;
  readonly lockStaleMs: number;
  assertConnected(): void;
  /** Throws unless writes are allowed now (connected, as writer, lock held). */
  assertWritable(what: string): void;
  /** Runs `fn` after every earlier call with the same key has settled (in this process). */
  runExclusive<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** A put that checks the lock first; returns the new etag. */
  write(key: Key, body: Body, opts: PutOptions & { what: string }): Promise<string>;
  hasScan(id: string, opts?: SignalOptions): Promise<boolean>;
  /** The index operations of an existing scan (check repairs through them). */
  scanIndex(id: string): IndexOps;
  /** Forgets every cached read. */
  forgetAll(): void;
  /**
   * The scan objects holding index changes not yet written (ScanImpl.deferIndexChange), also
   * those a reload() has since replaced: disconnect() writes them all.
   */
  readonly pendingIndexes: Set<PendingIndex>;
}

/** A scan object with index changes to write. */
export interface PendingIndex {
  flushIndex(opts?: SignalOptions): Promise<void>;
  /** Drops the changes (and every cached read). */
  forget(): void;
}

/** What a fileset needs of its scan. */
export interface ScanParent extends IndexOps {
  readonly id: string;
  readonly port: Port;
  assertWritableIds(what: string): void;
  /** Applies `change` to the cached index and writes it with the next index write (see ScanImpl). */
  deferIndexChange<T>(what: string, change: (index: ScanIndex) => T, replay: (index: ScanIndex) => void, opts?: SignalOptions): Promise<T>;
}

/** What a file needs of its fileset. */
export interface FilesetParent {
  readonly id: string;
  readonly scan: ScanParent;
  readonly port: Port;
  /** The index, checking that this fileset is still in it. */
  index(opts?: SignalOptions): Promise<ScanIndex>;
  assertWritableIds(what: string): void;
}

const ports = new WeakMap<object, Port>();

/** Called once by each RomiDB for itself. */
export function attachPort(db: object, port: Port): void {
  ports.set(db, port);
}

/** The port of a database made by romidb, for the core's own tools (mirror). */
export function portOf(db: object): Port | undefined {
  return ports.get(db);
}
