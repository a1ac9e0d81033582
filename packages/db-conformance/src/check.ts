/** check(): what it reports, that it changes nothing, and what fix repairs. */
import { beforeEach, describe, expect, it } from 'vitest';
import { toKey, type DB, type Fileset } from '@romi/db-core';
import { listKeys, putText, snapshot, type ConformanceContext } from './context.js';
import type { Harness } from './harness.js';

export function describeCheck(h: Harness): void {
  const { fullScan } = h;
  let ctx: ConformanceContext;
  let db: DB;

  describe('check()', () => {
    let fileset: Fileset;
    beforeEach(async () => {
      ({ ctx, db } = await h.connected());
      ({ fileset } = await fullScan());
      await (await fileset.createFile('a', { metadata: { m: 1 } })).writeText('a', 'txt');
      await (await fileset.createFile('b')).writeText('b', 'txt');
    });

    it('reports a healthy database as ok', async () => {
      const report = await db.check();
      expect(report).toEqual({ ok: true, problems: [] });
    });

    it('finds missing-file, unlisted-file, unlisted-fileset, corrupt-json and orphan-metadata', async () => {
      await ctx.backend.delete(toKey('myscan_001/fileset_001/a.txt'));
      await putText(ctx.backend, 'myscan_001/fileset_001/c.txt', 'c');
      await putText(ctx.backend, 'myscan_001/extra_fs/x.bin', 'x');
      await putText(ctx.backend, 'myscan_001/metadata/fileset_001/ghost.json', '{}');
      await putText(ctx.backend, 'myscan_001/metadata/fileset_001/b.json', '{broken');
      const before = await snapshot(ctx.backend);
      const report = await db.check();
      expect(await snapshot(ctx.backend)).toEqual(before);
      expect(report.ok).toBe(false);
      const kinds = report.problems.map((p) => `${p.kind}:${p.key}`).sort();
      expect(kinds).toEqual([
        'corrupt-json:myscan_001/metadata/fileset_001/b.json',
        'missing-file:myscan_001/fileset_001/a.txt',
        'orphan-metadata:myscan_001/metadata/fileset_001/ghost.json',
        'unlisted-file:myscan_001/extra_fs/x.bin',
        'unlisted-file:myscan_001/fileset_001/c.txt',
        'unlisted-fileset:myscan_001/extra_fs/',
      ]);
    });

    it('reports an unreadable files.json as corrupt-json', async () => {
      await putText(ctx.backend, 'myscan_001/files.json', '{"filesets": 3}');
      const report = await db.check();
      expect(report.problems.map((p) => p.kind)).toEqual(['corrupt-json']);
    });

    it('fix re-indexes unlisted files and drops entries whose data is gone, deleting no data', async () => {
      await ctx.backend.delete(toKey('myscan_001/fileset_001/a.txt'));
      await putText(ctx.backend, 'myscan_001/fileset_001/c.txt', 'c');
      await putText(ctx.backend, 'myscan_001/extra_fs/x.bin', 'x');
      const keysBefore = await listKeys(ctx.backend);
      const report = await db.check({ fix: true });
      // Everything is repaired but the metadata of "a", whose entry was dropped: fix keeps it.
      expect(report.ok).toBe(false);
      expect(report.problems.filter((p) => !p.fixed)).toEqual([expect.objectContaining({ kind: 'orphan-metadata', file: 'a' })]);
      const keysAfter = await listKeys(ctx.backend);
      for (const key of keysBefore) expect(keysAfter).toContain(key);
      expect(keysAfter.filter((k) => /myscan_001\/files_.*\.json$/.test(k))).toHaveLength(1);
      const scan = await db.getScan('myscan_001');
      expect(await scan.listFilesets()).toEqual(['fileset_001', 'extra_fs']);
      const fs = await scan.getFileset('fileset_001');
      expect(await fs.listFiles()).toEqual(['b', 'c']);
      expect(await (await fs.getFile('c')).readText()).toBe('c');
      expect(await (await (await scan.getFileset('extra_fs')).getFile('x')).readText()).toBe('x');
      expect(await db.check()).toEqual({ ok: false, problems: [expect.objectContaining({ kind: 'orphan-metadata', file: 'a' })] });
    });
  });
}
