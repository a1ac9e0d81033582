/**
 * Databases and scans as tar.gz, the way ROMI's example datasets are published.
 *
 * Export: entries are the database keys exactly as stored (`<scan>/files.json`,
 * `<scan>/metadata/…`, data), each scan's files.json last, plus the `romidb` marker for a whole
 * database. Each scan is a snapshot (its files.json read before its listing, see the core's
 * snapshot.ts), so the archive's index lists only data the archive holds even while a writer
 * works. Objects are streamed from the backend; only small ones are read as one buffer.
 *
 * Import reads the archive twice. The first pass validates every entry and writes nothing: no
 * absolute paths, no ".." or "." segments, no links, devices or other special entries, no name
 * that is not a valid key or is both a file and a folder, no scan that already exists, and the
 * size limits (total, expansion ratio, JSON entries, free space). The second pass claims each
 * scan folder with a pending marker, writes through the target's backend (so it works for every
 * backend): data and metadata in archive order, each scan's files.json after everything else,
 * then removes the marker. A failure or Ctrl-C removes the claimed scans; a killed import leaves
 * them marked, which `check` reports and `check --fix` removes.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat, statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pipeline as pipelineCb, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import {
  archiveEntryPath,
  archiveEntryProblem,
  DEFAULT_IMPORT_LIMITS,
  ErrorCodes,
  importCap,
  type ImportLimits,
  idProblem,
  INDEX_NAME,
  indexForCopy,
  INTERNAL_PREFIX,
  InvalidArgumentError,
  isRomiError,
  keys,
  MARKER_KEY,
  METADATA_DIR,
  OccupiedError,
  ScanExistsError,
  snapshotScan,
  StorageError,
  throwIfAborted,
  toKey,
  type ObjectMeta,
  type Problem,
  type RomiDB,
} from '@romi/db-core';
import type { CliIO } from './context.js';
import { formatBytes } from './output.js';
import { startProgress } from './progress.js';

type EntryHeader = Partial<tar.Header> & { name: string };
/** An archive entry: its header, and its bytes as a stream to read or drain. */
type Entry = AsyncIterable<Buffer> & { header: tar.Header };

/** Objects at most this large are read as one buffer; larger ones are streamed. */
const BUFFER_LIMIT = 8 << 20;

export interface ArchiveOptions {
  io: CliIO;
  signal?: AbortSignal;
}

// ---------------------------------------------------------------- export

export interface ExportResult {
  scans: string[];
  entries: number;
  bytes: number;
}

/** Zero-copy view of bytes as a Buffer (tar-stream wants Buffers). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

type Emitter = { once(event: string, fn: () => void): unknown; off(event: string, fn: () => void): unknown; destroyed?: boolean };

/** Resolves on 'drain', or once the stream is destroyed (a destroyed stream never drains). */
function waitDrain(stream: Emitter): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

/** Adds one entry, honouring the pack's backpressure; resolves once the entry is complete. */
function addEntry(pack: tar.Pack, header: EntryHeader, body?: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
    if (header.type === 'directory') return;
    void (async () => {
      const chunks = body === undefined ? [] : body instanceof Uint8Array ? [body] : body;
      for await (const chunk of chunks) {
        if (sink.destroyed) throw new Error('the archive stream was closed');
        if (!sink.write(asBuffer(chunk))) await waitDrain(sink);
      }
      sink.end(undefined);
    })().catch((err: Error) => {
      sink.destroy(err);
      reject(err);
    });
  });
}

/** A file system error while writing `out`, named after the archive (not our temporary file). */
function writeError(out: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (isRomiError(err) || typeof code !== 'string' || !code.startsWith('E')) return err as Error;
  const reasons: Record<string, string> = { ENOSPC: 'no space left on the device', EACCES: 'permission denied', EPERM: 'permission denied', EROFS: 'read-only file system' };
  const reason = reasons[code] ?? code;
  return new StorageError(`Cannot write "${out}": ${reason}`, { cause: err });
}

