/**
 * mirror(src, dst): makes the scans of `dst` byte-identical to those of `src`, between any
 * two backends.
 *
 * - Incremental: `dst` keeps a manifest per scan (`.romidb-mirror/<source>/<scan>.json`) of
 *   what it copied (size and the source's etag, and the etag of the copy). A key whose size
 *   and etags still match is skipped without being read. Keys the manifest does not know
 *   (a run killed halfway) are compared by content before being copied again.
 * - Ordered: data and metadata first, files.json of a scan last, deletions after that, so a
 *   reader of `dst` never sees an index entry whose data is not there yet.
 * - Consistent beside a writer: each scan's files.json is read before its listing and that
 *   very version is copied (see snapshot.ts), so the copy's index lists only copied data.
 * - A scan new to `dst` is claimed with a pending marker until its files.json is written: a
 *   killed run leaves a folder that check() reports, and the next run finishes it.
 * - Reads `src` read-only and holds `dst`'s writer lock for the whole run.
 */
import { concatBytes, type Backend, type ObjectMeta } from './backend.js';
import { RomiDB } from './db.js';
import { ErrorCodes, InvalidArgumentError, isRomiError, OccupiedError, ReadOnlyError, throwIfAborted } from './errors.js';
import { keyProblem, toKey, type Key } from './key.js';
import { INDEX_NAME, keys, METADATA_DIR } from './layout.js';
import { portOf } from './port.js';
import { indexForCopy, snapshotScan } from './snapshot.js';
import { openDB } from './registry.js';
import type { DB } from './types.js';
import { mapLimit, utf8 } from './util.js';

export interface MirrorProgress {
  phase: 'list' | 'copy' | 'index' | 'delete' | 'done';
  loaded: number;
  total?: number;
  key?: string;
}

export interface MirrorOptions {
  /** Remove from `dst` what `src` no longer has (keys of mirrored scans, and whole scans). */
  delete?: boolean;
  /** Report what would be done without writing anything. */
  dryRun?: boolean;
  /** Objects copied at once (default 8). */
  concurrency?: number;
  /** Only these scans (default: all of `src`). */
  scans?: string[];
  onProgress?: (e: MirrorProgress) => void;
  signal?: AbortSignal;
}

export interface MirrorResult {
  copied: number;
  skipped: number;
  deleted: number;
  bytes: number;
  /**
   * Source keys not copied because another source key uses the same name as a folder
   * ("s/a" and "s/a/b": possible in object storage, not on a file system).
   */
  conflicts: string[];
}

interface ManifestEntry {
  size: number;
  source: string;
  copy: string;
}

interface Manifest {
  source: string;
  entries: Record<string, ManifestEntry>;
}

/** Objects at most this large are copied as one buffer; larger ones are streamed. */
const BUFFER_LIMIT = 8 << 20;

/** A short, stable name for a source URL (FNV-1a, 64 bits): manifests are kept per source. */
function sourceTag(url: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of utf8.encode(url)) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n);
  return hash.toString(16).padStart(16, '0');
}

async function asRomiDB(db: DB | string, readOnly: boolean, signal?: AbortSignal): Promise<{ db: RomiDB; owned: boolean }> {
  if (typeof db === 'string') {
    const opened = await openDB(db, { readOnly, signal });
    if (!(opened instanceof RomiDB)) throw new InvalidArgumentError(`mirror() needs a romidb database, got ${db}`);
    return { db: opened, owned: true };
  }
  if (!(db instanceof RomiDB)) throw new InvalidArgumentError('mirror() needs databases made by romidb (FSDB, MemDB, S3DB, openDB)');
  if (!db.isConnected) {
    await db.connect({ readOnly, signal });
    return { db, owned: true };
  }
  if (!readOnly && db.readOnly) throw new ReadOnlyError('mirror into this database (connect it as the writer)');
  return { db, owned: false };
}

async function listObjects(backend: Backend, prefix: Key, signal?: AbortSignal): Promise<Map<string, ObjectMeta>> {
  const out = new Map<string, ObjectMeta>();
  for await (const entry of backend.list(prefix, { signal })) {
    if (entry.kind === 'object') out.set(entry.key, entry);
  }
  return out;
}

/** A source object to copy (buffered when small), or undefined when it no longer exists. */
async function readSource(from: Backend, meta: ObjectMeta, signal?: AbortSignal): Promise<{ body: Uint8Array | ReadableStream<Uint8Array>; meta: ObjectMeta } | undefined> {
  try {
    if (meta.size <= BUFFER_LIMIT) {
      const stored = await from.get(toKey(meta.key), { signal });
      return { body: stored.bytes, meta: stored.meta };
    }
    const { stream, meta: current } = await from.getStream(toKey(meta.key), { signal });
    return { body: stream, meta: current };
  } catch (err) {
    if (isRomiError(err, ErrorCodes.NOT_FOUND)) return undefined;
    throw err;
  }
}

