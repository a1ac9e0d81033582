/**
 * The web viewer (@romi/viewer's built dist/) at /viewer/, and /viewer → /viewer/. Hashed
 * assets (assets/*-<hash>.*) are cached for a year, immutable; index.html is `no-cache`.
 * Nothing outside dist/ is ever served. Without a built viewer the routes answer a 404 that
 * says how to build it.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
  wasm: 'application/wasm',
  map: 'application/json',
  txt: 'text/plain; charset=utf-8',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';

const COMPRESSIBLE = new Set(['html', 'js', 'mjs', 'css', 'json', 'svg', 'map', 'txt']);
/** Larger text files are sent as they are. */
const MAX_GZIP_BYTES = 8 * 1024 * 1024;

/** @romi/viewer's dist/ folder, or undefined when the package is not installed. */
function viewerDist(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@romi/viewer/package.json')), 'dist');
  } catch {
    return undefined;
  }
}

export function registerViewerRoutes(app: FastifyInstance, dist: string | undefined = viewerDist()): void {
  /** Gzipped text files by path and version (a build has a few dozen). */
  const gzipped = new Map<string, Buffer>();
  const notBuilt = { message: 'The viewer is not built: run `pnpm --filter @romi/viewer build`.', code: 'ROMI_NOT_FOUND' };

  // Relative, so that it holds under any prefix.
  app.get('/viewer', { schema: { hide: true } }, async (_req, reply) => reply.redirect('viewer/', 301));

  app.get<{ Params: { '*': string } }>('/viewer/*', { schema: { hide: true } }, async (req, reply) => {
    const rel = req.params['*'] || 'index.html';
    const segments = rel.split('/');
    if (!dist || segments.some((s) => s === '' || s === '.' || s === '..' || s.startsWith('.') || s.includes('\\') || s.includes('\0'))) {
      return reply.code(404).send(dist ? { message: `No viewer file '${rel}'`, code: 'ROMI_NOT_FOUND' } : notBuilt);
    }
    const path = join(dist, ...segments);
    if (!path.startsWith(dist + sep)) return reply.code(404).send({ message: `No viewer file '${rel}'`, code: 'ROMI_NOT_FOUND' });
    let info;
    try {
      info = await stat(path);
    } catch {
      return reply.code(404).send(rel === 'index.html' ? notBuilt : { message: `No viewer file '${rel}'`, code: 'ROMI_NOT_FOUND' });
    }
    if (!info.isFile()) return reply.code(404).send({ message: `No viewer file '${rel}'`, code: 'ROMI_NOT_FOUND' });
    const ext = rel.slice(rel.lastIndexOf('.') + 1).toLowerCase();
    const etag = `"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`;
    // Vite names what it builds `<name>-<hash>.<ext>` under assets/: those never change.
    const hashed = segments[0] === 'assets' && /-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/.test(rel);
    reply
      .header('Content-Type', TYPES[ext] ?? 'application/octet-stream')
      .header('Cache-Control', hashed ? IMMUTABLE : 'no-cache')
      .header('ETag', etag)
      .header('Last-Modified', info.mtime.toUTCString())
      .header('X-Content-Type-Options', 'nosniff');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    // Text (the scripts, three.js's chunk above all) gzipped once per file version, kept in memory.
    if (COMPRESSIBLE.has(ext)) {
      reply.header('Vary', 'Accept-Encoding');
      if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && info.size <= MAX_GZIP_BYTES) {
        const key = `${path}\0${etag}`;
        let gz = gzipped.get(key);
        if (!gz) {
          gz = gzipSync(await readFile(path), { level: 9 });
          gzipped.set(key, gz);
        }
        return reply.header('Content-Encoding', 'gzip').header('Content-Length', gz.length).send(req.method === 'HEAD' ? Readable.from([]) : gz);
      }
    }
    reply.header('Content-Length', info.size);
    // An empty stream, not nothing: Fastify's HEAD handler would set Content-Length to 0.
    if (req.method === 'HEAD') return reply.send(Readable.from([]));
    return reply.send(createReadStream(path));
  });
}
