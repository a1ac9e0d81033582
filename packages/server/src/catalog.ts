/**
 * What the server knows of the scans, kept warm: each scan's scanInfo and plantdb metadata
 * view, and the JSON of recent /scans_info answers.
 *
 * How it stays correct when scans change: every scan entry remembers the version tags (etags)
 * of the objects its info is made of: files.json (changed by every new, rewritten or deleted
 * file or fileset, and by the Colmap task that poses the images), the scan metadata, the images
 * fileset metadata and measures.json. Every `refreshIntervalMs` a background pass lists the
 * database root (new and removed scans) and asks the backend for those tags, one HEAD each; an
 * entry whose tags changed is dropped, the database forgets what it cached of that scan, and the
 * entry is rebuilt. /refresh does the same at once, for one scan or all. Changes that touch none
 * of those objects (a file's metadata rewritten alone) are seen after /refresh.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { ErrorCodes, isRomiError, keys, LOCK_NAME, mapLimit, matchesQuery, storedNameProblem, toKey, type Backend, type DB, type Metadata, type Query } from '@romi/db-core';
import { buildScanInfo, plantdbScanMetadata, scanInfoTemplate, type ScanInfo } from './scan-info.js';

interface Entry {
  fingerprint: string;
  info?: Promise<ScanInfo>;
  metadata?: Promise<Metadata>;
}

export type ScanFilter = { kind: 'query'; query: Query; fuzzy: boolean } | { kind: 'text'; text: string } | undefined;

export interface CatalogOptions {
  /** Parallel storage reads when building many entries. */
  concurrency: number;
  /** Called with errors of the background pass (it never throws). */
  onError?: (err: unknown) => void;
}

const gzipAsync = promisify(gzip);

/** Answers kept per filter, most recent first. */
const MAX_CACHED_LISTS = 32;

export class ScanCatalog {
  readonly #db: DB;
  readonly #backend: Backend;
  readonly #opts: CatalogOptions;
  #entries = new Map<string, Entry>();
  /** Bumped on every change seen: cached list answers of older generations are stale. */
  #generation = 0;
  #lists = new Map<string, { generation: number; body: Promise<JsonAnswer> }>();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;

  constructor(db: DB, backend: Backend, opts: CatalogOptions) {
    this.#db = db;
    this.#backend = backend;
    this.#opts = opts;
  }

