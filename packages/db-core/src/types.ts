/** The public object model (packages/db-core/README.md, docs/architecture.md). One implementation serves every backend: see db.ts. */

export type Metadata = Record<string, unknown>;
export type Query = Record<string, unknown>;

import type { SignalOptions } from './backend.js';

export type { SignalOptions };

export interface QueryOptions extends SignalOptions {
  query?: Query;
  /** String values of the query are regular expressions, anchored at both ends. */
  fuzzy?: boolean;
}

export interface ConnectOptions extends SignalOptions {
  readOnly?: boolean;
  /** How long to wait for another writer to release the lock (default 0: fail at once). */
  waitMs?: number;
}

export interface CreateOptions extends SignalOptions {
  metadata?: Metadata;
}

export type ProblemKind =
  | 'missing-file'
  | 'unlisted-file'
  | 'unlisted-fileset'
  | 'missing-fileset'
  | 'corrupt-json'
  | 'orphan-metadata'
  | 'stale-lock'
  | 'foreign-lock'
  | 'unsafe-name'
  | 'incomplete-scan'
  | 'temp-file';

export interface Problem {
  kind: ProblemKind;
  scan?: string;
  fileset?: string;
  file?: string;
  key?: string;
  detail: string;
  /** Set by check({ fix: true }) when this problem was repaired. */
  fixed?: boolean;
}

export interface CheckReport {
  ok: boolean;
  problems: Problem[];
}

export interface CheckOptions extends SignalOptions {
  fix?: boolean;
  scans?: string[];
}

export interface MetadataHolder {
  getMetadata(opts?: SignalOptions): Promise<Metadata>;
  getMetadata<T = unknown>(key: string, fallback?: T, opts?: SignalOptions): Promise<T>;
  setMetadata(data: Metadata, opts?: SignalOptions): Promise<void>;
  setMetadata(key: string, value: unknown, opts?: SignalOptions): Promise<void>;
}

export interface DB extends AsyncDisposable {
  readonly url: string;
  readonly isConnected: boolean;
  readonly readOnly: boolean;
  connect(opts?: ConnectOptions): Promise<void>;
  disconnect(): Promise<void>;
  listScans(opts?: QueryOptions): Promise<string[]>;
  getScans(opts?: QueryOptions): Promise<Scan[]>;
  getScan(id: string, opts?: SignalOptions): Promise<Scan>;
  hasScan(id: string, opts?: SignalOptions): Promise<boolean>;
  createScan(id: string, opts?: CreateOptions): Promise<Scan>;
  deleteScan(id: string, opts?: SignalOptions): Promise<void>;
  reload(scanId?: string): Promise<void>;
  check(opts?: CheckOptions): Promise<CheckReport>;
}

export interface Scan extends MetadataHolder {
  readonly id: string;
  readonly db: DB;
  listFilesets(opts?: QueryOptions): Promise<string[]>;
  getFilesets(opts?: QueryOptions): Promise<Fileset[]>;
  getFileset(id: string, opts?: SignalOptions): Promise<Fileset>;
  hasFileset(id: string, opts?: SignalOptions): Promise<boolean>;
  createFileset(id: string, opts?: CreateOptions): Promise<Fileset>;
  deleteFileset(id: string, opts?: SignalOptions): Promise<void>;
  /** measures.json of the scan, {} when absent. */
  getMeasures(opts?: SignalOptions): Promise<Metadata>;
}

export interface NewFile {
  id: string;
  /** Bytes (or text, written as UTF-8) to store; omit to create an unwritten file. */
  data?: Uint8Array | string;
  /** Extension, required with `data`. */
  ext?: string;
  metadata?: Metadata;
}

export interface CreateFilesOptions extends SignalOptions {
  /** How many data and metadata writes run at once (default 8). */
  concurrency?: number;
}

export interface Fileset extends MetadataHolder {
  readonly id: string;
  readonly scan: Scan;
  readonly db: DB;
  listFiles(opts?: QueryOptions): Promise<string[]>;
  getFiles(opts?: QueryOptions): Promise<File[]>;
  getFile(id: string, opts?: SignalOptions): Promise<File>;
  hasFile(id: string, opts?: SignalOptions): Promise<boolean>;
  createFile(id: string, opts?: CreateOptions): Promise<File>;
  /**
   * The batch form: creates many files (with data and metadata) and writes the index once.
   * All ids are checked before any I/O; nothing is indexed unless every write succeeded.
   */
  createFiles(files: Iterable<NewFile> | AsyncIterable<NewFile>, opts?: CreateFilesOptions): Promise<File[]>;
  deleteFile(id: string, opts?: SignalOptions): Promise<void>;
}

export interface File extends MetadataHolder {
  readonly id: string;
  readonly fileset: Fileset;
  readonly scan: Scan;
  readonly db: DB;
  /** '<id>.<ext>', or null before the first write. */
  readonly filename: string | null;
  writeBytes(data: Uint8Array, ext: string, opts?: SignalOptions): Promise<void>;
  readBytes(opts?: SignalOptions): Promise<Uint8Array>;
  writeText(text: string, ext: string, opts?: SignalOptions): Promise<void>;
  readText(opts?: SignalOptions): Promise<string>;
  writeStream(src: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>, ext: string, opts?: SignalOptions): Promise<void>;
  readStream(opts?: SignalOptions): ReadableStream<Uint8Array>;
  importFile(localPath: string, opts?: SignalOptions): Promise<void>;
  /** The real path of the data on a local file system (fsdb), else undefined. */
  localPath(): string | undefined;
}
