// The webcache on storage: plantdb's entry names, one computation for concurrent requests, entries
// made by another program served as they are, invalidation when the source changes (in this
// process and in a new one), and storage that refuses writes. On fsdb, through a backend that
// counts (or refuses) the writes.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { RomiDB, StorageError, toKey, type Backend } from '@romi/db-core';
import { encodeImage, imageSize } from '@romi/io';
import { webcacheName } from '../src/webcache.js';
import { get, localTargets, serve, type Running } from './harness.js';

/** The backend, with its puts recorded and, if asked, webcache writes refused. */
function watched(backend: Backend, refuseWebcache = false): { backend: Backend; puts: string[] } {
  const puts: string[] = [];
  const wrapped = new Proxy(backend, {
    get(target, name) {
      if (name === 'put') {
        return async (key: string, ...rest: unknown[]) => {
          if (refuseWebcache && key.includes('/webcache/')) throw new StorageError(`permission denied: '${key}'`);
          puts.push(key);
          return (target.put as (...args: unknown[]) => unknown)(key, ...rest);
        };
      }
      const value = Reflect.get(target, name) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { backend: wrapped, puts };
}

const entryKey = (scan: string, file: string, size: string) => `${scan}/webcache/${webcacheName('image', scan, 'images', file, size)}`;
const jpeg = (width: number, height: number) => encodeImage({ data: new Uint8Array(width * height * 3).fill(120), width, height, channels: 3 }, 'jpeg');

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function setUp(opts: { refuseWebcache?: boolean; onWriteError?: () => void } = {}) {
  const made = await localTargets()[0]!.make();
  const { backend, puts } = watched(made.backend, opts.refuseWebcache);
  const start = async (): Promise<Running> => {
    const server = await serve(new RomiDB(backend), { webcache: { onWriteError: opts.onWriteError } });
    cleanup.push(() => server.close());
    return server;
  };
  cleanup.push(made.dispose);
  return { raw: made.backend, puts, start, webcachePuts: () => puts.filter((k) => k.includes('/webcache/')) };
}

describe('webcache', () => {
  it("stores entries under plantdb's names and sends them with that name", async () => {
    const { start, webcachePuts } = await setUp();
    const server = await start();
    const res = await get(`${server.url}/image/real_plant/images/00000_rgb?size=thumb`);
    expect(res.status).toBe(200);
    const key = entryKey('real_plant', '00000_rgb', 'thumb');
    expect(webcachePuts()).toEqual([key]);
    expect(res.headers['content-disposition']).toBe(`inline; filename="${key.slice(key.lastIndexOf('/') + 1)}"`);
    expect(await imageSize(new Uint8Array(res.body))).toEqual({ width: 150, height: 113, format: 'jpeg' });
    // A second request is the same entry, answered with the same validators.
    const again = await get(`${server.url}/image/real_plant/images/00000_rgb?size=thumb`);
    expect(again.body.equals(res.body)).toBe(true);
    expect(again.headers.etag).toBe(res.headers.etag);
    expect((await get(`${server.url}/image/real_plant/images/00000_rgb?size=thumb`, { headers: { 'if-none-match': res.headers.etag! } })).status).toBe(304);
    expect(webcachePuts()).toHaveLength(1);
  });

  it('concurrent requests for one missing entry compute and write it once', async () => {
    const { start, webcachePuts } = await setUp();
    const server = await start();
    const answers = await Promise.all(Array.from({ length: 12 }, () => get(`${server.url}/image/real_plant/images/00001_rgb?size=300`)));
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body.equals(answers[0]!.body)).toBe(true);
    }
    expect(webcachePuts()).toEqual([entryKey('real_plant', '00001_rgb', '300')]);
  });

  it('a client going away while its entry is made fails none of the others waiting for it', async () => {
    const { start, webcachePuts } = await setUp();
    const server = await start();
    const url = `${server.url}/image/real_plant/images/00002_rgb?size=large`;
    // The first request starts the work; the others join it; the first is dropped meanwhile.
    const dropped = http.get(url);
    dropped.on('error', () => {});
    await new Promise((r) => setTimeout(r, 3));
    const others = Array.from({ length: 6 }, () => get(url));
    await new Promise((r) => setTimeout(r, 3));
    dropped.destroy();
    for (const res of await Promise.all(others)) expect(res.status).toBe(200);
    expect(webcachePuts()).toEqual([entryKey('real_plant', '00002_rgb', 'large')]);
  });

  it('an entry written by another program after the source is served as it is', async () => {
    const { raw, start, webcachePuts } = await setUp();
    const planted = await readFile(new URL('../../../test-fixtures/io/webcache/pil/00000_rgb_jpg_thumb.jpg', import.meta.url));
    await raw.put(toKey(entryKey('real_plant', '00002_rgb', 'thumb')), planted);
    const server = await start();
    const res = await get(`${server.url}/image/real_plant/images/00002_rgb?size=thumb`);
    expect(res.body.equals(planted)).toBe(true);
    expect(webcachePuts()).toEqual([]);
  });

  it('is made again when the source changes, in this process and in a new one', async () => {
    const { raw, start, webcachePuts } = await setUp();
    const url = (s: Running) => `${s.url}/image/real_plant/images/00003_rgb?size=thumb`;
    const sizeOf = async (s: Running) => imageSize(new Uint8Array((await get(url(s))).body));
    const first = await start();
    expect(await sizeOf(first)).toMatchObject({ width: 150, height: 113 });
    await raw.put(toKey('real_plant/images/00003_rgb.jpg'), await jpeg(300, 100));
    expect(await sizeOf(first)).toMatchObject({ width: 150, height: 50 });
    expect(webcachePuts()).toHaveLength(2);
    // A new process knows only the times: the entry is newer than its source, so it is kept...
    const second = await start();
    expect(await sizeOf(second)).toMatchObject({ width: 150, height: 50 });
    expect(webcachePuts()).toHaveLength(2);
    // ...until the source is replaced again.
    await raw.put(toKey('real_plant/images/00003_rgb.jpg'), await jpeg(100, 300));
    expect(await sizeOf(second)).toMatchObject({ width: 50, height: 150 });
    expect(webcachePuts()).toHaveLength(3);
  });

  it('a scan deleted while its entry is made: the entry is dropped, what others cached there is kept', async () => {
    const { raw, start } = await setUp();
    const others = toKey('real_plant/webcache/0123456789012345678901234567890123456789.jpeg');
    await raw.put(others, new Uint8Array([1, 2, 3]));
    // Another program deletes the scan's index while this server resizes.
    const original = raw.put.bind(raw);
    raw.put = async (key, ...rest) => {
      if (key.includes('/webcache/') && key !== others) await raw.delete(toKey('real_plant/files.json'));
      return original(key, ...rest);
    };
    const server = await start();
    expect((await get(`${server.url}/image/real_plant/images/00004_rgb?size=thumb`)).status).toBe(200);
    expect(await raw.head(toKey(entryKey('real_plant', '00004_rgb', 'thumb')))).toBeUndefined();
    expect(await raw.head(others)).toBeDefined();
  });

  it('on storage that refuses the write, the preview is sent anyway and the refusal reported', async () => {
    let refused = 0;
    const { start, webcachePuts } = await setUp({ refuseWebcache: true, onWriteError: () => refused++ });
    const server = await start();
    for (let i = 0; i < 2; i++) {
      const res = await get(`${server.url}/image/real_plant/images/00000_rgb?size=thumb`);
      expect(res.status).toBe(200);
      expect(await imageSize(new Uint8Array(res.body))).toEqual({ width: 150, height: 113, format: 'jpeg' });
    }
    expect(webcachePuts()).toEqual([]);
    expect(refused).toBe(2);
  });
});
