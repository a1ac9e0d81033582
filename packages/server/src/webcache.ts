/**
 * Smaller versions of images and point clouds, cached under `<scan>/webcache/` with plantdb's
 * names (sha1 of `<type>|<scan>|<fileset>|<file>|<size>`), so that both servers share one cache,
 * on any backend. Unlike plantdb, an entry older than its source is made again; concurrent
 * requests for one missing entry compute it once; only a small set of sizes is written, so a
 * crawler asking for every size cannot fill the storage (other sizes are computed and sent).
 */
import { createHash } from 'node:crypto';
import { AbortedError, keys, pythonFloatRepr, throwIfAborted, toKey, type Backend, type File, type Key, type ObjectMeta } from '@romi/db-core';
import { decodePointCloud, encodePointCloud, resizeImage, voxelDownsample } from '@romi/io';
import { badRequest, HttpError, notFound } from './http-errors.js';

/** plantdb's named image sizes (max side in pixels). */
const IMAGE_SIZES: Readonly<Record<string, number>> = { thumb: 150, large: 1500 };
/** Max sides whose images are cached (besides thumb and large): other sizes are sent, not kept. */
const CACHED_IMAGE_SIDES: ReadonlySet<number> = new Set([150, 300, 600, 1000, 1500]);
/** plantdb's preview voxel size (scene units, mm in ROMI scans). */
const PREVIEW_VOXEL = 1.8;
/** Entries kept in memory (thumbnails are a few kB): each at most 1 MiB, 32 MiB in all. */
const RECENT_MAX_ENTRY = 1 << 20;
const RECENT_MAX_BYTES = 32 << 20;
/** Voxel sizes accepted in `size=<float>`: smaller ones would cost as much as the original. */
const MIN_VOXEL = 0.01;
const MAX_VOXEL = 1e6;

export type ImageRequest = { kind: 'orig' } | { kind: 'resize'; name: string; side: number };
export type CloudRequest = { kind: 'orig' } | { kind: 'voxel'; name: string; voxel: number };

/** `size` of /image: thumb, large, orig or a max side in pixels (plantdb's default is thumb). */
export function parseImageSize(size: string | undefined): ImageRequest {
  const s = size ?? 'thumb';
  if (s === 'orig') return { kind: 'orig' };
  if (IMAGE_SIZES[s] !== undefined) return { kind: 'resize', name: s, side: IMAGE_SIZES[s] };
  if (/^\d{1,9}$/.test(s) && Number(s) >= 1) return { kind: 'resize', name: String(Number(s)), side: Number(s) };
  throw badRequest(`Unknown image size specification: '${s}' (use thumb, large, orig or a whole number of pixels from 1 to the image's larger side)`);
}

