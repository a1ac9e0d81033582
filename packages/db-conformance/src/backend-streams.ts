/** Streams in and out: bodies of several chunks, larger than one read or write chunk. */
import { describe, expect } from 'vitest';
import { ErrorCodes } from '@romi/db-core';
import { bytes, chunks, chunksBytes, drain, expectBytes, failsWith, k, storageState, textOf, type BackendHarness } from './backend-harness.js';

const MiB = 1024 * 1024;
/** More than one chunk of every backend's reads and writes (1 MiB on a file system). */
const LARGE = 3 * MiB + 12345;

function webStream(parts: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of parts) controller.enqueue(bytes(p));
      controller.close();
    },
  });
}

export function describeStreams(h: BackendHarness): void {
  describe('streams', () => {
    h.it('put takes async iterables of many chunks, larger than one chunk, and stores them exactly', async () => {
      const b = h.backend();
      const meta = await b.put(k('big.bin'), chunks(LARGE, 300 * 1024));
      expect(meta.size).toBe(LARGE);
      expect(await b.head(k('big.bin'))).toMatchObject({ size: LARGE, etag: meta.etag });
      expectBytes((await b.get(k('big.bin'))).bytes, chunksBytes(LARGE, 300 * 1024));
    });

    h.it('put takes web ReadableStreams, with or without their size, and empty streams', async () => {
      const b = h.backend();
      await b.put(k('sized.txt'), webStream(['web ', 'stream']), { size: 10 });
      expect(textOf((await b.get(k('sized.txt'))).bytes)).toBe('web stream');
      await b.put(k('unsized.txt'), webStream(['a', 'b', 'c']));
      expect(textOf((await b.get(k('unsized.txt'))).bytes)).toBe('abc');
      expect((await b.put(k('empty.bin'), chunks(0, 1))).size).toBe(0);
      expect((await b.get(k('empty.bin'))).bytes.byteLength).toBe(0);
      expect((await drain((await b.getStream(k('empty.bin'))).stream)).data.byteLength).toBe(0);
    });

    h.it('getStream yields a large object in several chunks, with the metadata of that version', async () => {
      const b = h.backend();
      const data = chunksBytes(LARGE, MiB);
      const put = await b.put(k('big.bin'), data);
      const { stream, meta } = await b.getStream(k('big.bin'));
      expect(meta).toMatchObject({ key: 'big.bin', size: LARGE, etag: put.etag });
      const read = await drain(stream);
      expect(read.chunkCount).toBeGreaterThan(1);
      expectBytes(read.data, data);
    });

    h.it('a body that fails midway is a ROMI_STORAGE error naming the cause; the old object stays, nothing else is left', async () => {
      const b = h.backend();
      await b.put(k('k.bin'), bytes('old'));
      const before = await storageState(b);
      async function* failing(): AsyncIterable<Uint8Array> {
        yield new Uint8Array(MiB);
        yield new Uint8Array(MiB);
        throw new Error('the source broke');
      }
      expect((await failsWith(ErrorCodes.STORAGE, b.put(k('k.bin'), failing()))).message).toContain('the source broke');
      await failsWith(ErrorCodes.STORAGE, b.put(k('new.bin'), failing()));
      expect(textOf((await b.get(k('k.bin'))).bytes)).toBe('old');
      expect(await storageState(b)).toEqual(before);
    });
  });
}
