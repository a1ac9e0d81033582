/**
 * A ZIP archive imported as one new scan (plantdb's POST /archive/<scan_id>): the archive holds
 * one scan's content (files.json, metadata/…, filesets), at its top or under one single top
 * folder, which is stripped — what GET /archive/<id> writes comes back as the same scan.
 *
 * Validated like the CLI's tar import (packages/cli/src/archive.ts), with the same name rules
 * and limits from @romi/db-core. Pass 1 reads the central directory and writes nothing: only
 * regular files and folders (the Unix mode in the external attributes), names valid as keys
 * (UTF-8, no absolute path, "." or "..", backslash, romidb's reserved names), no duplicate, no
 * name both a file and a folder, nothing encrypted or compressed other than by deflate, sizes
 * within the limits, and a scan id that is free with an empty folder. Pass 2 claims the folder
 * with the pending marker, writes each entry (counting the inflated bytes: the sizes in the
 * directory may lie), files.json last, then removes the marker. Any failure removes the folder.
 */
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import {
  archiveEntryPath,
  archiveEntryProblem,
  DEFAULT_IMPORT_LIMITS,
  ErrorCodes,
  formatPythonJson,
  importCap,
  INDEX_NAME,
  InvalidArgumentError,
  isPlainObject,
  isRomiError,
  keys,
  METADATA_DIR,
  OccupiedError,
  parseJsonTree,
  ScanExistsError,
  throwIfAborted,
  toKey,
  type ImportLimits,
  type RomiDB,
} from '@romi/db-core';
import { formatPythonDate } from './auth/json-file.js';

export interface ZipImportOptions {
  /** The uploader's user name: the new scan's `owner`. */
  owner: string;
  /** The uploader's full name: `created_by` when the archive has no scan metadata. */
  fullname?: string;
  limits?: Partial<ImportLimits>;
  signal?: AbortSignal;
}

export interface ZipImportResult {
  scan: string;
  /** The keys written, files only ("<scan>/images/a.jpg"), in the order written. */
  files: string[];
  /** Bytes of the entries written (the scan metadata as the archive holds it). */
  bytes: number;
}

/** Entries at most this large are read as one buffer; larger ones are streamed. */
const BUFFER_LIMIT = 8 << 20;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
/** The MS-DOS folder attribute, for archives made without Unix modes. */
const DOS_DIRECTORY = 0x10;
const WEBCACHE_DIR = 'webcache';
/** What macOS's Finder adds to the archives it makes: resource forks, never scan data. */
const MACOS_DIR = '__MACOSX';
const SCAN_METADATA = `${METADATA_DIR}/metadata.json`;

const utf8 = new TextDecoder('utf-8', { fatal: true });

interface Planned {
  entry: yauzl.Entry;
  /** The entry's name in the archive, for messages. */
  name: string;
  /** Its path in the scan folder (the top folder stripped), folders without "/". */
  rel: string;
  folder: boolean;
}

function refuse(why: string): InvalidArgumentError {
  return new InvalidArgumentError(`Refusing the ZIP archive: ${why}; nothing was imported`);
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Whether an entry is a folder; undefined for links, devices and other special entries. */
function entryKind(entry: yauzl.Entry, name: string): 'file' | 'folder' | undefined {
  // The high 16 bits are the Unix mode when the archiver set one (0 from MS-DOS/Windows tools).
  // Permissions without a type (Python's ZipFile.writestr writes 0o600 alone) are a file or folder by name.
  const type = ((entry.externalFileAttributes >>> 16) & 0xffff) & S_IFMT;
  if (type !== 0) return type === S_IFDIR ? 'folder' : type === S_IFREG ? 'file' : undefined;
  return name.endsWith('/') || (entry.externalFileAttributes & DOS_DIRECTORY) !== 0 ? 'folder' : 'file';
}

/** The problem with one central directory entry, or undefined. */
function entryProblem(entry: yauzl.Entry, name: string, kind: 'file' | 'folder' | undefined): string | undefined {
  if (kind === undefined) return 'a link or other special entry (only regular files and folders are imported)';
  if ((kind === 'folder') !== name.endsWith('/')) return kind === 'folder' ? 'a folder whose name does not end in "/"' : 'a file whose name ends in "/"';
  if (kind === 'folder' && entry.uncompressedSize !== 0) return 'a folder holding data';
  if (entry.isEncrypted()) return 'encrypted';
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) return `compressed with method ${entry.compressionMethod} (only stored and deflated entries are read)`;
  if (name === '' || name === './' || name.startsWith('./')) return 'a "." segment';
  return archiveEntryProblem(name, kind === 'folder');
}

const isJsonEntry = (rel: string): boolean => rel === INDEX_NAME || (rel.startsWith(`${METADATA_DIR}/`) && rel.endsWith('.json'));

