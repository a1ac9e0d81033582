/**
 * Stored objects answered as a file server answers files: streamed from the backend (never
 * whole in memory), ETag from the backend's version tag, Last-Modified, 304 on If-None-Match /
 * If-Modified-Since, single byte ranges (206, 416, If-Range), HEAD without reading the object.
 */
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Backend, ByteRange, Key, ObjectMeta } from '@romi/db-core';
import { notFound } from './http-errors.js';

const TYPES: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  webp: 'image/webp',
  gif: 'image/gif',
  bmp: 'image/bmp',
  json: 'application/json',
  toml: 'application/toml',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  csv: 'text/csv; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  ply: 'application/ply',
  obj: 'model/obj',
  mtl: 'model/mtl',
  zip: 'application/zip',
};

/** The Content-Type of a stored file, by its extension (unknown ones are octet streams). */
export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 && TYPES[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

function httpEtag(meta: ObjectMeta): string {
  return `"${meta.etag.replace(/"/g, '')}"`;
}

/** An HTTP date has whole seconds: compare stored times at that resolution. */
const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);

function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const weakless = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => weakless(t) === etag);
}

function notModified(req: FastifyRequest, meta: ObjectMeta, etag: string): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) return etagMatches(inm, etag);
  const ims = req.headers['if-modified-since'];
  if (ims && meta.mtime) {
    const since = Date.parse(ims);
    return !Number.isNaN(since) && seconds(meta.mtime) <= Math.floor(since / 1000);
  }
  return false;
}

type RangeAnswer = { kind: 'full' } | { kind: 'partial'; range: Required<ByteRange> } | { kind: 'unsatisfiable' };

/**
 * One `bytes=` range of RFC 9110. Anything else (several ranges, another unit, bad syntax) is
 * ignored and the whole object is sent, as the RFC allows; a range starting past the end is 416.
 */
function parseRange(header: string | undefined, size: number): RangeAnswer {
  const m = header?.trim().match(/^bytes=(\d*)-(\d*)$/);
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  const [first, last] = [m[1]!, m[2]!];
  if (first === '') {
    // A suffix: the last n bytes.
    const n = Number(last);
    if (n === 0) return { kind: 'unsatisfiable' };
    return size === 0 ? { kind: 'unsatisfiable' } : { kind: 'partial', range: { start: Math.max(0, size - n), end: size } };
  }
  const start = Number(first);
  const end = last === '' ? size : Math.min(Number(last) + 1, size);
  if (last !== '' && Number(last) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end } };
}

export interface SendOptions {
  /** Defaults to the type of the key's extension. */
  contentType?: string;
  /** The name in Content-Disposition (default: the key's last segment). */
  filename?: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** The object's meta, just read by the caller: no HEAD of its own first. */
  meta?: ObjectMeta;
  /** The object's bytes, already in memory (they must be those `meta` describes): no read. */
  bytes?: Uint8Array;
}

/** How many times an object replaced between the HEAD and the read is tried again. */
const ATTEMPTS = 3;

/** Answers `req` with the object at `key`: 404 when it does not exist. */
export async function sendObject(req: FastifyRequest, reply: FastifyReply, backend: Backend, key: Key, opts: SendOptions = {}): Promise<FastifyReply> {
  const signal = abortOnClose(req, reply);
  const name = opts.filename ?? key.slice(key.lastIndexOf('/') + 1);
  for (let attempt = 1; ; attempt++) {
    const meta = attempt === 1 && opts.meta ? opts.meta : await backend.head(key, { signal });
    if (!meta || key.endsWith('/')) throw notFound(`No file at '${key}'`);
    const etag = httpEtag(meta);
    reply.header('ETag', etag).header('Cache-Control', 'no-cache').header('Accept-Ranges', 'bytes');
    if (meta.mtime) reply.header('Last-Modified', meta.mtime.toUTCString());
    for (const [k, v] of Object.entries(opts.headers ?? {})) reply.header(k, v);
    if (notModified(req, meta, etag)) return reply.code(304).send();

    let answer = parseRange(req.headers.range, meta.size);
    const ifRange = ([] as string[]).concat(req.headers['if-range'] ?? [])[0]?.trim();
    if (answer.kind !== 'full' && ifRange !== undefined) {
      // An entity tag must match exactly; a date, the object's Last-Modified.
      const isTag = ifRange.startsWith('"') || ifRange.startsWith('W/');
      const unchanged = isTag ? ifRange === etag : !!meta.mtime && seconds(meta.mtime) <= Math.floor(Date.parse(ifRange) / 1000);
      if (!unchanged) answer = { kind: 'full' };
    }
    if (answer.kind === 'unsatisfiable') {
      return reply.code(416).header('Content-Range', `bytes */${meta.size}`).send({ message: `Range not satisfiable: the object has ${meta.size} bytes`, code: 'ROMI_INVALID_ARGUMENT' });
    }
    reply.header('Content-Type', opts.contentType ?? contentTypeOf(name)).header('Content-Disposition', contentDisposition(name));
    const range = answer.kind === 'partial' ? answer.range : undefined;
    const length = range ? range.end - range.start : meta.size;
    reply.header('Content-Length', String(length));
    if (range) reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end - 1}/${meta.size}`);
    // An empty stream, not undefined: Fastify's HEAD handler would set Content-Length to 0.
    if (req.method === 'HEAD') return reply.send(Readable.from([]));

    if (opts.bytes && meta === opts.meta) return reply.send(Buffer.from(opts.bytes.subarray(range?.start ?? 0, range?.end ?? opts.bytes.length)));
    const { stream, meta: read } = await backend.getStream(key, { range, signal });
    if (read.etag !== meta.etag) {
      // Replaced between the HEAD and the read: the headers describe another version.
      await stream.cancel().catch(() => {});
      if (attempt < ATTEMPTS) continue;
      throw notFound(`'${key}' keeps changing while being read`);
    }
    return reply.send(Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>));
  }
}

/** An AbortSignal that fires when the client goes away before the answer is complete. */
export function abortOnClose(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** `inline; filename=…`, with the RFC 6266 form for names that are not plain ASCII. */
export function contentDisposition(name: string): string {
  if (/^[\x20-\x7e]*$/.test(name) && !/["\\]/.test(name)) return `inline; filename="${name}"`;
  return `inline; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
