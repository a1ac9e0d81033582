// FsBackend reads a range from its start and stops at its end: every read it makes is inside the
// range, and together they read its bytes once, never the whole file (the contract itself is in
// the Backend suite).
import nodeFs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { toKey, type ByteRange } from '@romi/db-core';
import { FsBackend, type FsLike } from '../src/index.js';

const MiB = 1024 * 1024;
const SIZE = 8 * MiB + 5;

type FileHandle = Awaited<ReturnType<FsLike['promises']['open']>>;

/** node:fs whose file handles record every read: "read <position>+<bytes read>", and any other way of reading. */
function recordingFs(log: string[], closes: { count: number } = { count: 0 }): FsLike {
  const record = (handle: FileHandle): FileHandle =>
    new Proxy(handle, {
      get(target, name) {
        const value = Reflect.get(target, name) as unknown;
        if (typeof value !== 'function') return value;
        if (name === 'read') {
          return async (buffer: Uint8Array, offset: number, length: number, position: number) => {
            const result = await target.read(buffer, offset, length, position);
            log.push(`read ${position}+${result.bytesRead}`);
            return result;
          };
        }
        if (name === 'close') closes.count++;
        if (name === 'readFile' || name === 'createReadStream' || name === 'readableWebStream' || name === 'readv') log.push(String(name));
        return (value as (...args: unknown[]) => unknown).bind(target);
      },
    });
  const promises = new Proxy(nodeFs.promises, {
    get(target, name) {
      if (name !== 'open') return Reflect.get(target, name) as unknown;
      return async (...args: Parameters<typeof nodeFs.promises.open>) => record(await target.open(...args));
    },
  });
  return new Proxy(nodeFs, { get: (target, name) => (name === 'promises' ? promises : Reflect.get(target, name)) });
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(`${tmpdir()}/romidb-ranges-`);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('reads only the bytes of a range, from its start', async () => {
  const data = new Uint8Array(SIZE).map((_, i) => i % 251);
  await new FsBackend(dir).put(toKey('x.bin'), data);
  const log: string[] = [];
  const backend = new FsBackend(dir, { fs: recordingFs(log) });
  const CHUNK = 512 * 1024; // the backend's read size
  // Never a read past the range or the file's size (known from the open file).
  const cases: Array<[ByteRange, string[]]> = [
    [{ start: 3 * MiB + 5, end: 3 * MiB + 15 }, [`read ${3 * MiB + 5}+10`]],
    [{ start: MiB - 3, end: MiB + 4 }, [`read ${MiB - 3}+7`]],
    [{ start: MiB - 3, end: MiB - 3 + CHUNK + 100 }, [`read ${MiB - 3}+${CHUNK}`, `read ${MiB - 3 + CHUNK}+100`]],
    [{ start: SIZE - 5, end: SIZE + MiB }, [`read ${SIZE - 5}+5`]],
    [{ start: SIZE - 5 }, [`read ${SIZE - 5}+5`]],
    [{ start: SIZE + 7 }, []],
    [{ start: 12, end: 12 }, []],
  ];
  for (const [range, reads] of cases) {
    log.length = 0;
    const { stream, meta } = await backend.getStream(toKey('x.bin'), { range });
    const parts: Uint8Array[] = [];
    for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part);
    expect(Buffer.compare(Buffer.concat(parts), data.subarray(range.start, range.end)), JSON.stringify(range)).toBe(0);
    expect(meta.size).toBe(SIZE);
    expect(log, JSON.stringify(range)).toEqual(reads);
  }
});

it('reads a small file whole in one read of its own size', async () => {
  const data = new Uint8Array(2048).map((_, i) => i % 7);
  await new FsBackend(dir).put(toKey('small.bin'), data);
  const log: string[] = [];
  const backend = new FsBackend(dir, { fs: recordingFs(log) });
  const { stream } = await backend.getStream(toKey('small.bin'));
  const parts: Uint8Array[] = [];
  for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part);
  expect(Buffer.compare(Buffer.concat(parts), data)).toBe(0);
  expect(log).toEqual(['read 0+2048']);
});

it('closes the file once its last bytes are read, even if the reader never asks again', async () => {
  await new FsBackend(dir).put(toKey('two.bin'), new Uint8Array(3 * MiB));
  await new FsBackend(dir).put(toKey('empty.bin'), new Uint8Array(0));
  const closes = { count: 0 };
  const backend = new FsBackend(dir, { fs: recordingFs([], closes) });
  // A reader that stops at the size the meta gave (as an HTTP answer with a Content-Length does).
  const { stream, meta } = await backend.getStream(toKey('two.bin'));
  const reader = stream.getReader();
  let got = 0;
  while (got < meta.size) got += (await reader.read()).value!.byteLength;
  expect(closes.count).toBe(1);
  // Nothing to read: closed without a read.
  await backend.getStream(toKey('empty.bin'));
  await backend.getStream(toKey('two.bin'), { range: { start: 5, end: 5 } });
  await new Promise((r) => setTimeout(r, 10));
  expect(closes.count).toBe(3);
});
