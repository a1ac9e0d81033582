// Core behaviour on the core's own MapBackend: batch writes and cross-copy errors.
import { describe, expect, it } from 'vitest';
import {
  ErrorCodes,
  isRomiError,
  MapBackend,
  MARKER_KEY,
  RomiDB,
  RomiError,
  type Backend,
  type Body,
  type Key,
  type PutOptions,
} from '../src/index.js';

async function newBackend(): Promise<MapBackend> {
  const backend = new MapBackend();
  await backend.put(MARKER_KEY, new Uint8Array());
  return backend;
}

/** A backend that counts writes per key, around a real one. */
function counting(inner: Backend): Backend & { puts: Map<string, number> } {
  const puts = new Map<string, number>();
  return Object.assign(Object.create(inner) as Backend, {
    puts,
    url: inner.url,
    capabilities: inner.capabilities,
    put(key: Key, body: Body, opts?: PutOptions) {
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
    const backend = counting(await newBackend());
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
    const inner = await newBackend();
    let n = 0;
    const failing = Object.assign(counting(inner), {
      put(key: Key, body: Body, opts?: PutOptions) {
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
    const left: string[] = [];
    for await (const entry of inner.list('')) if (entry.key.endsWith('.bin')) left.push(entry.key);
    expect(left).toEqual([]);
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
