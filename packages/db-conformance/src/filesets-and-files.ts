/** Filesets and files: their life cycle, files.json as Python writes it, typed errors at each level. */
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, toKey, type DB } from '@romi/db-core';
import { listKeys, text, type ConformanceContext } from './context.js';
import type { Harness } from './harness.js';

export function describeFilesetsAndFiles(h: Harness): void {
  const { failsCleanly, codeOf, fullScan, golden } = h;
  let ctx: ConformanceContext;
  let db: DB;

  describe('filesets and files', () => {
    beforeEach(async () => {
      ({ ctx, db } = await h.connected());
    });

    it('creates, gets, lists (in creation order) and deletes filesets', async () => {
      const scan = await db.createScan('s1');
      for (const id of ['zeta', 'alpha', 'mid_1']) await scan.createFileset(id);
      expect(await scan.listFilesets()).toEqual(['zeta', 'alpha', 'mid_1']);
      expect((await scan.getFilesets()).map((f) => f.id)).toEqual(['zeta', 'alpha', 'mid_1']);
      const fs = await scan.getFileset('alpha');
      expect(fs.id).toBe('alpha');
      expect(fs.scan.id).toBe('s1');
      expect(fs.db).toBe(db);
      expect(await scan.hasFileset('alpha')).toBe(true);
      expect(await scan.hasFileset('beta')).toBe(false);
      await scan.deleteFileset('zeta');
      expect(await scan.listFilesets()).toEqual(['alpha', 'mid_1']);
    });

    it('creates, gets, lists (in creation order) and deletes files', async () => {
      const { fileset } = await fullScan();
      for (const id of ['z', 'a', 'm']) await fileset.createFile(id);
      expect(await fileset.listFiles()).toEqual(['z', 'a', 'm']);
      const f = await fileset.getFile('a');
      expect(f.id).toBe('a');
      expect(f.fileset.id).toBe('fileset_001');
      expect(f.scan.id).toBe('myscan_001');
      expect(f.db).toBe(db);
      expect(f.filename).toBeNull();
      expect(await fileset.hasFile('a')).toBe(true);
      expect(await fileset.hasFile('b')).toBe(false);
      await fileset.deleteFile('z');
      expect(await fileset.listFiles()).toEqual(['a', 'm']);
      expect((await fileset.getFiles()).map((x) => x.id)).toEqual(['a', 'm']);
    });

    it('writes files.json exactly as Python does', async () => {
      const scan = await db.createScan('testscan');
      const fs = await scan.createFileset('testfileset');
      await (await fs.createFile('text')).writeText('hello', 'txt');
      await (await fs.createFile('image')).writeBytes(new Uint8Array([137, 80, 78, 71]), '.png');
      expect(await text(ctx.backend, 'testscan/files.json')).toBe(golden('testscan-files.json'));
      expect(await text(ctx.backend, 'testscan/testfileset/text.txt')).toBe('hello');

      const other = await db.createScan('other');
      await (await other.createFileset('fs_b')).createFile('x');
      await other.createFileset('fs_a');
      expect(await text(ctx.backend, 'other/files.json')).toBe(golden('unwritten-files.json'));
    });

    it('deletes a fileset with its files and metadata, and a file with its data and metadata', async () => {
      const { scan, fileset } = await fullScan();
      const f = await fileset.createFile('f', { metadata: { m: 1 } });
      await f.writeText('data', 'txt');
      await (await fileset.createFile('g', { metadata: { m: 2 } })).writeText('more', 'txt');
      await fileset.deleteFile('f');
      expect(await listKeys(ctx.backend, 'myscan_001/')).toEqual([
        'myscan_001/files.json',
        'myscan_001/fileset_001/g.txt',
        'myscan_001/metadata/fileset_001.json',
        'myscan_001/metadata/fileset_001/g.json',
        'myscan_001/metadata/metadata.json',
      ]);
      await scan.deleteFileset('fileset_001');
      expect(await listKeys(ctx.backend, 'myscan_001/')).toEqual(['myscan_001/files.json', 'myscan_001/metadata/metadata.json']);
    });

    it('fails with typed errors at each level, changing nothing', async () => {
      const { scan, fileset } = await fullScan();
      await fileset.createFile('f');
      await failsCleanly(ErrorCodes.NOT_FOUND, () => scan.getFileset('nope'));
      await failsCleanly(ErrorCodes.NOT_FOUND, () => scan.deleteFileset('nope'));
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => scan.createFileset('fileset_001'));
      await failsCleanly(ErrorCodes.NOT_FOUND, () => fileset.getFile('nope'));
      await failsCleanly(ErrorCodes.NOT_FOUND, () => fileset.deleteFile('nope'));
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => fileset.createFile('f'));
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => fileset.createFile('f', { metadata: { a: 1 } }));
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => fileset.createFiles([{ id: 'new', data: 'x', ext: 'txt' }, { id: 'f', data: 'y', ext: 'txt' }]));
      await failsCleanly(ErrorCodes.INVALID_ARGUMENT, () => fileset.createFiles([{ id: 'n', data: 'x', ext: 'txt' }, { id: 'n', data: 'y', ext: 'txt' }]));
      const f = await fileset.getFile('f');
      await failsCleanly(ErrorCodes.NOT_FOUND, () => f.readBytes());
      await failsCleanly(ErrorCodes.NOT_FOUND, () => f.readText());
      await failsCleanly(ErrorCodes.INVALID_ARGUMENT, () => f.writeText('x', '../../evil'));
      await failsCleanly(ErrorCodes.INVALID_ARGUMENT, () => f.writeText('x', 'a/b'));
      await failsCleanly(ErrorCodes.INVALID_ARGUMENT, () => f.importFile('/this/path/does/not/exist.png'));
      // Objects that were deleted stop working.
      await fileset.deleteFile('f');
      await failsCleanly(ErrorCodes.NOT_FOUND, () => f.writeText('x', 'txt'));
      await scan.deleteFileset('fileset_001');
      await failsCleanly(ErrorCodes.NOT_FOUND, () => fileset.createFile('g'));
      await failsCleanly(ErrorCodes.NOT_FOUND, () => fileset.listFiles());
    });

    it('reading a file listed in files.json but missing from storage is ROMI_NOT_FOUND', async () => {
      const { fileset } = await fullScan();
      const f = await fileset.createFile('f');
      await f.writeText('x', 'txt');
      await ctx.backend.delete(toKey('myscan_001/fileset_001/f.txt'));
      expect(await codeOf(f.readBytes())).toBe(ErrorCodes.NOT_FOUND);
      const chunks = f.readStream().getReader();
      expect(await codeOf(chunks.read())).toBe(ErrorCodes.NOT_FOUND);
    });
  });
}