/**
 * Writes `scans` of `db` (connected, read-only is enough) to `out`, atomically (temp file, then
 * rename). Scans are read one at a time, so memory does not grow with the database; progress
 * is in bytes for one scan, in scans for several. Any failure removes the temporary file.
 */
export async function exportArchive(db: RomiDB, scans: string[], out: string, opts: ArchiveOptions & { marker: boolean }): Promise<ExportResult> {
  const { signal } = opts;
  const folder = await stat(dirname(out)).catch(() => undefined);
  if (!folder?.isDirectory()) throw new InvalidArgumentError(`Cannot write "${out}": folder "${dirname(out)}" does not exist`);
  if ((await stat(out).catch(() => undefined))?.isDirectory()) throw new InvalidArgumentError(`Cannot write "${out}": it is a folder`);
  const temp = join(dirname(out), `${INTERNAL_PREFIX}${basename(out)}.${process.pid}.tmp`);
  const pack = tar.pack();
  const written = pipeline(Readable.from(pack), createGzip(), createWriteStream(temp));
  // The file may fail at any time (no space, no permission): every wait below also ends then.
  const failed = written.then(
    () => new Promise<never>(() => {}),
    (err: unknown) => Promise.reject(writeError(out, err)),
  );
  failed.catch(() => {});
  const step = <T>(work: Promise<T>): Promise<T> => Promise.race([work, failed]);
  const progress = startProgress(opts.io, 'export', scans.length === 1 ? { bytes: true } : { total: scans.length });
  let bytes = 0;
  let entries = 0;
  try {
    if (opts.marker) {
      await step(addEntry(pack, { name: MARKER_KEY, size: 0, mode: 0o644 }));
      entries++;
    }
    for (const [i, scan] of scans.entries()) {
      const snapshot = await step(snapshotScan(db.backend, scan, { signal }));
      const objects = [{ key: `${scan}/`, size: 0, etag: 'folder' }, ...snapshot.objects.filter((o) => o.key !== `${scan}/`)].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const total = objects.reduce((n, o) => n + o.size, 0) + (snapshot.index?.meta.size ?? 0);
      const vanished = new Set<string>();
      let done = 0;
      for (const object of objects) {
        throwIfAborted(signal);
        if (await step(addObject(db, pack, object, signal))) entries++;
        else vanished.add(object.key);
        done += object.size;
        if (scans.length === 1) progress.update(done, total, object.key);
      }
      // The index last, as read before the listing: it lists only what the archive holds.
      const index = indexForCopy(snapshot, vanished);
      if (index) {
        await step(addEntry(pack, { name: keys.index(scan), size: index.byteLength, mode: 0o644, mtime: snapshot.index!.meta.mtime ?? new Date() }, index));
        entries++;
      }
      bytes += total;
      if (scans.length > 1) progress.update(i + 1, scans.length, scan);
    }
    pack.finalize();
    await written.catch((err: unknown) => Promise.reject(writeError(out, err)));
    await rename(temp, out).catch((err: unknown) => Promise.reject(writeError(out, err)));
  } catch (err) {
    pack.destroy(err as Error);
    await written.catch(() => {});
    await rm(temp, { force: true });
    throw writeError(out, err);
  } finally {
    progress.stop();
  }
  return { scans, entries, bytes };
}

/**
 * One stored object as an archive entry: folders as folders, small files buffered, large ones
 * streamed. False when it no longer exists (a writer deleted it since the listing).
 */
async function addObject(db: RomiDB, pack: tar.Pack, object: ObjectMeta, signal?: AbortSignal): Promise<boolean> {
  const mtime = object.mtime ?? new Date();
  if (object.key.endsWith('/')) {
    await addEntry(pack, { name: object.key, type: 'directory', mode: 0o755, mtime });
    return true;
  }
  try {
    if (object.size <= BUFFER_LIMIT) {
      const { bytes, meta } = await db.backend.get(toKey(object.key), { signal });
      await addEntry(pack, { name: object.key, size: meta.size, mode: 0o644, mtime }, bytes);
    } else {
      // The header needs the size: it is the size of the very version being streamed.
      const { stream, meta } = await db.backend.getStream(toKey(object.key), { signal });
      await addEntry(pack, { name: object.key, size: meta.size, mode: 0o644, mtime }, stream as unknown as AsyncIterable<Uint8Array>);
    }
    return true;
  } catch (err) {
    if (isRomiError(err, ErrorCodes.NOT_FOUND)) return false;
    throw err;
  }
}

