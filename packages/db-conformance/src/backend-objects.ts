/** Objects: put, get, head and getStream agree on bytes and metadata; folders; missing keys. */
import { describe, expect } from 'vitest';
import { ErrorCodes, KeyNotFoundError } from '@romi/db-core';
import { bytes, drain, expectBytes, failsWith, filled, k, listing, textOf, type BackendHarness } from './backend-harness.js';

export function describeObjects(h: BackendHarness): void {
  describe('objects', () => {
    h.it('put returns the metadata that get, getStream, head and list report for that version', async () => {
      const b = h.backend();
      const data = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      const put = await b.put(k('a/b.bin'), data);
      expect(put).toMatchObject({ key: 'a/b.bin', size: 512 });
      expect(put.etag).not.toBe('');
      const got = await b.get(k('a/b.bin'));
      expectBytes(got.bytes, data);
      expect(got.meta).toMatchObject({ key: 'a/b.bin', size: 512, etag: put.etag });
      expect(await b.head(k('a/b.bin'))).toMatchObject({ key: 'a/b.bin', size: 512, etag: put.etag });
      const { stream, meta } = await b.getStream(k('a/b.bin'));
      await stream.cancel();
      expect(meta).toMatchObject({ key: 'a/b.bin', size: 512, etag: put.etag });
      const entries = [];
      for await (const e of b.list(k('a/'))) entries.push(e);
      expect(entries).toEqual([expect.objectContaining({ kind: 'object', key: 'a/b.bin', size: 512, etag: put.etag })]);
    });

    h.it('a replaced object has a new etag, and every read sees the new version', async () => {
      const b = h.backend();
      const first = await b.put(k('k.json'), bytes('{"v": 1}'));
      const second = await b.put(k('k.json'), bytes('{"v": 22}'));
      expect(second.etag).not.toBe(first.etag);
      expect(textOf((await b.get(k('k.json'))).bytes)).toBe('{"v": 22}');
      expect(await b.head(k('k.json'))).toMatchObject({ size: 9, etag: second.etag });
    });

    h.it('stores empty objects, and a view into a larger buffer as just its bytes', async () => {
      const b = h.backend();
      expect((await b.put(k('empty'), new Uint8Array())).size).toBe(0);
      expect((await b.get(k('empty'))).bytes.byteLength).toBe(0);
      expect((await b.head(k('empty')))?.size).toBe(0);
      const buffer = Uint8Array.from({ length: 100 }, (_, i) => i);
      await b.put(k('view'), buffer.subarray(10, 20));
      expectBytes((await b.get(k('view'))).bytes, buffer.slice(10, 20));
    });

    h.it('the caller may reuse a body once put settles: what is stored does not change with it', async () => {
      const b = h.backend();
      const body = Uint8Array.from({ length: 2048 }, (_, i) => i % 251);
      const kept = body.slice();
      await b.put(k('reused.bin'), body);
      body.fill(7);
      expectBytes((await b.get(k('reused.bin'))).bytes, kept);
    });

    h.it('a missing key: get and getStream fail with KeyNotFoundError (ROMI_NOT_FOUND), head is undefined', async () => {
      const b = h.backend();
      await b.put(k('here/x'), bytes('x'));
      for (const key of ['missing', 'here/missing', 'nowhere/missing']) {
        expect(await failsWith(ErrorCodes.NOT_FOUND, b.get(k(key)))).toBeInstanceOf(KeyNotFoundError);
        expect(await failsWith(ErrorCodes.NOT_FOUND, b.getStream(k(key)))).toBeInstanceOf(KeyNotFoundError);
        expect(await b.head(k(key))).toBeUndefined();
      }
    });

    h.it('a key ending in "/" names a folder: put makes it (twice is fine), head sees it as size 0, listings show it', async () => {
      const b = h.backend();
      await b.put(k('f/'), new Uint8Array());
      await b.put(k('f/'), new Uint8Array());
      expect(await b.head(k('f/'))).toMatchObject({ key: 'f/', size: 0 });
      expect(await listing(b, '')).toEqual(['O f/']);
      expect(await listing(b, '', { delimiter: '/' })).toEqual(['P f/']);
      // A folder holding objects exists without its own marker too; an unknown one does not.
      await b.put(k('g/x.txt'), bytes('x'));
      expect(await b.head(k('g/'))).toMatchObject({ key: 'g/', size: 0 });
      expect(await b.head(k('h/'))).toBeUndefined();
    });

    h.it('keys with spaces, non-ASCII and URL-special characters round-trip', async () => {
      const b = h.backend();
      const keys = ['odd names/a b+c%20d é✓.txt', 'odd names/q?x#y&z=1;v.json', "odd names/it's [1] (2) {3} @~!$*,"];
      for (const [i, key] of keys.entries()) await b.put(k(key), bytes(`value ${i}`));
      for (const [i, key] of keys.entries()) expect(textOf((await b.get(k(key))).bytes)).toBe(`value ${i}`);
      expect(await listing(b, 'odd names/')).toEqual(keys.map((key) => `O ${key}`).sort());
    });

    h.it('a reader never sees a torn object while a writer replaces it', async () => {
      const b = h.backend();
      const size = 256 * 1024;
      const key = k('replaced.bin');
      // Each version is `size` bytes of one value, so a torn read shows two values or a short length.
      const versionOf = new Map<string, number>([[(await b.put(key, filled(size, 0))).etag, 0]]);
      let writing = true;
      const writer = (async () => {
        try {
          for (let v = 1; v <= 12; v++) versionOf.set((await b.put(key, filled(size, v))).etag, v);
        } finally {
          writing = false;
        }
      })();
      const read = async (streamed: boolean): Promise<{ data: Uint8Array; etag: string }> => {
        if (!streamed) {
          const o = await b.get(key);
          return { data: o.bytes, etag: o.meta.etag };
        }
        const s = await b.getStream(key);
        return { data: (await drain(s.stream)).data, etag: s.meta.etag };
      };
      const seen: Array<[string, number]> = [];
      for (let reads = 0; writing || reads < 2; reads++) {
        // Whole reads and streamed reads in turn.
        const { data, etag } = await read(reads % 2 === 1);
        expect(data.byteLength).toBe(size);
        expect(data.every((x) => x === data[0])).toBe(true);
        seen.push([etag, data[0]!]);
      }
      await writer;
      // The metadata read is that of the very version whose bytes came back.
      for (const [etag, value] of seen) if (versionOf.has(etag)) expect(versionOf.get(etag)).toBe(value);
    });
  });
}
