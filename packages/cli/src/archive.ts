/**
 * Databases and scans as tar.gz, the way ROMI's example datasets are published.
 *
 * Export: entries are the database keys exactly as stored (`<scan>/files.json`,
 * `<scan>/metadata/…`, data), each scan's files.json last, plus the `romidb` marker for a whole
 * database. Objects are streamed from the backend; only small ones are read as one buffer.
 *
 * Import reads the archive twice. The first pass validates every entry and writes nothing: no
 * absolute paths, no ".." or "." segments, no links, devices or other special entries, no name
 * that is not a valid key, no scan that already exists. The second pass writes through the
 * target's backend (so it works for every backend): data and metadata in archive order, each
 * scan's files.json after everything else, so that the index never lists data not yet written.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline as pipelineCb, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import {
  idProblem,
  INDEX_NAME,
  InvalidArgumentError,
  keyProblem,
  MARKER_KEY,
  ScanExistsError,
  StorageError,
  throwIfAborted,
  type ObjectMeta,
  type Problem,
  type RomiDB,
} from '@romi/db-core';
import type { CliIO } from './context.js';

/** The database layout's metadata folder (see DESIGN.md). */
const METADATA_DIR = 'metadata';

type EntryHeader = Partial<tar.Header> & { name: string };
/** An archive entry: its header, and its bytes as a stream to read or drain. */
type Entry = AsyncIterable<Buffer> & { header: tar.Header };
import { startProgress } from './progress.js';

/** Objects at most this large are read as one buffer; larger ones are streamed. */
const BUFFER_LIMIT = 8 << 20;
/** Our temporary files and the database's own bookkeeping never travel in archives. */
const TEMP_PREFIX = '.romidb-';

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

type Emitter = { once(event: string, fn: () => void): unknown; off(event: string, fn: () => void): unknown };

/** Resolves on 'drain', or on 'close' (a destroyed stream never drains). */
function waitDrain(stream: Emitter): Promise<void> {
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
        if (!sink.write(asBuffer(chunk))) await waitDrain(sink);
      }
      sink.end(undefined);
    })().catch((err: Error) => {
      sink.destroy(err);
      reject(err);
    });
  });
}

