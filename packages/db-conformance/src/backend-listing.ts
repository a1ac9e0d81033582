/**
 * Listings: recursive and one level (delimiter '/'), name prefixes, folder markers, romidb's own
 * entries, paging. Order is unspecified: every listing is sorted before it is compared. Folders
 * made implicitly (by writing below them) may or may not be listed, so only the markers put on
 * purpose are asserted.
 */
import { describe, expect } from 'vitest';
import type { Backend } from '@romi/db-core';
import { bytes, fileKeys, k, listing, type BackendHarness } from './backend-harness.js';

const FILES = ['scan/files.json', 'scan/fs/x.txt', 'scan/metadata/fs/x.json', 'scan/metadata/metadata.json', 'scan2/other.txt', 'top.txt'];
const MARKERS = ['scan/fs/', 'scan/empty/'];

async function tree(b: Backend): Promise<void> {
  for (const key of [...FILES, ...MARKERS]) await b.put(k(key), key.endsWith('/') ? new Uint8Array() : bytes(key));
}

const folderEntries = (lines: string[]): string[] => lines.filter((l) => l.endsWith('/')).map((l) => l.slice(2));

export function describeListing(h: BackendHarness): void {
  describe('listing', () => {
    h.it('recursively: every object under the prefix, folder markers as zero-size entries ending in "/"', async () => {
      const b = h.backend();
      await tree(b);
      expect(await fileKeys(b, '')).toEqual(FILES);
      expect(await fileKeys(b, 'scan/')).toEqual(FILES.filter((f) => f.startsWith('scan/')));
      const lines = await listing(b, 'scan/');
      expect(new Set(lines).size).toBe(lines.length);
      expect(lines.every((l) => l.startsWith('O scan/') && l !== 'O scan/')).toBe(true);
      expect(folderEntries(lines)).toEqual(expect.arrayContaining(MARKERS));
      for await (const e of b.list(k('scan/'))) if (e.kind === 'object' && e.key.endsWith('/')) expect(e.size).toBe(0);
    });

    h.it("one level with delimiter '/': objects directly under the prefix, sub-folders as prefix entries", async () => {
      const b = h.backend();
      await tree(b);
      expect(await listing(b, '', { delimiter: '/' })).toEqual(['O top.txt', 'P scan/', 'P scan2/']);
      expect(await listing(b, 'scan/', { delimiter: '/' })).toEqual(['O scan/files.json', 'P scan/empty/', 'P scan/fs/', 'P scan/metadata/']);
      expect(await listing(b, 'scan/fs/', { delimiter: '/' })).toEqual(['O scan/fs/x.txt']);
      expect(await listing(b, 'scan/empty/', { delimiter: '/' })).toEqual([]);
    });

    h.it('a prefix that does not end in "/" matches names, never a sibling folder by accident', async () => {
      const b = h.backend();
      await tree(b);
      expect(await fileKeys(b, 'scan/f')).toEqual(['scan/files.json', 'scan/fs/x.txt']);
      expect(folderEntries(await listing(b, 'scan/f'))).toContain('scan/fs/');
      expect(await listing(b, 'scan/f', { delimiter: '/' })).toEqual(['O scan/files.json', 'P scan/fs/']);
      expect(await listing(b, 'sca', { delimiter: '/' })).toEqual(['P scan/', 'P scan2/']);
      expect(await listing(b, 'scan/files.json')).toEqual(['O scan/files.json']);
      expect(await fileKeys(b, 'scan2')).toEqual(['scan2/other.txt']);
    });

    h.it('a missing prefix, or one below a file, lists nothing', async () => {
      const b = h.backend();
      await tree(b);
      for (const prefix of ['nothing/', 'nothing', 'top.txt/', 'scan/fs/x.txt/']) {
        expect(await listing(b, prefix), prefix).toEqual([]);
        expect(await listing(b, prefix, { delimiter: '/' }), prefix).toEqual([]);
      }
    });

    h.it('entries carry the size and etag that head reports', async () => {
      const b = h.backend();
      await tree(b);
      for await (const e of b.list('')) {
        if (e.kind !== 'object' || e.key.endsWith('/')) continue;
        expect(await b.head(k(e.key))).toMatchObject({ size: e.size, etag: e.etag });
      }
    });

    h.it('romidb\'s own entries (".romidb-…") are listed only with internal: true', async () => {
      const b = h.backend();
      await tree(b);
      for (const key of ['.romidb-x.json', 'scan/.romidb-y.json', '.romidb-trash/z']) await b.put(k(key), bytes('ours'));
      expect(await fileKeys(b, '')).toEqual(FILES);
      expect(await listing(b, '', { delimiter: '/' })).toEqual(['O top.txt', 'P scan/', 'P scan2/']);
      expect(await listing(b, 'scan/', { delimiter: '/' })).not.toContain('O scan/.romidb-y.json');
      const all = await listing(b, '', { internal: true });
      expect(all).toEqual(expect.arrayContaining(['O .romidb-x.json', 'O scan/.romidb-y.json']));
      // A folder of romidb's own may be listed as one entry rather than entered.
      expect(all.some((l) => l.startsWith('O .romidb-trash/'))).toBe(true);
      expect(await listing(b, '', { delimiter: '/', internal: true })).toEqual(expect.arrayContaining(['O .romidb-x.json', 'P .romidb-trash/']));
    });

    h.it('pages past 1,000 entries, recursively and one level; a folder delete removes them all', async ({ skip }) => {
      skip(h.options.skipPaging !== undefined, h.options.skipPaging);
      const b = h.backend();
      const count = 1_100;
      const keys = Array.from({ length: count }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
      for (let i = 0; i < count; i += 50) await Promise.all(keys.slice(i, i + 50).map((key) => b.put(k(key), bytes('x'))));
      const recursive = await fileKeys(b, 'many/');
      expect(recursive).toEqual(keys);
      expect((await listing(b, 'many/', { delimiter: '/' })).filter((l) => l.startsWith('O '))).toHaveLength(count);
      await b.delete(k('many/'));
      expect(await listing(b, 'many/')).toEqual([]);
    });
  });
}
