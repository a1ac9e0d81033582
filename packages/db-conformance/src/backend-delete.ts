/** Deleting: idempotent; a folder key deletes the folder and all below it, and nothing else. */
import { describe, expect } from 'vitest';
import { ErrorCodes } from '@romi/db-core';
import { bytes, failsWith, fileKeys, k, listing, storageState, type BackendHarness } from './backend-harness.js';

export function describeDelete(h: BackendHarness): void {
  describe('delete', () => {
    h.it('removes an object; deleting a missing key, twice, or a missing folder succeeds', async () => {
      const b = h.backend();
      await b.put(k('a/x.txt'), bytes('x'));
      await b.put(k('a/y.txt'), bytes('y'));
      await b.delete(k('a/x.txt'));
      expect(await b.head(k('a/x.txt'))).toBeUndefined();
      await failsWith(ErrorCodes.NOT_FOUND, b.get(k('a/x.txt')));
      expect(await fileKeys(b)).toEqual(['a/y.txt']);
      await b.delete(k('a/x.txt'));
      await b.delete(k('never/was.txt'));
      await b.delete(k('never/'));
      expect(await fileKeys(b)).toEqual(['a/y.txt']);
    });

    h.it('a folder key removes the folder and everything under it; siblings sharing its name prefix stay', async () => {
      const b = h.backend();
      for (const key of ['f/', 'f/sub/deep/']) await b.put(k(key), new Uint8Array());
      for (const key of ['f/a.txt', 'f/sub/b.txt', 'f/sub/deep/c.txt', 'fx/a.txt', 'f.txt', 'g.txt']) await b.put(k(key), bytes(key));
      const before = await storageState(b);
      await b.delete(k('f/'));
      expect(await b.head(k('f/'))).toBeUndefined();
      expect(await listing(b, 'f/', { internal: true })).toEqual([]);
      expect(await fileKeys(b)).toEqual(['f.txt', 'fx/a.txt', 'g.txt']);
      // Nothing is left behind either (no trash of romidb's own), and nothing else changed.
      expect(await storageState(b)).toEqual(before.filter((l) => !l.includes(' f/')));
      await b.delete(k('f/'));
    });

    h.it('a file key never deletes a folder, and a folder key never deletes a file', async () => {
      const b = h.backend();
      await b.put(k('dir/x.txt'), bytes('x'));
      await b.put(k('file.txt'), bytes('f'));
      await b.delete(k('dir'));
      await b.delete(k('file.txt/'));
      expect(await fileKeys(b)).toEqual(['dir/x.txt', 'file.txt']);
    });
  });
}