/** The objects of a scan in archive order: sorted, files.json last. */
async function scanObjects(db: RomiDB, scan: string, signal?: AbortSignal): Promise<ObjectMeta[]> {
  const objects: ObjectMeta[] = [{ key: `${scan}/`, size: 0, etag: 'folder' }];
  for await (const entry of db.backend.list(`${scan}/`, { signal })) {
    if (entry.kind === 'object' && !entry.key.split('/').some((s) => s.startsWith(TEMP_PREFIX))) objects.push(entry);
  }
  const index = `${scan}/${INDEX_NAME}`;
  const rank = (key: string) => (key === index ? 1 : 0);
  return objects.sort((a, b) => rank(a.key) - rank(b.key) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Writes `scans` of `db` (connected, read-only is enough) to `out`, atomically (temp file, then
 * rename). Scans are listed one at a time, so memory does not grow with the database; progress
 * is in bytes for one scan, in scans for several.
 */
export async function exportArchive(db: RomiDB, scans: string[], out: string, opts: ArchiveOptions & { marker: boolean }): Promise<ExportResult> {
  const { signal } = opts;
  const folder = await stat(dirname(out)).catch(() => undefined);
  if (!folder?.isDirectory()) throw new InvalidArgumentError(`Cannot write "${out}": folder "${dirname(out)}" does not exist`);
  const temp = join(dirname(out), `${TEMP_PREFIX}${basename(out)}.${process.pid}.tmp`);
  const pack = tar.pack();
  const written = pipeline(Readable.from(pack), createGzip(), createWriteStream(temp));
  const progress = startProgress(opts.io, 'export', scans.length === 1 ? { bytes: true } : { total: scans.length });
  let bytes = 0;
  let entries = 0;
  try {
    if (opts.marker) {
      await addEntry(pack, { name: MARKER_KEY, size: 0, mode: 0o644 });
      entries++;
    }
    for (const [i, scan] of scans.entries()) {
      const objects = await scanObjects(db, scan, signal);
      const total = objects.reduce((n, o) => n + o.size, 0);
      let done = 0;
      for (const object of objects) {
        throwIfAborted(signal);
        await addObject(db, pack, object, signal);
        done += object.size;
        entries++;
        if (scans.length === 1) progress.update(done, total, object.key);
      }
      bytes += total;
      if (scans.length > 1) progress.update(i + 1, scans.length, scan);
    }
    pack.finalize();
    await written;
    await rename(temp, out);
  } catch (err) {
    pack.destroy(err as Error);
    await written.catch(() => {});
    await rm(temp, { force: true });
    // File system errors name our temporary file: name the archive instead.
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('E')) throw new StorageError(`Cannot write "${out}": ${code}`, { cause: err });
    throw err;
  } finally {
    progress.stop();
  }
  return { scans, entries, bytes };
}

/** One stored object as an archive entry: folders as folders, small files buffered, large ones streamed. */
async function addObject(db: RomiDB, pack: tar.Pack, object: ObjectMeta, signal?: AbortSignal): Promise<void> {
  const mtime = object.mtime ?? new Date();
  if (object.key.endsWith('/')) {
    await addEntry(pack, { name: object.key, type: 'directory', mode: 0o755, mtime });
  } else if (object.size <= BUFFER_LIMIT) {
    const { bytes, meta } = await db.backend.get(object.key, { signal });
    await addEntry(pack, { name: object.key, size: meta.size, mode: 0o644, mtime }, bytes);
  } else {
    // The header needs the size: it is the size of the very version being streamed.
    const { stream, meta } = await db.backend.getStream(object.key, { signal });
    await addEntry(pack, { name: object.key, size: meta.size, mode: 0o644, mtime }, stream as unknown as AsyncIterable<Uint8Array>);
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

/** An archive entry's name as a key: "./" prefixes removed, folders without their trailing "/". */
function entryPath(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  return n.replace(/\/+$/, '');
}

/** Why an entry cannot be imported, or undefined. Names are checked before any prefix is removed. */
function entryProblem(entry: RawEntry): string | undefined {
  if (entry.type !== 'file' && entry.type !== 'contiguous-file' && entry.type !== 'directory') {
    return `a ${entry.type ?? 'special'} entry (only regular files and folders are imported)`;
  }
  if (entry.name.startsWith('/') || /^[A-Za-z]:/.test(entry.name)) return 'an absolute path';
  const path = entryPath(entry.name);
  if (path === '') return undefined;
  if (path.split('/').some((s) => s === '..')) return 'a ".." segment';
  if (path.split('/').some((s) => s.startsWith(TEMP_PREFIX))) return `a "${TEMP_PREFIX}" name (reserved for temporary files)`;
  const problem = keyProblem(entry.type === 'directory' ? `${path}/` : path);
  return problem === undefined ? undefined : `not a valid key (${problem})`;
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
 * each entry before asking for the next. `onRead` reports compressed bytes read.
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
  // The callback form of pipeline destroys every stage when one fails, so errors reach the loop below.
  const stages: NodeJS.ReadWriteStream[] = gzip ? [counter, createGunzip()] : [counter];
  const input = pipelineCb([createReadStream(path), ...stages], () => {}) as unknown as Readable;
  const feeding = (async () => {
    try {
      for await (const chunk of input) {
        if (!extract.write(chunk as Buffer)) await waitDrain(extract);
      }
      extract.end(undefined);
    } catch (err) {
      extract.destroy(new InvalidArgumentError(`Cannot read archive "${path}": ${(err as Error).message}`));
    }
  })();
  try {
    yield* extract as unknown as AsyncIterable<Entry>;
  } catch (err) {
    throw err instanceof InvalidArgumentError ? err : new InvalidArgumentError(`Cannot read archive "${path}": ${(err as Error).message}`);
  } finally {
    input.destroy();
    extract.destroy(undefined);
    await feeding;
  }
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
}

/** Pass 1: reads every header, validates it, and decides what goes where. Writes nothing. */
async function planImport(db: RomiDB, path: string, signal?: AbortSignal): Promise<{ plan: Plan; entries: RawEntry[] }> {
  const entries: RawEntry[] = [];
  for await (const entry of readTar(path)) {
    throwIfAborted(signal);
    const { name, type, size } = entry.header;
    const raw = { name, type: type ?? 'unknown', size: size ?? 0 };
    const problem = entryProblem(raw);
    if (problem !== undefined) throw new InvalidArgumentError(`Refusing archive "${path}": entry "${name}" is ${problem}; nothing was imported`);
    entries.push(raw);
    await drain(entry);
  }

  // A tarred database folder ("db/romidb", "db/scan/…") imports like the database itself.
  const paths = entries.map((e) => entryPath(e.name)).filter((p) => p !== '');
  const tops = new Set(paths.map((p) => p.split('/')[0]!));
  let root = '';
  if (tops.size === 1 && !paths.includes(MARKER_KEY)) {
    const [top] = tops;
    if (entries.some((e) => e.type !== 'directory' && entryPath(e.name) === `${top}/${MARKER_KEY}`)) root = `${top}/`;
  }

  const scans = new Set<string>();
  const isScan = new Set<string>();
  const skipped = new Set<string>();
  const seen = new Set<string>();
  for (const e of entries) {
    const full = entryPath(e.name);
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
    if (rest.length === 0 && e.type !== 'directory') throw new InvalidArgumentError(`Refusing archive "${path}": "${e.name}" is a file outside any scan folder; nothing was imported`);
    const problem = idProblem('scan', top);
    if (problem !== undefined) throw new InvalidArgumentError(`Refusing archive "${path}": "${top}" is not a valid scan id (${problem}); nothing was imported`);
    if (e.type !== 'directory') {
      if (seen.has(rel)) throw new InvalidArgumentError(`Refusing archive "${path}": "${e.name}" appears twice; nothing was imported`);
      seen.add(rel);
    }
    scans.add(top!);
    if (rel === `${top}/${INDEX_NAME}` || rel === `${top}/${METADATA_DIR}` || rel.startsWith(`${top}/${METADATA_DIR}/`)) isScan.add(top!);
  }
  for (const scan of scans) {
    if (!isScan.has(scan)) throw new InvalidArgumentError(`Refusing archive "${path}": folder "${scan}" is not a scan (no ${INDEX_NAME} nor ${METADATA_DIR}/); nothing was imported`);
  }
  if (scans.size === 0) throw new InvalidArgumentError(`Archive "${path}" holds no scan`);
  // Refuse scans that exist, and folders holding anything at all (leftovers of another import).
  for (const scan of [...scans].sort()) {
    if (await db.hasScan(scan, { signal })) throw new ScanExistsError(scan);
    for await (const _ of db.backend.list(`${scan}/`, { signal })) throw new ScanExistsError(scan);
  }
  return { plan: { root, scans: [...scans].sort(), skipped }, entries };
}

/** Imports the scans of the archive at `path` into `db` (connected as writer). */
export async function importArchive(db: RomiDB, path: string, opts: ArchiveOptions): Promise<ImportResult> {
  const { signal } = opts;
  const size = (await stat(path).catch(() => undefined))?.size;
  if (size === undefined) throw new InvalidArgumentError(`Cannot read archive "${path}": no such file`);
  const { plan, entries } = await planImport(db, path, signal);
  const what = { what: 'import an archive', signal };
  const importing = new Set(plan.scans);
  const indexes = new Map<string, Uint8Array>();
  const progress = startProgress(opts.io, 'import', { total: size, bytes: true });
  let bytes = 0;
  let i = 0;
  try {
    for await (const entry of readTar(path, (n) => progress.update(n, size))) {
      throwIfAborted(signal);
      // The archive must be the one validated in pass 1.
      const expected = entries[i++];
      const { name, type, size: entrySize = 0 } = entry.header;
      if (!expected || expected.name !== name || expected.type !== type || expected.size !== entrySize) {
        throw new InvalidArgumentError(`Archive "${path}" changed while it was being imported (at "${name}")`);
      }
      const full = entryPath(name);
      const rel = full.slice(plan.root.length);
      const top = rel.split('/')[0]!;
      if (full === '' || `${full}/` === plan.root || !importing.has(top) || rel === top) {
        await drain(entry);
        continue;
      }
      if (type === 'directory') {
        await drain(entry);
        await db.write(`${rel}/`, new Uint8Array(), what);
      } else if (rel === `${top}/${INDEX_NAME}` || entrySize <= BUFFER_LIMIT) {
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk);
        const data = new Uint8Array(Buffer.concat(chunks));
        if (rel === `${top}/${INDEX_NAME}`) indexes.set(top, data);
        else await db.write(rel, data, what);
      } else {
        await db.write(rel, entry as AsyncIterable<Uint8Array>, { ...what, size: entrySize });
      }
      bytes += entrySize;
    }
    // Each scan's index last: it only lists data that is already stored.
    for (const [scan, data] of indexes) await db.write(`${scan}/${INDEX_NAME}`, data, what);
  } finally {
    progress.stop();
  }
  await db.reload();
  const report = await db.check({ scans: plan.scans, signal });
  return { scans: plan.scans, entries: entries.length, bytes, skipped: [...plan.skipped].sort(), problems: report.problems };
}