// ---------------------------------------------------------------- import

export interface ImportResult {
  scans: string[];
  entries: number;
  bytes: number;
  /** Entries not imported: the marker, a lock, hidden top-level folders. */
  skipped: string[];
  /** What check() found in the imported scans (empty when they are clean). */
  problems: Problem[];
}

interface RawEntry {
  name: string;
  type: string;
  size: number;
}

/** Why an entry cannot be imported, or undefined: only regular files and folders, with names valid as keys. */
function entryProblem(entry: RawEntry): string | undefined {
  if (entry.type !== 'file' && entry.type !== 'contiguous-file' && entry.type !== 'directory') {
    return `a ${entry.type ?? 'special'} entry (only regular files and folders are imported)`;
  }
  return archiveEntryProblem(entry.name, entry.type === 'directory');
}

async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * The entries of a (possibly gzipped) tar file, one at a time: the caller must read or drain
 * each entry before asking for the next. `onRead` reports compressed bytes read. One pipeline
 * joins the stages, so a failure anywhere ends the iteration with an error, and stopping early
 * (an error in the caller, Ctrl-C) closes every stage.
 */
async function* readTar(path: string, onRead?: (bytes: number) => void): AsyncGenerator<Entry> {
  const gzip = await isGzip(path);
  const extract = tar.extract();
  let read = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      onRead?.((read += chunk.length));
      done(null, chunk);
    },
  });
  let failure: Error | undefined;
  const finished = new Promise<void>((resolve) => {
    pipelineCb([createReadStream(path), counter, ...(gzip ? [createGunzip()] : []), extract], (err) => {
      failure ??= err ?? undefined;
      resolve();
    });
  });
  const unreadable = (err: unknown) => new InvalidArgumentError(`Cannot read archive "${path}": ${(err as Error).message}`);
  let complete = false;
  try {
    yield* extract as unknown as AsyncIterable<Entry>;
    complete = true;
  } catch (err) {
    throw unreadable(failure ?? err);
  } finally {
    if (!complete) extract.destroy();
    await finished;
  }
  if (failure) throw unreadable(failure);
}

async function drain(entry: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of entry) {
    // discard
  }
}

interface Plan {
  /** Removed from every name: the top folder of a tarred database ("db/romidb", "db/scan/…"). */
  root: string;
  scans: string[];
  skipped: Set<string>;
  /** Bytes the import writes. */
  bytes: number;
}

function refuse(path: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`Refusing archive "${path}": ${why}; nothing was imported`);
}

const isJsonEntry = (rel: string, top: string): boolean => rel === `${top}/${INDEX_NAME}` || (rel.startsWith(`${top}/${METADATA_DIR}/`) && rel.endsWith('.json'));

