/**
 * The server tests' set-up: the fixture database (test-fixtures/server-db) loaded into each
 * backend (a folder copy, memory, an S3 bucket on the patched s3rver — radosgw in slow runs),
 * a server on a random port, and a real HTTP client (undici).
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { toKey, type Backend, type DB } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import { MemDB } from '@romi/memdb';
import { S3DB } from '@romi/s3db';
import { suiteS3Targets, type S3TestServer } from '@romi/test-utils';
import { createServer, type ServerOptions } from '../src/index.js';

export const FIXTURE = fileURLToPath(new URL('../../../test-fixtures/server-db/', import.meta.url));
export const GOLDEN = fileURLToPath(new URL('../../../test-fixtures/server-golden/plantdb-0.15/', import.meta.url));

export interface Target {
  name: string;
  /** A fresh database holding the fixture (not connected), and how to remove it. */
  make(): Promise<{ db: DB; backend: Backend; dispose(): Promise<void> }>;
  close(): Promise<void>;
}

/** Copies every object under the source backend into the destination (raw keys: broken scans stay broken). */
async function copyObjects(src: Backend, dst: Backend): Promise<void> {
  for await (const e of src.list('')) {
    if (e.kind !== 'object' || e.key.endsWith('/')) continue;
    const key = toKey(e.key);
    await dst.put(key, (await src.get(key)).bytes);
  }
}

async function fixtureCopy(): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(`${tmpdir()}/romidb-server-`);
  await cp(FIXTURE, dir, { recursive: true });
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** fsdb on a copy of the fixture folder, and memdb. */
export function localTargets(): Target[] {
  return [
    {
      name: 'fsdb',
      async make() {
        const copy = await fixtureCopy();
        const db = new FSDB(copy.dir);
        return { db, backend: db.backend, dispose: copy.dispose };
      },
      async close() {},
    },
    {
      name: 'memdb',
      async make() {
        const db = new MemDB();
        await copyObjects(new FSDB(FIXTURE).backend, db.backend);
        return { db, backend: db.backend, dispose: async () => {} };
      },
      async close() {},
    },
  ];
}

/**
 * fsdb, memdb and s3db on s3rver in `pnpm test`; s3db on radosgw alone in `pnpm test:slow` (when
 * ROMI_TEST_RGW_ENDPOINT is set: none otherwise); all of them with ROMI_TESTS=all.
 */
export function targets(): Target[] {
  const list = process.env.ROMI_TESTS === 'slow' ? [] : localTargets();
  for (const target of suiteS3Targets()) {
    let server: S3TestServer | undefined;
    list.push({
      name: `s3db (${target.kind})`,
      async make() {
        server ??= await target.start();
        const bucket = await server.bucket();
        const opts = { bucket, prefix: 'db', endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true as const };
        const db = await S3DB.init(opts);
        await copyObjects(new FSDB(FIXTURE).backend, db.backend);
        return { db, backend: db.backend, dispose: async () => {} };
      },
      async close() {
        await server?.close();
      },
    });
  }
  return list;
}

export interface Running {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** A server on a random port of 127.0.0.1 (no rate limits unless asked, no background refresh). */
export async function serve(db: DB, opts: Partial<ServerOptions> = {}): Promise<Running> {
  const app = await createServer({ rateLimit: false, refreshIntervalMs: 0, ...opts, db });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `${address}${opts.prefix ?? ''}`, close: () => app.close() };
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  json(): any;
  text(): string;
}

/** One request with a real HTTP client; the whole body is read. */
export async function get(url: string, opts: { method?: 'GET' | 'HEAD' | 'OPTIONS' | 'POST'; headers?: Record<string, string>; json?: unknown } = {}): Promise<Answer> {
  const sent = opts.json === undefined ? opts.headers : { 'content-type': 'application/json', ...opts.headers };
  const payload = opts.json === undefined ? undefined : JSON.stringify(opts.json);
  const res = await request(url, { method: opts.method ?? (payload === undefined ? 'GET' : 'POST'), headers: sent, body: payload });
  const body = Buffer.from(await res.body.arrayBuffer());
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return {
    status: res.statusCode,
    headers,
    body,
    json: () => JSON.parse(body.toString('utf8')),
    text: () => body.toString('utf8'),
  };
}