/** Whether `key` holds the same bytes in both, compared as they stream in. */
async function sameContent(src: Backend, dst: Backend, key: Key, signal?: AbortSignal): Promise<boolean> {
  const [a, b] = await Promise.all([src.getStream(key, { signal }), dst.getStream(key, { signal })]);
  if (a.meta.size !== b.meta.size) return false;
  const left = byteReader(a.stream);
  const right = byteReader(b.stream);
  try {
    for (;;) {
      const x = await left.next(65536);
      const y = await right.next(x.byteLength || 1);
      if (x.byteLength === 0 || y.byteLength === 0) return x.byteLength === y.byteLength;
      if (x.byteLength !== y.byteLength || !x.every((v, i) => v === y[i])) return false;
    }
  } finally {
    await Promise.all([left.cancel(), right.cancel()]);
  }
}

/** Reads a stream in pieces of a chosen size (the last one may be shorter; empty at the end). */
function byteReader(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  let pending: Uint8Array = new Uint8Array();
  return {
    async next(size: number): Promise<Uint8Array> {
      while (pending.byteLength < size) {
        const { done, value } = await reader.read();
        if (done) break;
        pending = pending.byteLength === 0 ? value : concatBytes([pending, value]);
      }
      const out = pending.subarray(0, size);
      pending = pending.subarray(out.byteLength);
      return out;
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}

export async function mirror(srcDb: DB | string, dstDb: DB | string, opts: MirrorOptions = {}): Promise<MirrorResult> {
  const signal = opts.signal;
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const progress = opts.onProgress ?? (() => {});
  const result: MirrorResult = { copied: 0, skipped: 0, deleted: 0, bytes: 0, conflicts: [] };

  const src = await asRomiDB(srcDb, true, signal);
  let dst: { db: RomiDB; owned: boolean } | undefined;
  try {
    dst = await asRomiDB(dstDb, !!opts.dryRun, signal);
    const from = src.db.backend;
    const to = dst.db.backend;
    const write = portOf(dst.db)!;
    if (from.url === to.url) throw new InvalidArgumentError(`mirror() source and destination are the same database (${from.url})`);

    progress({ phase: 'list', loaded: 0 });
    const srcScans = await src.db.listScans({ signal });
    let scans = srcScans;
    if (opts.scans) {
      const known = new Set(srcScans);
      const unknown = opts.scans.filter((s) => !known.has(s));
      if (unknown.length > 0) throw new InvalidArgumentError(`Not in the source: ${unknown.join(', ')}`);
      scans = opts.scans;
    }
    const tag = sourceTag(from.url);

    for (const scan of scans) {
      throwIfAborted(signal);
      const prefix = `${scan}/`;
      const manifestKey = keys.mirrorManifest(tag, scan);
      const [have, snapshot] = await Promise.all([listObjects(to, keys.scanFolder(scan), signal), snapshotScan(from, scan, { signal })]);
      const indexKey = `${prefix}${INDEX_NAME}`;
      const want = new Map<string, ObjectMeta>();
      for (const o of snapshot.objects) {
        // A source key a file system cannot hold ("a/../b" in object storage) is named, not copied.
        if (keyProblem(o.key) === undefined) want.set(o.key, o);
        else result.conflicts.push(o.key);
      }
      if (snapshot.index) want.set(indexKey, snapshot.index.meta);
      const folders = new Set<string>();
      for (const key of want.keys()) {
        for (let i = key.indexOf('/'); i >= 0 && i < key.length - 1; i = key.indexOf('/', i + 1)) folders.add(key.slice(0, i));
      }
      for (const key of [...want.keys()]) {
        if (!key.endsWith('/') && folders.has(key)) {
          want.delete(key);
          result.conflicts.push(key);
        }
      }
      progress({ phase: 'list', loaded: want.size, key: prefix });
      // A scan new to dst: claim its folder (it must hold nothing else) until files.json is written.
      const claimed = !opts.dryRun && !(have.has(indexKey) || [...have.keys()].some((k) => k.startsWith(`${prefix}${METADATA_DIR}/`)));
      if (claimed && !(await to.head(keys.pending(scan), { signal }))) {
        const foreign = [...have.keys()].find((k) => !k.endsWith('/'));
        if (foreign !== undefined) throw new OccupiedError(`scan "${scan}" in ${to.url}`, foreign);
        await write.write(keys.pending(scan), utf8.encode(JSON.stringify({ operation: 'mirror', source: from.url, started: new Date().toISOString() })), { ifNoneMatch: '*', signal, what: 'mirror' });
      }
      let manifest: Manifest = { source: from.url, entries: {} };
      /** Whether `manifest` differs from what dst holds: a run that changed nothing writes nothing. */
      let manifestChanged = true;
      try {
        const parsed = JSON.parse(utf8.decode((await to.get(manifestKey, { signal })).bytes)) as Manifest;
        if (parsed.source === from.url && parsed.entries) {
          manifest = parsed;
          manifestChanged = false;
        }
      } catch (err) {
        if (!isRomiError(err, ErrorCodes.NOT_FOUND) && !(err instanceof SyntaxError)) throw err;
      }
      const setEntry = (key: string, entry: ManifestEntry | undefined): void => {
        if (entry) manifest.entries[key] = entry;
        else delete manifest.entries[key];
        manifestChanged = true;
      };
      const saveManifest = async (): Promise<void> => {
        if (!opts.dryRun && manifestChanged) await write.write(manifestKey, utf8.encode(JSON.stringify(manifest)), { signal, what: 'mirror' });
        manifestChanged = false;
      };

      // What to copy: everything that differs, files.json last.
      const toCopy: ObjectMeta[] = [];
      for (const [key, meta] of want) {
        const existing = have.get(key);
        if (key.endsWith('/')) {
          if (existing) result.skipped++;
          else toCopy.push(meta);
          continue;
        }
        const known = manifest.entries[key];
        if (existing && existing.size === meta.size) {
          if (known && known.source === meta.etag && known.size === meta.size && known.copy === existing.etag) {
            result.skipped++;
            continue;
          }
          if (!known && (await sameContent(from, to, toKey(key), signal))) {
            setEntry(key, { size: meta.size, source: meta.etag, copy: existing.etag });
            result.skipped++;
            continue;
          }
        }
        toCopy.push(meta);
      }
      const first = toCopy.filter((m) => m.key !== indexKey);
      const last = toCopy.filter((m) => m.key === indexKey);
      const total = toCopy.length;
      let loaded = 0;
      let sinceSave = 0;
      /** Source data that vanished (a writer deleted it) between the listing and its copy. */
      const vanished = new Set<string>();

      const copy = async (meta: ObjectMeta): Promise<void> => {
        throwIfAborted(signal);
        if (!opts.dryRun) {
          let etag: string;
          if (meta.key.endsWith('/')) {
            etag = await write.write(toKey(meta.key), new Uint8Array(), { signal, what: 'mirror' });
          } else if (meta.key === indexKey) {
            // The version read before the listing, not the newest: it lists only copied data.
            const bytes = indexForCopy(snapshot, vanished)!;
            etag = await write.write(toKey(meta.key), bytes, { signal, what: 'mirror' });
            if (bytes !== snapshot.index!.bytes) meta = { ...meta, etag: '' };
          } else {
            const source = await readSource(from, meta, signal);
            if (!source) {
              vanished.add(meta.key);
              return;
            }
            etag = await write.write(toKey(meta.key), source.body, { signal, size: source.meta.size, what: 'mirror' });
            meta = source.meta;
          }
          if (!meta.key.endsWith('/')) setEntry(meta.key, { size: meta.size, source: meta.etag, copy: etag });
          if (++sinceSave >= 500) {
            sinceSave = 0;
            await saveManifest();
          }
        }
        result.copied++;
        result.bytes += meta.size;
        progress({ phase: meta.key === indexKey ? 'index' : 'copy', loaded: ++loaded, total, key: meta.key });
      };
      await mapLimit(first, concurrency, copy, signal);
      for (const meta of last) await copy(meta);
      if (claimed) {
        write.assertWritable('mirror');
        await to.delete(keys.pending(scan), { signal });
      }

      if (opts.delete) {
        // A folder still holding wanted keys stays, even if the source has no marker for it.
        const wantedFolders = new Set<string>();
        for (const key of want.keys()) {
          for (let i = key.indexOf('/'); i >= 0 && i < key.length - 1; i = key.indexOf('/', i + 1)) wantedFolders.add(key.slice(0, i + 1));
        }
        const extra = [...have.keys()]
          .filter((k) => !want.has(k) && !(k.endsWith('/') && wantedFolders.has(k)))
          .sort((a, b) => b.length - a.length);
        for (const key of extra) {
          throwIfAborted(signal);
          if (!opts.dryRun) {
            write.assertWritable('mirror');
            await to.delete(toKey(key), { signal });
          }
          setEntry(key, undefined);
          result.deleted++;
          progress({ phase: 'delete', loaded: result.deleted, key });
        }
      }
      await saveManifest();
    }

    if (opts.delete && !opts.scans) {
      const keep = new Set(srcScans);
      for (const scan of await dst.db.listScans({ signal })) {
        if (keep.has(scan)) continue;
        throwIfAborted(signal);
        if (!opts.dryRun) {
          write.assertWritable('mirror');
          await to.delete(keys.index(scan), { signal });
          await to.delete(keys.scanFolder(scan), { signal });
          await to.delete(keys.mirrorManifest(tag, scan), { signal });
        }
        result.deleted++;
        progress({ phase: 'delete', loaded: result.deleted, key: `${scan}/` });
      }
    }
    await dst.db.reload();
    progress({ phase: 'done', loaded: result.copied, total: result.copied });
    return result;
  } finally {
    if (dst?.owned) await dst.db.disconnect();
    if (src.owned) await src.db.disconnect();
  }
}
