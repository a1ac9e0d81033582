import { describe, expect, it } from 'vitest';
import { MemDB } from '../src/index.js';
import { FSDB } from '@romi/fsdb';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import {
  ErrorCodes,
  isRomiError,
  openDB,
  RomiDB,
  RomiError,
  type Backend,
  type Body,
  type PutOptions,
} from '@romi/db-core';

/** A backend that counts writes per key, around a real one. */
function counting(inner: Backend): Backend & { puts: Map<string, number> } {
  const puts = new Map<string, number>();
  return Object.assign(Object.create(inner) as Backend, {
    puts,
    url: inner.url,
    capabilities: inner.capabilities,
    put(key: string, body: Body, opts?: PutOptions) {
      puts.set(key, (puts.get(key) ?? 0) + 1);
      return inner.put(key, body, opts);
    },
    get: inner.get.bind(inner),
    getStream: inner.getStream.bind(inner),
    head: inner.head.bind(inner),
    delete: inner.delete.bind(inner),
    list: inner.list.bind(inner),
    lock: inner.lock.bind(inner),
  });
}

describe('the batch form', () => {
  it('writes files.json once for a batch of 1,000 files', async () => {
    const backend = counting(new MemDB().backend);
    const db = new RomiDB(backend);
    await db.connect();
    const fs = await (await db.createScan('s')).createFileset('images');
    backend.puts.clear();
    await fs.createFiles(Array.from({ length: 1000 }, (_, i) => ({ id: `f${i}`, data: new Uint8Array([i & 255]), ext: 'bin', metadata: { i } })));
    expect(backend.puts.get('s/files.json')).toBe(1);
    expect([...backend.puts.keys()].filter((k) => k.endsWith('.bin'))).toHaveLength(1000);
    expect([...backend.puts.keys()].filter((k) => k.startsWith('s/metadata/images/'))).toHaveLength(1000);
  });

  it('indexes nothing and removes what it wrote when a write fails', async () => {
    const mem = new MemDB();
    const inner = mem.backend;
    let n = 0;
    const failing = Object.assign(counting(inner), {
      put(key: string, body: Body, opts?: PutOptions) {
        if (key.endsWith('.bin') && ++n === 7) return Promise.reject(new RomiError(ErrorCodes.STORAGE, 'disk full'));
        return inner.put(key, body, opts);
      },
    });
    const db = new RomiDB(failing);
    await db.connect();
    const fs = await (await db.createScan('s')).createFileset('images');
    const err = await fs.createFiles(Array.from({ length: 20 }, (_, i) => ({ id: `f${i}`, data: 'x', ext: 'bin' })), { concurrency: 1 }).catch((e: unknown) => e);
    expect(isRomiError(err, ErrorCodes.STORAGE)).toBe(true);
    expect(await fs.listFiles()).toEqual([]);
    expect(Object.keys(mem.toJSON()).filter((k) => k.endsWith('.bin'))).toEqual([]);
  });
});

describe('openDB', () => {
  it('opens a local path, a file: URL and named memory databases', async () => {
    const dir = await mkdtemp(`${tmpdir()}/romidb-open-`);
    await FSDB.init(dir);
    const a = await openDB(dir);
    expect(a.isConnected).toBe(true);
    await a.createScan('s');
    await a.disconnect();
    const b = await openDB(`file://${dir}`, { readOnly: true });
    expect(await b.listScans()).toEqual(['s']);
    await b.disconnect();

    const m1 = await openDB('memory://shared');
    await m1.createScan('in_memory');
    await m1.disconnect();
    const m2 = await openDB('memory://shared', { readOnly: true });
    expect(await m2.listScans()).toEqual(['in_memory']);
    const m3 = await openDB('memory://other', { connect: false });
    await m3.connect();
    expect(await m3.listScans()).toEqual([]);
  });

  it('refuses malformed URLs and unknown schemes with typed errors', async () => {
    expect((await openDB('').catch((e: RomiError) => e.code))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((await openDB('memory://[bad').catch((e: RomiError) => e.code))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect((await openDB('ftp://host/db').catch((e: RomiError) => e.code))).toBe(ErrorCodes.NOT_SUPPORTED);
    expect((await openDB('/definitely/not/a/db').catch((e: RomiError) => e.code))).toBe(ErrorCodes.NOT_A_DATABASE);
  });
});

describe('errors', () => {
  it('isRomiError recognises errors from another copy of the package', () => {
    const foreign = Object.assign(new Error('x'), { code: 'ROMI_NOT_FOUND' });
    Object.defineProperty(foreign, Symbol.for('@romi/db-core/RomiError'), { value: true });
    expect(isRomiError(foreign, 'ROMI_NOT_FOUND')).toBe(true);
    expect(isRomiError(new Error('plain'))).toBe(false);
    expect(isRomiError(Object.assign(new Error('x'), { code: 'ROMI_NOT_FOUND' }))).toBe(false);
  });
});