/** `size` of /pointcloud: preview, orig or a voxel size (plantdb's default is preview). */
export function parseCloudSize(size: string | undefined): CloudRequest {
  const s = size ?? 'preview';
  if (s === 'orig') return { kind: 'orig' };
  if (s === 'preview') return { kind: 'voxel', name: 'preview', voxel: PREVIEW_VOXEL };
  const v = /^[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?$/.test(s) ? Number(s) : NaN;
  if (!(v >= MIN_VOXEL && v <= MAX_VOXEL)) {
    throw badRequest(`Unknown point cloud size specification: '${s}' (use preview, orig or a voxel size from ${MIN_VOXEL} to ${MAX_VOXEL})`);
  }
  return { kind: 'voxel', name: pythonFloatRepr(v), voxel: v };
}

/** plantdb's webcache file name. */
export function webcacheName(type: 'image' | 'pointcloud', scan: string, fileset: string, file: string, size: string): string {
  const hash = createHash('sha1').update(`${type}|${scan}|${fileset}|${file}|${size}`, 'utf8').digest('hex');
  return `${hash}.${type === 'image' ? 'jpeg' : 'ply'}`;
}

/**
 * A derived version: a cache entry to stream (its meta from the check just made), or bytes in
 * memory — just written as the entry `meta` describes, or made for this request only.
 */
export type Derived = { key: Key; meta?: ObjectMeta; bytes?: Uint8Array } | { key?: undefined; bytes: Uint8Array };

export interface WebcacheOptions {
  /** Sources larger than this are not resized or downsampled (default 512 MiB). */
  maxSourceBytes?: number;
  /** Resizes and downsamplings run at once at most (default 2). */
  concurrency?: number;
  /** Told when an entry cannot be written (read-only storage): the result is sent anyway. */
  onWriteError?: (err: unknown, key: Key) => void;
}

export class Webcache {
  readonly #backend: Backend;
  readonly #maxSourceBytes: number;
  readonly #onWriteError: (err: unknown, key: Key) => void;
  /** Entries being made: a second request waits for the first. */
  readonly #inFlight = new Map<Key, Promise<Derived>>();
  /** The source version each entry was made from, by this process. */
  readonly #madeFrom = new Map<Key, string>();
  readonly #slots: Semaphore;
  /** Small entries this process made or read, with the source version they were made from. */
  readonly #recent = new Map<Key, { sourceEtag: string; meta: ObjectMeta; bytes: Uint8Array }>();
  #recentBytes = 0;

  constructor(backend: Backend, opts: WebcacheOptions = {}) {
    this.#backend = backend;
    this.#maxSourceBytes = opts.maxSourceBytes ?? 512 * 2 ** 20;
    this.#onWriteError = opts.onWriteError ?? (() => {});
    this.#slots = new Semaphore(opts.concurrency ?? 2);
  }

  /** The image resized as plantdb does (JPEG, RGB, never upscaled); 400 for a side beyond the image. */
  image(file: File, req: Extract<ImageRequest, { kind: 'resize' }>, signal?: AbortSignal): Promise<Derived> {
    const cached = CACHED_IMAGE_SIDES.has(req.side);
    return this.#derive(file, 'image', req.name, cached, signal, async (src, workSignal) => {
      const made = await resizeImage(src, req.side, { signal: workSignal, name: file.filename ?? undefined });
      // Never upscaled: an image whose larger side is below the size asked for is smaller than it.
      const largest = Math.max(made.width, made.height);
      if (IMAGE_SIZES[req.name] === undefined && req.side > largest) {
        throw badRequest(`Image size ${req.side} is larger than the image (its larger side is ${largest}): use a size from 1 to ${largest}, or orig`);
      }
      return made.bytes;
    });
  }

  /** The point cloud downsampled as Open3D's voxel_down_sample, as binary PLY. */
  pointcloud(file: File, req: Extract<CloudRequest, { kind: 'voxel' }>, signal?: AbortSignal): Promise<Derived> {
    return this.#derive(file, 'pointcloud', req.name, req.name === 'preview', signal, async (src) => {
      const cloud = decodePointCloud(src, file.filename ?? file.id);
      return encodePointCloud(voxelDownsample(cloud, req.voxel), { format: 'binary_little_endian' });
    });
  }

  async #derive(file: File, type: 'image' | 'pointcloud', size: string, cached: boolean, signal: AbortSignal | undefined, make: (src: Uint8Array, signal?: AbortSignal) => Promise<Uint8Array>): Promise<Derived> {
    const scan = file.scan.id;
    const fileset = file.fileset.id;
    if (!file.filename) throw notFound(`File '${file.id}' of fileset '${fileset}' has no data`);
    const sourceKey = keys.fileData(scan, fileset, file.filename);
    const compute = async (known?: ObjectMeta, signal?: AbortSignal): Promise<{ bytes: Uint8Array; source: ObjectMeta }> => {
      const head = known ?? (await this.#backend.head(sourceKey, { signal }));
      if (!head) throw notFound(`File '${file.id}' of fileset '${fileset}' has no data`);
      if (head.size > this.#maxSourceBytes) {
        throw new HttpError(422, 'ROMI_NOT_SUPPORTED', `'${file.filename}' has ${head.size} bytes: previews are made of files up to ${this.#maxSourceBytes} bytes`);
      }
      return this.#slots.run(async () => {
        const { bytes, meta } = await this.#backend.get(sourceKey, { signal });
        return { bytes: await make(bytes, signal), source: meta };
      });
    };
    if (!cached) return { bytes: (await compute(undefined, signal)).bytes };

    const key = toKey(`${scan}/webcache/${webcacheName(type, scan, fileset, file.id, size)}`);
    const running = this.#inFlight.get(key);
    if (running) return untilAborted(running, signal);
    // Shared by every request for this entry meanwhile: no one client going away stops it (the
    // others still wait for it, and the entry serves the next ones); each stops waiting on its own.
    const work = (async (): Promise<Derived> => {
      const source = await this.#backend.head(sourceKey);
      // Made or read by this process from this very source version: one HEAD and no read.
      const recent = this.#recent.get(key);
      if (recent && source && recent.sourceEtag === source.etag) return { key, meta: recent.meta, bytes: recent.bytes };
      const entry = await this.#backend.head(key);
      if (entry && source && this.#isFresh(key, entry, source)) {
        if (entry.size > RECENT_MAX_ENTRY) return { key, meta: entry };
        const { bytes, meta } = await this.#backend.get(key);
        this.#remember(key, source.etag, meta, bytes);
        return { key, meta, bytes };
      }
      const made = await compute(source);
      try {
        const meta = await this.#backend.put(key, made.bytes);
        this.#madeFrom.set(key, made.source.etag);
        await this.#dropIfScanGone(scan, key);
        this.#remember(key, made.source.etag, meta, made.bytes);
        // Sent from memory, as the entry: no read back.
        return { key, meta, bytes: made.bytes };
      } catch (err) {
        this.#onWriteError(err, key);
        return { bytes: made.bytes };
      }
    })();
    this.#inFlight.set(key, work);
    const done = () => {
      if (this.#inFlight.get(key) === work) this.#inFlight.delete(key);
    };
    work.then(done, done);
    return untilAborted(work, signal);
  }

  /** Keeps a small entry in memory (least recently stored dropped first, RECENT_MAX_BYTES in all). */
  #remember(key: Key, sourceEtag: string, meta: ObjectMeta, bytes: Uint8Array): void {
    if (bytes.byteLength > RECENT_MAX_ENTRY) return;
    this.#forget(key);
    this.#recent.set(key, { sourceEtag, meta, bytes });
    this.#recentBytes += bytes.byteLength;
    for (const old of this.#recent.keys()) {
      if (this.#recentBytes <= RECENT_MAX_BYTES) break;
      this.#forget(old);
    }
  }

  #forget(key: Key): void {
    const old = this.#recent.get(key);
    if (!old) return;
    this.#recent.delete(key);
    this.#recentBytes -= old.bytes.byteLength;
  }

  /** Made from this very source version, or (made by another process) written after the source. */
  #isFresh(key: Key, entry: ObjectMeta, source: ObjectMeta): boolean {
    const madeFrom = this.#madeFrom.get(key);
    if (madeFrom !== undefined) return madeFrom === source.etag;
    return !!entry.mtime && !!source.mtime && entry.mtime.getTime() > source.mtime.getTime();
  }

  /**
   * A scan deleted while its entry was made must not come back as a folder holding only a cache:
   * the entry goes, and the cache folder too when nothing else is in it (never what others wrote).
   */
  async #dropIfScanGone(scan: string, key: Key): Promise<void> {
    if (await this.#backend.head(keys.index(scan))) return;
    await this.#backend.delete(key);
    const folder = toKey(`${scan}/webcache/`);
    for await (const e of this.#backend.list(folder)) if (e.kind === 'object' && e.key !== folder) return;
    await this.#backend.delete(folder);
  }
}

/** At most `size` tasks at once; the others wait in order. */
class Semaphore {
  #free: number;
  readonly #waiting: Array<() => void> = [];
  constructor(size: number) {
    this.#free = Math.max(1, size);
  }
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** `work`'s result, or AbortedError as soon as `signal` fires (the work itself goes on). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  throwIfAborted(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