/** Pass 1: every entry of the central directory validated, and where each one goes. Writes nothing. */
async function planZip(zip: yauzl.ZipFile, zipSize: number, limits: ImportLimits, signal?: AbortSignal): Promise<Planned[]> {
  const cap = importCap(limits, zipSize);
  const entries: Array<Omit<Planned, 'rel'> & { path: string }> = [];
  const names = new Set<string>();
  let total = 0;
  try {
    for await (const entry of zip.eachEntry()) {
      throwIfAborted(signal);
      let name: string;
      try {
        name = utf8.decode(entry.fileNameRaw);
      } catch {
        throw refuse(`entry ${JSON.stringify(entry.fileNameRaw.toString('latin1'))} has a name that is not UTF-8`);
      }
      const kind = entryKind(entry, name);
      const problem = entryProblem(entry, name, kind);
      if (problem !== undefined) throw refuse(`entry "${name}" is ${problem}`);
      if (names.has(name)) throw refuse(`"${name}" appears twice`);
      names.add(name);
      // The local header is what an extractor reads: it must name the same entry.
      const local = await zip.readLocalFileHeaderPromise(entry);
      if (!local.fileName.equals(entry.fileNameRaw)) throw refuse(`entry "${name}" has another name in its local header`);
      total += entry.uncompressedSize;
      if (total > cap) {
        const limit = cap === limits.maxBytes ? `the limit of ${limits.maxBytes} bytes` : `${limits.maxRatio}× the archive's ${zipSize} bytes`;
        throw refuse(`its entries hold more than ${total} bytes (at "${name}"), over ${limit}`);
      }
      entries.push({ entry, name, path: archiveEntryPath(name), folder: kind === 'folder' });
    }
  } catch (err) {
    if (isRomiError(err)) throw err;
    throw refuse(`it cannot be read (${message(err)})`);
  }

  const kept = entries.filter((e) => e.path.split('/')[0] !== MACOS_DIR);
  // One single top folder (a zipped scan folder) is stripped, unless it is the scan's own.
  const tops = new Set(kept.map((e) => e.path.split('/')[0]!));
  const atTop = kept.some((e) => !e.folder && !e.path.includes('/'));
  const [top] = tops;
  const strip = tops.size === 1 && !atTop && top !== METADATA_DIR ? `${top}/` : '';

  const files = new Set<string>();
  const folders = new Set<string>();
  const planned: Planned[] = [];
  for (const e of kept) {
    if (`${e.path}/` === strip) continue;
    const rel = e.path.slice(strip.length);
    if (rel === WEBCACHE_DIR || rel.startsWith(`${WEBCACHE_DIR}/`)) continue;
    if (e.folder) folders.add(rel);
    else {
      files.add(rel);
      if (isJsonEntry(rel) && e.entry.uncompressedSize > limits.maxJsonBytes) {
        throw refuse(`"${e.name}" is a JSON file of ${e.entry.uncompressedSize} bytes, over the limit of ${limits.maxJsonBytes}`);
      }
    }
    for (let i = rel.indexOf('/'); i > 0; i = rel.indexOf('/', i + 1)) folders.add(rel.slice(0, i));
    planned.push({ entry: e.entry, name: e.name, rel, folder: e.folder });
  }
  for (const file of files) {
    if (folders.has(file)) throw refuse(`"${file}" is both a file and a folder`);
  }
  if (!files.has(INDEX_NAME) && !folders.has(METADATA_DIR)) throw refuse(`it holds no scan (no ${INDEX_NAME} nor ${METADATA_DIR}/, at its top or in one single top folder)`);
  return planned;
}

/**
 * The entry's bytes as they are inflated, failing once the archive's total passes `cap`
 * (yauzl's validateEntrySizes already stops an entry longer than its declared size). Read
 * errors (bad data, a cut file) become InvalidArgumentError; stopping early closes the stream.
 */
async function* inflate(stream: Readable, name: string, count: { bytes: number }, cap: number): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      count.bytes += chunk.byteLength;
      if (count.bytes > cap) throw refuse(`its entries expand to more than ${cap} bytes (at "${name}")`);
      yield chunk;
    }
  } catch (err) {
    if (isRomiError(err)) throw err;
    throw refuse(`entry "${name}" cannot be read (${message(err)})`);
  } finally {
    stream.destroy();
  }
}

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return new Uint8Array(Buffer.concat(parts));
}

/** The archive's scan metadata with `owner` set (the bytes as they are when it is already the owner). */
function withOwner(bytes: Uint8Array, owner: string): Uint8Array {
  let tree: unknown;
  try {
    tree = parseJsonTree(bytes);
  } catch (err) {
    throw refuse(`"${SCAN_METADATA}" is not JSON (${message(err)})`);
  }
  if (!isPlainObject(tree)) throw refuse(`"${SCAN_METADATA}" is not a JSON object`);
  if (tree.owner === owner) return bytes;
  return new TextEncoder().encode(formatPythonJson({ ...tree, owner }));
}