/** Pass 1: reads every header, validates it, and decides what goes where. Writes nothing. */
async function planImport(db: RomiDB, path: string, archiveSize: number, limits: ImportLimits, signal?: AbortSignal): Promise<{ plan: Plan; entries: RawEntry[] }> {
  const entries: RawEntry[] = [];
  const cap = importCap(limits, archiveSize);
  let total = 0;
  for await (const entry of readTar(path)) {
    throwIfAborted(signal);
    const { name, type, size } = entry.header;
    const raw = { name, type: type ?? 'unknown', size: size ?? 0 };
    const problem = entryProblem(raw);
    if (problem !== undefined) throw refuse(path, `entry "${name}" is ${problem}`);
    total += raw.size;
    // Refused at the header that passes the limit, before its bytes are inflated.
    if (total > cap) {
      const limit = cap === limits.maxBytes ? `the limit of ${formatBytes(limits.maxBytes)} (--max-size)` : `${limits.maxRatio}× the archive's ${formatBytes(archiveSize)} (--max-ratio)`;
      throw refuse(path, `its entries hold more than ${formatBytes(total)} (at "${name}"), over ${limit}`);
    }
    entries.push(raw);
    await drain(entry);
  }

  // A tarred database folder ("db/romidb", "db/scan/…") imports like the database itself.
  const paths = entries.map((e) => archiveEntryPath(e.name)).filter((p) => p !== '');
  const tops = new Set(paths.map((p) => p.split('/')[0]!));
  let root = '';
  if (tops.size === 1 && !paths.includes(MARKER_KEY)) {
    const [top] = tops;
    if (entries.some((e) => e.type !== 'directory' && archiveEntryPath(e.name) === `${top}/${MARKER_KEY}`)) root = `${top}/`;
  }

  const scans = new Set<string>();
  const isScan = new Set<string>();
  const skipped = new Set<string>();
  const files = new Set<string>();
  const folders = new Set<string>();
  let bytes = 0;
  for (const e of entries) {
    const full = archiveEntryPath(e.name);
    if (full === '' || `${full}/` === root) continue;
    const rel = full.slice(root.length);
    const [top, ...rest] = rel.split('/');
    if (rest.length === 0 && e.type !== 'directory' && (top === MARKER_KEY || top === 'lock')) {
      skipped.add(rel);
      continue;
    }
    if (top === 'lock' || top!.startsWith('.')) {
      skipped.add(`${top}/`);
      continue;
    }
    if (rest.length === 0 && e.type !== 'directory') throw refuse(path, `"${e.name}" is a file outside any scan folder`);
    const problem = idProblem('scan', top);
    if (problem !== undefined) throw refuse(path, `"${top}" is not a valid scan id (${problem})`);
    if (e.type === 'directory') {
      folders.add(rel);
    } else {
      if (files.has(rel)) throw refuse(path, `"${e.name}" appears twice`);
      files.add(rel);
      if (isJsonEntry(rel, top!) && e.size > limits.maxJsonBytes) {
        throw refuse(path, `"${e.name}" is a JSON file of ${formatBytes(e.size)}, over the limit of ${formatBytes(limits.maxJsonBytes)} (--max-json-size)`);
      }
      bytes += e.size;
    }
    for (let i = rel.indexOf('/'); i > 0; i = rel.indexOf('/', i + 1)) folders.add(rel.slice(0, i));
    scans.add(top!);
    if (rel === `${top}/${INDEX_NAME}` || rel === `${top}/${METADATA_DIR}` || rel.startsWith(`${top}/${METADATA_DIR}/`)) isScan.add(top!);
  }
  for (const file of files) {
    if (folders.has(file)) throw refuse(path, `"${file}" is both a file and a folder`);
  }
  for (const scan of scans) {
    if (!isScan.has(scan)) throw refuse(path, `folder "${scan}" is not a scan (no ${INDEX_NAME} nor ${METADATA_DIR}/)`);
  }
  if (scans.size === 0) throw new InvalidArgumentError(`Archive "${path}" holds no scan`);
  // Refuse scans that exist, and folders holding anything at all.
  for (const scan of [...scans].sort()) {
    if (await db.hasScan(scan, { signal })) throw new ScanExistsError(scan);
    for await (const entry of db.backend.list(keys.scanFolder(scan), { signal })) {
      if (!entry.key.endsWith('/')) throw new OccupiedError(`scan "${scan}"`, entry.key);
    }
    if (await db.backend.head(keys.pending(scan), { signal })) throw new OccupiedError(`scan "${scan}"`, keys.pending(scan));
  }
  await assertFreeSpace(db, bytes);
  return { plan: { root, scans: [...scans].sort(), skipped, bytes }, entries };
}

/** On a local file system, the import must fit in the free space. */
async function assertFreeSpace(db: RomiDB, bytes: number): Promise<void> {
  const marker = db.backend.localPath?.(MARKER_KEY);
  if (marker === undefined) return;
  const fs = await statfs(dirname(marker)).catch(() => undefined);
  if (fs === undefined) return;
  const free = fs.bavail * fs.bsize;
  if (bytes > free) throw new StorageError(`Cannot import: the archive holds ${formatBytes(bytes)} and ${db.url} has ${formatBytes(free)} free; nothing was imported`);
}

