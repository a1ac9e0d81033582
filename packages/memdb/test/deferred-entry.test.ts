/**
 * createFile without metadata leaves its index entry to the scan's next index write (the file's
 * first write, usually): a file created and written costs one files.json write, not two. What
 * that changes and what it does not, over a backend that counts and fails files.json writes.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isRomiError, RomiDB, StorageError, type Backend, type Body, type Key, type PutOptions } from '@romi/db-core';
import { MemDB } from '../src/index.js';

const INDEX = 's/files.json';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The backend of a fresh memdb holding scan "s" with fileset "fs", counting (and failing, when told) its files.json writes. */
async function setup() {
  const mem = new MemDB();
  await mem.connect();
  await (await mem.createScan('s')).createFileset('fs');
  await mem.disconnect();
  const watch = { indexPuts: 0, failing: false };
  const inner = mem.backend;
  const backend = new Proxy(inner, {
    get(target, name) {
      if (name === 'put') {
        return async (key: Key, body: Body, opts?: PutOptions) => {
          if (key === INDEX) {
            watch.indexPuts++;
            if (watch.failing) throw new StorageError(`Storage error on "${key}": injected`, { key });
          }
          return target.put(key, body, opts);
        };
      }
      const value = Reflect.get(target, name) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Backend;
  const db = new RomiDB(backend);
  await db.connect();
  const fileset = await (await db.getScan('s')).getFileset('fs');
  /** The files another connection finds in storage. */
  const stored = async (): Promise<string[]> => {
    const reader = new RomiDB(inner);
    await reader.connect({ readOnly: true });
    try {
      return await (await (await reader.getScan('s')).getFileset('fs')).listFiles();
    } finally {
      await reader.disconnect();
    }
  };
  const indexBytes = async () => Buffer.from((await inner.get(INDEX)).bytes).toString();
  return { db, fileset, watch, stored, indexBytes, inner };
}

describe('createFile without metadata', () => {
  it('is stored with the file’s first write: the seed loop writes files.json once per file', async () => {
    const { db, fileset, watch, stored, inner } = await setup();
    for (let i = 0; i < 10; i++) {
      const file = await fileset.createFile(`f${i}`);
      await file.writeBytes(new Uint8Array([i]), 'bin');
      await file.setMetadata({ i });
    }
    expect(watch.indexPuts).toBe(10);
    expect(await stored()).toEqual(Array.from({ length: 10 }, (_, i) => `f${i}`));
    expect((await inner.get('s/fs/f3.bin')).bytes).toEqual(new Uint8Array([3]));
    await db.disconnect();
    expect(watch.indexPuts).toBe(10);
  });

  it('is stored a moment later when nothing else writes the index, and by disconnect() at once', async () => {
    const { db, fileset, stored } = await setup();
    await fileset.createFile('alone');
    await sleep(50);
    expect(await stored()).toEqual(['alone']);
    await fileset.createFile('last');
    await db.disconnect();
    expect(await stored()).toEqual(['alone', 'last']);
  });

  it('is seen at once by the connection that made it, by check() and after reload()', async () => {
    const { db, fileset } = await setup();
    await fileset.createFile('a');
    expect(await fileset.listFiles()).toEqual(['a']);
    expect((await db.check()).ok).toBe(true);
    await fileset.createFile('b');
    await db.reload();
    expect(await (await (await db.getScan('s')).getFileset('fs')).listFiles()).toEqual(['a', 'b']);
    await db.disconnect();
  });

  it('is written by disconnect() also when made through an object that reload() replaced', async () => {
    const { db, fileset, stored } = await setup();
    await db.reload();
    await fileset.createFile('through_an_old_object');
    await db.disconnect();
    expect(await stored()).toEqual(['through_an_old_object']);
  });

  it('an entry that cannot be stored fails disconnect() with the storage error; the lock is released and storage unchanged', async () => {
    const { db, fileset, watch, stored, indexBytes, inner } = await setup();
    const before = await indexBytes();
    watch.failing = true;
    await fileset.createFile('lost');
    const err = await db.disconnect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRomiError(err, ErrorCodes.STORAGE)).toBe(true);
    expect(await indexBytes()).toBe(before);
    expect(await stored()).toEqual([]);
    const next = new RomiDB(inner);
    await next.connect();
    await next.disconnect();
  });

  it('an entry whose timed write failed goes in with the next index write', async () => {
    const { db, fileset, watch, stored } = await setup();
    watch.failing = true;
    const file = await fileset.createFile('retried');
    await sleep(50);
    expect(watch.indexPuts).toBeGreaterThan(0);
    expect(await stored()).toEqual([]);
    watch.failing = false;
    await file.writeBytes(new Uint8Array([7]), 'bin');
    expect(await stored()).toEqual(['retried']);
    await db.disconnect();
  });
});