/**
 * Imports the ZIP archive at `zipPath` as the new scan `scanId` of `db` (connected as writer).
 * ScanExistsError when the scan exists, OccupiedError when its folder holds anything,
 * InvalidArgumentError for an archive that is not a ZIP or holds anything refused.
 */
export async function importZipScan(db: RomiDB, scanId: string, zipPath: string, opts: ZipImportOptions): Promise<ZipImportResult> {
  const { signal } = opts;
  const limits = { ...DEFAULT_IMPORT_LIMITS, ...opts.limits };
  throwIfAborted(signal);
  if (await db.hasScan(scanId, { signal })) throw new ScanExistsError(scanId);
  const info = await stat(zipPath).catch(() => undefined);
  if (!info?.isFile()) throw new InvalidArgumentError(`Cannot read the upload "${zipPath}": not a file`);
  const size = info.size;
  let zip: yauzl.ZipFile;
  try {
    // Names are decoded (UTF-8) and checked here, not by yauzl: decodeStrings is off.
    zip = await yauzl.openPromise(zipPath, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true, strictFileNames: true });
  } catch (err) {
    throw new InvalidArgumentError(`Refusing the upload: not a ZIP archive (${message(err)})`);
  }
  try {
    const planned = await planZip(zip, size, limits, signal);
    // Nothing may be in the folder: romidb never takes over what it did not write.
    for await (const entry of db.backend.list(keys.scanFolder(scanId), { signal })) {
      if (!entry.key.endsWith('/')) throw new OccupiedError(`scan "${scanId}"`, entry.key);
    }
    return await writeScan(db, zip, scanId, planned, { ...opts, cap: importCap(limits, size) });
  } finally {
    zip.close();
  }
}

/** Pass 2: the folder claimed, every entry written, files.json last, the claim removed; on failure the folder removed. */
async function writeScan(db: RomiDB, zip: yauzl.ZipFile, scan: string, planned: Planned[], opts: ZipImportOptions & { cap: number }): Promise<ZipImportResult> {
  const { signal } = opts;
  // Every put and delete checks the writer lock first.
  const storage = db.storageWriter();
  const claim = new TextEncoder().encode(JSON.stringify({ operation: 'import zip archive', pid: process.pid, host: hostname(), started: new Date().toISOString() }));
  try {
    await storage.put(keys.pending(scan), claim, { signal, ifNoneMatch: '*' });
  } catch (err) {
    if (isRomiError(err, ErrorCodes.CONDITION_FAILED)) throw new OccupiedError(`scan "${scan}"`, keys.pending(scan));
    throw err;
  }
  const files: string[] = [];
  const count = { bytes: 0 };
  let bytes = 0;
  try {
    let index: Uint8Array | undefined;
    let metadata = false;
    for (const p of planned) {
      throwIfAborted(signal);
      const key = toKey(`${scan}/${p.rel}${p.folder ? '/' : ''}`);
      if (p.folder) {
        await storage.put(key, new Uint8Array(), { signal });
        continue;
      }
      let stream: Readable;
      try {
        stream = await zip.openReadStreamPromise(p.entry);
      } catch (err) {
        throw refuse(`entry "${p.name}" cannot be read (${message(err)})`);
      }
      const body = inflate(stream, p.name, count, opts.cap);
      const declared = p.entry.uncompressedSize;
      // Create-only: nothing in the claimed folder is overwritten, even by a racing writer.
      const create = { signal, ifNoneMatch: '*' as const };
      if (p.rel === INDEX_NAME) {
        index = await readAll(body);
      } else if (p.rel === SCAN_METADATA) {
        await storage.put(key, withOwner(await readAll(body), opts.owner), create);
        metadata = true;
      } else if (declared <= BUFFER_LIMIT) {
        await storage.put(key, await readAll(body), create);
      } else {
        await storage.put(key, body, { ...create, size: declared });
      }
      bytes += declared;
      if (p.rel !== INDEX_NAME) files.push(key);
    }
    if (!metadata) {
      const now = formatPythonDate(new Date());
      const made = { owner: opts.owner, created: now, last_modified: now, created_by: opts.fullname ?? opts.owner };
      await storage.put(keys.scanMetadata(scan), new TextEncoder().encode(formatPythonJson(made)), { signal, ifNoneMatch: '*' });
      files.push(keys.scanMetadata(scan));
    }
    // The index last: it lists only data that is already stored. Then the claim goes.
    if (index) {
      await storage.put(keys.index(scan), index, { signal, ifNoneMatch: '*' });
      files.push(keys.index(scan));
    }
    await storage.delete(keys.pending(scan));
  } catch (err) {
    // Everything in the claimed folder was written here: take it all back (not with the
    // aborted signal). A failure here leaves the marker, which check --fix clears.
    await storage.delete(keys.scanFolder(scan)).catch(() => {});
    throw err;
  }
  await db.reload(scan);
  return { scan, files, bytes };
}
