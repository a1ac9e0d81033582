// snapshotScan beside a writer: an entry whose data is gone from the listing is copied as it is
// when files.json stays the same (the scan lacks that data), and left out of the copy's index
// when files.json keeps changing (a writer deleting it faster than the snapshot re-reads).
import { describe, expect, it } from 'vitest';
import { indexForCopy, MapBackend, snapshotScan, type Backend, type Key } from '../src/index.js';

const INDEX = 's/files.json';
const encode = (s: string) => new TextEncoder().encode(s);
const listed = (bytes: Uint8Array | undefined) =>
  (JSON.parse(new TextDecoder().decode(bytes)) as { filesets: Array<{ files: Array<{ id: string }> }> }).filesets[0]!.files.map((f) => f.id);

/** Scan "s" whose files.json lists a.bin (stored) and b.bin (not stored); with `busy`, every read of files.json finds a new version. */
async function scan(busy: boolean): Promise<Backend> {
  const backend = new MapBackend();
  const index = encode(JSON.stringify({ filesets: [{ id: 'fs', files: [{ id: 'a', file: 'a.bin' }, { id: 'b', file: 'b.bin' }] }] }));
  await backend.put('s/files.json' as Key, index);
  await backend.put('s/fs/a.bin' as Key, encode('a'));
  if (!busy) return backend;
  return new Proxy(backend, {
    get(target, name) {
      if (name === 'get') {
        return async (key: Key, opts?: object) => {
          // A writer rewrites files.json between any two reads (same entries, a new version).
          if (key === INDEX) await target.put(key, index);
          return target.get(key, opts);
        };
      }
      const value = Reflect.get(target, name) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('snapshotScan', () => {
  it('copies an entry without data as it is when files.json does not change (the scan lacks it)', async () => {
    const snapshot = await snapshotScan(await scan(false), 's');
    expect(snapshot.gone).toBeUndefined();
    expect(listed(indexForCopy(snapshot, new Set()))).toEqual(['a', 'b']);
  });

  it('leaves it out of the copy when files.json keeps changing (a writer deleting it)', async () => {
    const snapshot = await snapshotScan(await scan(true), 's');
    expect([...(snapshot.gone ?? [])]).toEqual(['s/fs/b.bin']);
    expect(listed(indexForCopy(snapshot, new Set()))).toEqual(['a']);
  });
});
