/**
 * The stored scan list (.romidb-scans.json): a writer records which root folders are scans, so
 * that a listing looks only into the folders the list does not name. It is a cache: it may only
 * confirm folders a listing finds. Over a MapBackend that counts what each listing asks for.
 */
import { describe, expect, it } from 'vitest';
import { MapBackend, MARKER_KEY, RomiDB, StorageError, type Backend, type Key } from '../src/index.js';

const SCAN_LIST_KEY = '.romidb-scans.json' as Key;

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `scan_${String(from + i).padStart(4, '0')}`);
const enc = (s: string) => new TextEncoder().encode(s);

/** A MapBackend behind a proxy that counts head() calls and fails the puts of keys in `failPuts`. */
async function setup() {
  const inner = new MapBackend();
  await inner.put(MARKER_KEY, new Uint8Array());
  const watch = { heads: 0, failPuts: new Set<string>() };
  const backend = new Proxy(inner, {
    get(target, name) {
      if (name === 'head') {
        return (key: Key, opts?: object) => {
          watch.heads++;
          return target.head(key, opts);
        };
      }
      if (name === 'put') {
        return async (key: Key, body: Uint8Array, opts?: object) => {
          if (watch.failPuts.has(key)) throw new StorageError(`Storage error on "${key}": injected`, { key });
          return target.put(key, body, opts);
        };
      }
      const value = Reflect.get(target, name) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Backend;
  const writer = async (fn: (db: RomiDB) => Promise<void>) => {
    const db = new RomiDB(backend);
    await db.connect();
    try {
      await fn(db);
    } finally {
      await db.disconnect();
    }
  };
  /** What a fresh read-only connection lists, and how many heads that took. */
  const list = async () => {
    const db = new RomiDB(backend);
    await db.connect({ readOnly: true });
    watch.heads = 0;
    const scans = await db.listScans();
    const heads = watch.heads;
    await db.disconnect();
    return { scans, heads };
  };
  const stored = async () => JSON.parse(Buffer.from((await inner.get(SCAN_LIST_KEY)).bytes).toString()) as { scans: string[] };
  return { inner, backend, watch, writer, list, stored };
}

describe('the stored scan list', () => {
  it('a writer that made 100 scans or more records them; a listing then looks into no folder', async () => {
    const { writer, list, stored } = await setup();
    await writer(async (db) => {
      for (const id of ids(120)) await db.createScan(id);
    });
    expect((await stored()).scans).toEqual(ids(120));
    const { scans, heads } = await list();
    expect(scans).toEqual(ids(120));
    expect(heads).toBe(0);
  });

  it('a small database keeps no list (its folders are looked into), and its writers do not look into them to make one', async () => {
    const { inner, backend, watch, writer, list } = await setup();
    await writer(async (db) => {
      for (const id of ids(5)) await db.createScan(id);
      await db.listScans();
    });
    expect(await inner.head(SCAN_LIST_KEY)).toBeUndefined();
    expect((await list()).scans).toEqual(ids(5));
    // A writer that creates a scan without listing: its disconnect lists the root, nothing more.
    const db = new RomiDB(backend);
    await db.connect();
    await db.createScan('one_more');
    watch.heads = 0;
    await db.disconnect();
    expect(watch.heads).toBe(0);
    expect(await inner.head(SCAN_LIST_KEY)).toBeUndefined();
  });

  it('scans another tool adds are found by looking, deleted ones are not listed; the next writer updates the list', async () => {
    const { inner, writer, list, stored } = await setup();
    await writer(async (db) => {
      for (const id of ids(110)) await db.createScan(id);
    });
    // Another tool: a new scan with files.json only, one with metadata/ only, a folder that is
    // no scan, and a scan removed whole.
    await inner.put('other_a/files.json' as Key, enc('{"filesets": []}'));
    await inner.put('other_b/metadata/metadata.json' as Key, enc('{}'));
    await inner.put('not_a_scan/notes.txt' as Key, enc('x'));
    await inner.delete('scan_0003/' as Key);
    const expected = [...ids(110).filter((id) => id !== 'scan_0003'), 'other_a', 'other_b'].sort();
    const first = await list();
    expect(first.scans).toEqual(expected);
    expect(first.heads).toBe(3); // other_a, other_b, not_a_scan: only the folders the list does not name
    await writer(async (db) => {
      await db.listScans();
    });
    expect((await stored()).scans).toEqual(expected);
    expect((await list()).heads).toBe(1); // not_a_scan only
  });

  it('the list can only confirm folders a listing finds: ids of missing folders and junk in it change nothing', async () => {
    const { inner, writer, list } = await setup();
    await writer(async (db) => {
      for (const id of ids(100)) await db.createScan(id);
    });
    await inner.put(SCAN_LIST_KEY, enc(JSON.stringify({ scans: [...ids(100), 'ghost', '../x', 7, '.romidb-x'] })));
    expect((await list()).scans).toEqual(ids(100));
    for (const junk of ['', 'not json', '[1, 2]', '{"scans": "scan_0001"}', '{"scans": null}']) {
      await inner.put(SCAN_LIST_KEY, enc(junk));
      const { scans, heads } = await list();
      expect(scans).toEqual(ids(100));
      expect(heads).toBeGreaterThanOrEqual(100); // unreadable list: every folder looked into
    }
    // A writer replaces the unreadable list.
    await writer(async (db) => {
      await db.listScans();
    });
    expect((await list()).heads).toBe(0);
  });

  it('a list larger than 64 MiB is not read (nor trusted), and a writer replaces it', async () => {
    const { inner, writer, list } = await setup();
    await writer(async (db) => {
      for (const id of ids(100)) await db.createScan(id);
    });
    // Valid JSON naming every scan, padded past the bound: read whole, it would be trusted.
    const json = enc(JSON.stringify({ scans: ids(100) }));
    const big = new Uint8Array((64 << 20) + 1).fill(0x20);
    big.set(json);
    await inner.put(SCAN_LIST_KEY, big);
    const { scans, heads } = await list();
    expect(scans).toEqual(ids(100));
    expect(heads).toBe(100);
    await writer(async (db) => {
      await db.listScans();
    });
    expect((await inner.head(SCAN_LIST_KEY))!.size).toBeLessThan(4096);
    expect((await list()).heads).toBe(0);
  });

  it('deleteScan takes the scan out of the list first: a delete that fails halfway leaves it judged by its folder', async () => {
    const { inner, watch, writer, list, stored } = await setup();
    await writer(async (db) => {
      for (const id of ids(100)) await db.createScan(id);
    });
    const backend = new Proxy(inner, {
      get(target, name) {
        if (name === 'delete') return async () => { throw new StorageError('Storage error: injected', {}); };
        const value = Reflect.get(target, name) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Backend;
    const keysOf = async () => {
      const out: string[] = [];
      for await (const e of inner.list('scan_0007/' as Key)) out.push(e.key);
      return out.sort();
    };
    const before = await keysOf();
    const db = new RomiDB(backend);
    await db.connect();
    await expect(db.deleteScan('scan_0007')).rejects.toMatchObject({ code: 'ROMI_STORAGE' });
    await db.disconnect();
    // The scan's own storage is untouched; only romidb's record changed.
    expect(await keysOf()).toEqual(before);
    expect((await stored()).scans).not.toContain('scan_0007');
    // Still a scan by its folder (files.json is there): listed, found by looking.
    const after = await list();
    expect(after.scans).toEqual(ids(100));
    expect(after.heads).toBe(1);
    // A successful delete: gone from both.
    await writer(async (d) => {
      await d.deleteScan('scan_0008');
    });
    expect((await stored()).scans).not.toContain('scan_0008');
    expect((await list()).scans).not.toContain('scan_0008');
    expect(watch.failPuts.size).toBe(0);
  });

  it('scans deleted at the same time all leave the list (its changes are serialized)', async () => {
    const { writer, list, stored } = await setup();
    await writer(async (db) => {
      for (const id of ids(120)) await db.createScan(id);
    });
    await writer(async (db) => {
      await Promise.all(ids(10).map((id) => db.deleteScan(id)));
      // Read before the disconnect could rewrite it: the deletes alone keep it right.
      expect((await stored()).scans).toEqual(ids(110, 10));
    });
    expect((await list()).scans).toEqual(ids(110, 10));
  });

  it('a list that cannot be written loses nothing: the writer disconnects, listings look into the folders', async () => {
    const { inner, watch, writer, list } = await setup();
    watch.failPuts.add(SCAN_LIST_KEY);
    await writer(async (db) => {
      for (const id of ids(100)) await db.createScan(id);
    });
    expect(await inner.head(SCAN_LIST_KEY)).toBeUndefined();
    const { scans, heads } = await list();
    expect(scans).toEqual(ids(100));
    expect(heads).toBe(100);
  });

  it('a listed folder another tool stripped of files.json and metadata/ is listed until a writer runs check()', async () => {
    const { inner, writer, list, stored } = await setup();
    await writer(async (db) => {
      for (const id of ids(100)) await db.createScan(id);
    });
    await inner.delete('scan_0005/files.json' as Key);
    await inner.delete('scan_0005/metadata/' as Key);
    await inner.put('scan_0005/leftover.txt' as Key, enc('x'));
    // The one case the list decides alone (stated in the README): still listed.
    expect((await list()).scans).toContain('scan_0005');
    await writer(async (db) => {
      await db.check();
    });
    expect((await stored()).scans).not.toContain('scan_0005');
    expect((await list()).scans).toEqual(ids(100).filter((id) => id !== 'scan_0005'));
  });

  it('a read-only connection never writes the list', async () => {
    const { inner, writer, list } = await setup();
    await writer(async (db) => {
      for (const id of ids(100)) await db.createScan(id);
    });
    await inner.delete(SCAN_LIST_KEY);
    await list();
    await list();
    expect(await inner.head(SCAN_LIST_KEY)).toBeUndefined();
  });
});
