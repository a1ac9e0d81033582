/**
 * Byte ranges of getStream: only the asked bytes, `meta` of the whole object, an `end` past the
 * size clamped, a `start` at or past it empty, invalid ranges refused before any I/O.
 */
import { describe, expect } from 'vitest';
import { AbortedError, ErrorCodes, InvalidArgumentError, KeyNotFoundError, type Backend, type ByteRange, type Key } from '@romi/db-core';
import { drain, expectBytes, failsWith, k, storageState, type BackendHarness } from './backend-harness.js';

const MiB = 1024 * 1024;
/** More than one read chunk of every backend (1 MiB on a file system, CHUNK in fs-backend.ts). */
const LARGE = 3 * MiB + 12345;

/** `length` bytes that differ from their neighbours: a range read from the wrong offset shows. */
function patterned(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.imul(i + 1, 2654435761) >>> 24;
  return out;
}

/** Reads `range` of `key` and expects exactly `expected`, with the meta of the whole object. */
async function expectRange(b: Backend, key: Key, range: ByteRange, expected: Uint8Array, whole: { size: number; etag: string }): Promise<void> {
  const { stream, meta } = await b.getStream(key, { range });
  expect(meta, JSON.stringify(range)).toMatchObject({ key, size: whole.size, etag: whole.etag });
  expectBytes((await drain(stream)).data, expected);
}

export function describeRanges(h: BackendHarness): void {
  describe('byte ranges', () => {
    h.it('getStream with a range streams those bytes only, at the start, in the middle, at the end; meta is the whole object', async () => {
      const b = h.backend();
      const data = patterned(1000);
      const put = await b.put(k('r/x.bin'), data);
      const cases: ByteRange[] = [
        { start: 0, end: 1 },
        { start: 0, end: 10 },
        { start: 400, end: 437 },
        { start: 999, end: 1000 },
        { start: 990 },
        { start: 1 },
        { start: 0 },
        { start: 0, end: 1000 },
        { start: 3, end: 3 },
      ];
      for (const range of cases) await expectRange(b, k('r/x.bin'), range, data.subarray(range.start, range.end), put);
    });

    h.it('an end past the size is clamped to it; a start at or past the size gives an empty stream', async () => {
      const b = h.backend();
      const data = patterned(1000);
      const put = await b.put(k('x.bin'), data);
      await expectRange(b, k('x.bin'), { start: 990, end: 1001 }, data.subarray(990), put);
      await expectRange(b, k('x.bin'), { start: 0, end: 2 ** 40 }, data, put);
      for (const range of [{ start: 1000 }, { start: 1000, end: 1000 }, { start: 1000, end: 5000 }, { start: 1001 }, { start: 5000, end: 6000 }, { start: 2 ** 40, end: 2 ** 40 }]) {
        await expectRange(b, k('x.bin'), range, new Uint8Array(), put);
      }
    });

    h.it('every range of an empty object is empty, with its meta', async () => {
      const b = h.backend();
      const put = await b.put(k('empty.bin'), new Uint8Array());
      for (const range of [{ start: 0 }, { start: 0, end: 0 }, { start: 0, end: 10 }, { start: 1 }, { start: 7, end: 9 }]) {
        await expectRange(b, k('empty.bin'), range, new Uint8Array(), { size: 0, etag: put.etag });
      }
    });

    h.it('ranges across read chunks of an object of a few MiB return exactly those bytes, in pieces', async () => {
      const b = h.backend();
      const data = patterned(LARGE);
      const put = await b.put(k('big.bin'), data);
      const cases: ByteRange[] = [
        { start: MiB - 7, end: MiB + 9 },
        { start: MiB, end: MiB + 1 },
        { start: MiB - 1, end: MiB },
        { start: 5, end: 2 * MiB + 3 },
        { start: 2 * MiB + 5 },
        { start: LARGE - 1 },
        { start: LARGE - 10, end: LARGE + MiB },
      ];
      for (const range of cases) await expectRange(b, k('big.bin'), range, data.subarray(range.start, range.end), put);
      const { stream } = await b.getStream(k('big.bin'), { range: { start: 5, end: 2 * MiB + 3 } });
      expect((await drain(stream)).chunkCount).toBeGreaterThan(1);
    });

    h.it('small ranges deep inside a large object return exactly their bytes', async () => {
      const b = h.backend();
      const size = 24 * MiB + 7;
      const data = patterned(size);
      const put = await b.put(k('large.bin'), data);
      for (const start of [0, 12345, 8 * MiB - 5, 20 * MiB + 3, size - 10]) {
        await expectRange(b, k('large.bin'), { start, end: start + 10 }, data.subarray(start, start + 10), put);
      }
    });

    h.it('a range reads the current version: after a replace, its bytes and its meta', async () => {
      const b = h.backend();
      await b.put(k('v.bin'), patterned(1000));
      const data = patterned(50).reverse();
      const put = await b.put(k('v.bin'), data);
      await expectRange(b, k('v.bin'), { start: 10, end: 20 }, data.subarray(10, 20), put);
      await expectRange(b, k('v.bin'), { start: 40, end: 900 }, data.subarray(40), put);
      await expectRange(b, k('v.bin'), { start: 60, end: 900 }, new Uint8Array(), put);
    });

    h.it('a range of a missing key is KeyNotFoundError (ROMI_NOT_FOUND)', async () => {
      const b = h.backend();
      for (const range of [{ start: 0, end: 10 }, { start: 5 }, { start: 0, end: 0 }, { start: 100 }]) {
        expect(await failsWith(ErrorCodes.NOT_FOUND, b.getStream(k('missing.bin'), { range })), JSON.stringify(range)).toBeInstanceOf(KeyNotFoundError);
      }
    });

    h.it('an invalid range is InvalidArgumentError (ROMI_INVALID_ARGUMENT) before any I/O, on a missing key too', async () => {
      const b = h.backend();
      await b.put(k('x.bin'), patterned(100));
      const before = await storageState(b);
      const invalid = [
        { start: -1 },
        { start: -1, end: 5 },
        { start: 0, end: -1 },
        { start: 1.5 },
        { start: 0, end: 2.5 },
        { start: 5, end: 4 },
        { start: 1, end: 0 },
        { start: Number.NaN },
        { start: Number.POSITIVE_INFINITY },
        { start: 0, end: Number.POSITIVE_INFINITY },
        { start: '1' },
        {},
      ] as ByteRange[];
      for (const range of invalid) {
        for (const key of [k('x.bin'), k('missing.bin')]) {
          // On a missing key, a check made after a lookup would say ROMI_NOT_FOUND instead.
          const err = await failsWith(ErrorCodes.INVALID_ARGUMENT, b.getStream(key, { range }));
          expect(err, `${key} ${JSON.stringify(range)}`).toBeInstanceOf(InvalidArgumentError);
        }
      }
      expect(await storageState(b)).toEqual(before);
    });

    h.it('a signal aborted before a ranged getStream fails it with AbortedError (ROMI_ABORTED)', async () => {
      const b = h.backend();
      await b.put(k('x.bin'), patterned(100));
      const signal = AbortSignal.abort();
      for (const range of [{ start: 0, end: 10 }, { start: 50 }, { start: 5, end: 5 }, { start: 100 }, { start: 500, end: 600 }]) {
        expect(await failsWith(ErrorCodes.ABORTED, b.getStream(k('x.bin'), { range, signal })), JSON.stringify(range)).toBeInstanceOf(AbortedError);
      }
    });
  });
}