/** Imports the scans of the archive at `path` into `db` (connected as writer). */
export async function importArchive(db: RomiDB, path: string, opts: ArchiveOptions & { limits?: Partial<ImportLimits> }): Promise<ImportResult> {
  const { signal } = opts;
  const limits = { ...DEFAULT_IMPORT_LIMITS, ...opts.limits };
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new InvalidArgumentError(`Cannot read archive "${path}": no such file`);
  if (!info.isFile()) throw new InvalidArgumentError(`Cannot read archive "${path}": not a regular file`);
  const size = info.size;
  const { plan, entries } = await planImport(db, path, size, limits, signal);
  const what = { signal };
  // Every put and delete below checks the writer lock first.
  const storage = db.storageWriter();
  const importing = new Set(plan.scans);
  const claimed: string[] = [];
  const indexes = new Map<string, Uint8Array>();
  const progress = startProgress(opts.io, 'import', { total: size, bytes: true });
  let bytes = 0;
  let i = 0;
  try {
    // Each scan folder is claimed before anything is written in it (see check's incomplete-scan).
    const claim = new TextEncoder().encode(JSON.stringify({ operation: 'import archive', archive: path, pid: process.pid, host: hostname(), started: new Date().toISOString() }));
    for (const scan of plan.scans) {
      try {
        await storage.put(keys.pending(scan), claim, { ...what, ifNoneMatch: '*' });
      } catch (err) {
        if (isRomiError(err, ErrorCodes.CONDITION_FAILED)) throw new OccupiedError(`scan "${scan}"`, keys.pending(scan));
        throw err;
      }
      claimed.push(scan);
    }
    for await (const entry of readTar(path, (n) => progress.update(n, size))) {
      throwIfAborted(signal);
      // The archive must be the one validated in pass 1.
      const expected = entries[i++];
      const { name, type, size: entrySize = 0 } = entry.header;
      if (!expected || expected.name !== name || expected.type !== type || expected.size !== entrySize) {
        throw new InvalidArgumentError(`Archive "${path}" changed while it was being imported (at "${name}")`);
      }
      const full = archiveEntryPath(name);
      const rel = full.slice(plan.root.length);
      const top = rel.split('/')[0]!;
      if (full === '' || `${full}/` === plan.root || !importing.has(top) || rel === top) {
        await drain(entry);
        continue;
      }
      if (type === 'directory') {
        await drain(entry);
        await storage.put(toKey(`${rel}/`), new Uint8Array(), what);
      } else if (rel === `${top}/${INDEX_NAME}` || entrySize <= BUFFER_LIMIT) {
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk);
        const data = new Uint8Array(Buffer.concat(chunks));
        if (rel === `${top}/${INDEX_NAME}`) indexes.set(top, data);
        else await storage.put(toKey(rel), data, what);
      } else {
        await storage.put(toKey(rel), entry as AsyncIterable<Uint8Array>, { ...what, size: entrySize });
      }
      bytes += entrySize;
    }
    if (i !== entries.length) throw new InvalidArgumentError(`Archive "${path}" changed while it was being imported (it ended early)`);
    // Each scan's index last: it only lists data that is already stored. Then the claim goes.
    for (const scan of plan.scans) {
      const index = indexes.get(scan);
      if (index) await storage.put(keys.index(scan), index, what);
      await storage.delete(keys.pending(scan));
    }
  } catch (err) {
    // Everything in a claimed folder was written by this import: take it all back.
    for (const scan of claimed) {
      try {
        await storage.delete(keys.scanFolder(scan));
      } catch {
        break;
      }
    }
    throw err;
  } finally {
    progress.stop();
  }
  await db.reload();
  const report = await db.check({ scans: plan.scans, signal });
  return { scans: plan.scans, entries: entries.length, bytes, skipped: [...plan.skipped].sort(), problems: report.problems };
}