  /** Starts the background pass every `intervalMs` (0: never; /refresh only). */
  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.#timer = setInterval(() => void this.revalidate(), intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#pass;
  }

  async #fingerprint(id: string): Promise<string> {
    const tags = await Promise.all(
      [keys.index(id), keys.scanMetadata(id), keys.filesetMetadata(id, 'images'), keys.measures(id)].map(async (key) => (await this.#backend.head(key))?.etag ?? '-'),
    );
    return tags.join('|');
  }

  async #entry(id: string): Promise<Entry> {
    let entry = this.#entries.get(id);
    if (!entry) {
      // The tags are read before the data: a change in between is seen by the next pass.
      entry = { fingerprint: await this.#fingerprint(id) };
      if (this.#entries.has(id)) return this.#entries.get(id)!;
      this.#entries.set(id, entry);
    }
    return entry;
  }

  /** The scanInfo of a scan (ScanNotFoundError when there is none). */
  async info(id: string): Promise<ScanInfo> {
    const scan = await this.#db.getScan(id);
    const entry = await this.#entry(id);
    entry.info ??= buildScanInfo(scan, this.#backend).catch((err) => {
      // A failure is not kept: the next request tries again.
      if (this.#entries.get(id) === entry) entry.info = undefined;
      throw err;
    });
    return entry.info;
  }

  /** The scan metadata as plantdb shows it (scan-info.ts). */
  async metadata(id: string): Promise<Metadata> {
    const scan = await this.#db.getScan(id);
    const entry = await this.#entry(id);
    entry.metadata ??= plantdbScanMetadata(scan).catch((err) => {
      if (this.#entries.get(id) === entry) entry.metadata = undefined;
      throw err;
    });
    return structuredClone(await entry.metadata);
  }

  /** Ids of the scans the filter keeps, sorted. A scan whose metadata cannot be read is kept only without a filter. */
  async listIds(filter: ScanFilter): Promise<string[]> {
    const ids = await this.#db.listScans();
    if (!filter) return ids;
    const keep = await mapLimit(ids, this.#opts.concurrency, async (id) => {
      let md: Metadata;
      try {
        md = await this.metadata(id);
      } catch (err) {
        if (isRomiError(err, ErrorCodes.NOT_FOUND)) return false;
        if (isRomiError(err)) return false;
        throw err;
      }
      if (filter.kind === 'query') return matchesQuery(md, filter.query, filter.fuzzy);
      const needle = filter.text.toLowerCase();
      return id.toLowerCase().includes(needle) || JSON.stringify(md).toLowerCase().includes(needle);
    });
    return ids.filter((_, i) => keep[i]);
  }

  /** The /scans_info answer: one broken scan is listed with `error: true`, never fails the list. */
  async listJson(filter: ScanFilter): Promise<JsonAnswer> {
    const cacheKey = JSON.stringify(filter ?? null);
    const cached = this.#lists.get(cacheKey);
    if (cached && cached.generation === this.#generation) {
      this.#lists.delete(cacheKey);
      this.#lists.set(cacheKey, cached);
      return cached.body;
    }
    const generation = this.#generation;
    const body = (async () => {
      const ids = await this.listIds(filter);
      const infos = await mapLimit(ids, this.#opts.concurrency, async (id) => {
        try {
          return await this.info(id);
        } catch (err) {
          if (!isRomiError(err)) throw err;
          return { ...scanInfoTemplate(id, true), errorMessage: err.message };
        }
      });
      return new JsonAnswer(JSON.stringify(infos));
    })();
    this.#lists.set(cacheKey, { generation, body });
    body.catch(() => this.#lists.delete(cacheKey));
    while (this.#lists.size > MAX_CACHED_LISTS) this.#lists.delete(this.#lists.keys().next().value!);
    return body;
  }

  /** Forgets one scan (or all) at once and has the database do the same. */
  async refresh(scanId?: string): Promise<void> {
    this.#generation++;
    if (scanId === undefined) {
      this.#entries.clear();
      this.#lists.clear();
    } else {
      this.#entries.delete(scanId);
    }
    await this.#db.reload(scanId);
  }

  /** One background pass (never two at once); errors go to onError. */
  revalidate(): Promise<void> {
    this.#pass ??= this.#revalidate()
      .catch((err) => this.#opts.onError?.(err))
      .finally(() => {
        this.#pass = undefined;
      });
    return this.#pass;
  }

  async #revalidate(): Promise<void> {
    const known = [...this.#entries.entries()];
    const changed: string[] = [];
    await mapLimit(known, this.#opts.concurrency, async ([id, entry]) => {
      if ((await this.#fingerprint(id)) !== entry.fingerprint) changed.push(id);
    });
    // New or removed scan folders change the list of scans.
    const folders = new Set<string>();
    for await (const e of this.#backend.list('', { delimiter: '/' })) if (e.kind === 'prefix') folders.add(e.key.slice(0, -1));
    const listed = new Set(await this.#db.listScans());
    const unlisted = [...folders].filter((f) => !listed.has(f) && !f.startsWith('.') && f !== LOCK_NAME && storedNameProblem(f) === undefined);
    const appeared = await mapLimit(unlisted, this.#opts.concurrency, (f) => this.#isScanFolder(f));
    const setChanged = [...listed].some((id) => !folders.has(id)) || appeared.some(Boolean);
    for (const id of changed) {
      this.#entries.delete(id);
      await this.#db.reload(id);
    }
    if (setChanged) await this.#db.reload();
    if (changed.length > 0 || setChanged) this.#generation++;
  }

  /** The test the database makes: a folder with a files.json or a metadata folder. */
  async #isScanFolder(folder: string): Promise<boolean> {
    const key = toKey(`${folder}/`);
    if (await this.#backend.head(toKey(`${key}files.json`))) return true;
    for await (const _ of this.#backend.list(toKey(`${key}metadata/`), { delimiter: '/' })) return true;
    return false;
  }
}

/** A JSON answer served many times: encoded once, and gzipped once when a client first asks. */
export class JsonAnswer {
  readonly bytes: Buffer;
  #gzipped?: Promise<Buffer>;
  constructor(text: string) {
    this.bytes = Buffer.from(text, 'utf8');
  }
  gzipped(): Promise<Buffer> {
    return (this.#gzipped ??= gzipAsync(this.bytes));
  }
}
