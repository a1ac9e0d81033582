/** Scans: create, list, get, delete; what counts as a scan; files romidb does not manage. */
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, toKey, type DB } from '@romi/db-core';
import { listKeys, putText, text, type ConformanceContext } from './context.js';
import type { Harness } from './harness.js';

export function describeScans(h: Harness): void {
  const { open, failsCleanly, codeOf, golden } = h;
  let ctx: ConformanceContext;
  let db: DB;

  describe('scans', () => {
    beforeEach(async () => {
      ({ ctx, db } = await h.connected());
    });

    it('creates, gets, lists (sorted), checks and deletes scans', async () => {
      expect(await db.listScans()).toEqual([]);
      const b = await db.createScan('scan_b');
      expect(b.id).toBe('scan_b');
      expect(b.db).toBe(db);
      await db.createScan('scan_a', { metadata: { plant: 'arabidopsis' } });
      await db.createScan('scan_c.v2-1');
      expect(await db.listScans()).toEqual(['scan_a', 'scan_b', 'scan_c.v2-1']);
      expect((await db.getScans()).map((s) => s.id)).toEqual(['scan_a', 'scan_b', 'scan_c.v2-1']);
      expect(await db.hasScan('scan_a')).toBe(true);
      expect(await db.hasScan('nope')).toBe(false);
      expect((await db.getScan('scan_a')).id).toBe('scan_a');
      expect(await (await db.getScan('scan_a')).getMetadata()).toEqual({ plant: 'arabidopsis' });
      await db.deleteScan('scan_b');
      expect(await db.listScans()).toEqual(['scan_a', 'scan_c.v2-1']);
      expect(await db.hasScan('scan_b')).toBe(false);
      expect(await listKeys(ctx.backend, 'scan_b/')).toEqual([]);
    });

    it('persists scans for a new DB object on the same storage', async () => {
      await db.createScan('s1', { metadata: { a: [1, 2] } });
      await db.disconnect();
      const other = await open();
      await other.connect();
      expect(await other.listScans()).toEqual(['s1']);
      expect(await (await other.getScan('s1')).getMetadata()).toEqual({ a: [1, 2] });
    });

    it('a database of 100 scans keeps a record of them; scans others add or remove are still seen', async () => {
      const ids = Array.from({ length: 100 }, (_, i) => `scan_${String(i).padStart(3, '0')}`);
      for (const id of ids) await db.createScan(id);
      await db.disconnect();
      expect(await text(ctx.backend, '.romidb-scans.json')).toBe(`${JSON.stringify({ scans: ids })}\n`);
      // Another tool: a scan made by hand, one removed whole.
      await putText(ctx.backend, 'by_hand/files.json', '{"filesets": []}');
      await ctx.backend.delete(toKey('scan_007/'));
      const expected = [...ids.filter((id) => id !== 'scan_007'), 'by_hand'].sort();
      const reader = await open();
      await reader.connect({ readOnly: true });
      expect(await reader.listScans()).toEqual(expected);
      await reader.disconnect();
    });

    it('an empty scan is written as files.json plus metadata/metadata.json', async () => {
      await db.createScan('s1');
      expect(await text(ctx.backend, 's1/files.json')).toBe(golden('empty-files.json'));
      expect(await text(ctx.backend, 's1/metadata/metadata.json')).toBe('{}');
    });

    it('fails with ROMI_NOT_FOUND and ROMI_ALREADY_EXISTS, changing nothing', async () => {
      await db.createScan('s1');
      await failsCleanly(ErrorCodes.NOT_FOUND, () => db.getScan('s2'));
      await failsCleanly(ErrorCodes.NOT_FOUND, () => db.deleteScan('s2'));
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => db.createScan('s1'));
      await failsCleanly(ErrorCodes.ALREADY_EXISTS, () => db.createScan('s1', { metadata: { x: 1 } }));
    });

    it('treats folders with files.json or metadata/ as scans, and nothing else', async () => {
      await putText(ctx.backend, 'with_index/files.json', '{"filesets": []}');
      await putText(ctx.backend, 'with_metadata/metadata/metadata.json', '{"a": 1}');
      await putText(ctx.backend, 'not_a_scan/readme.txt', 'hello');
      await putText(ctx.backend, '.hidden/files.json', '{"filesets": []}');
      await putText(ctx.backend, 'loose_file.txt', 'x');
      await db.reload();
      expect(await db.listScans()).toEqual(['with_index', 'with_metadata']);
      expect(await (await db.getScan('with_metadata')).listFilesets()).toEqual([]);
      expect(await db.hasScan('not_a_scan')).toBe(false);
    });

    it('lists and reads scans whose ids we would not create', async () => {
      await putText(ctx.backend, 'old scan é/files.json', '{"filesets": []}');
      await putText(ctx.backend, 'old scan é/metadata/metadata.json', '{"x": 1}');
      await db.reload();
      expect(await db.listScans()).toEqual(['old scan é']);
      expect(await (await db.getScan('old scan é')).getMetadata('x')).toBe(1);
      await failsCleanly(ErrorCodes.INVALID_ID, () => db.createScan('new scan é'));
    });

    it('keeps files it does not manage in a scan folder', async () => {
      const scan = await db.createScan('s1');
      await putText(ctx.backend, 's1/scan.toml', '[scan]\nx = 1\n');
      await putText(ctx.backend, 's1/measures.json', '{"angles": [1.0, 2.5]}');
      await putText(ctx.backend, 's1/webcache/abc.jpeg', 'jpeg');
      await scan.setMetadata('a', 1);
      const fs = await scan.createFileset('fs');
      await (await fs.createFile('f')).writeText('x', 'txt');
      await scan.deleteFileset('fs');
      expect(await text(ctx.backend, 's1/scan.toml')).toBe('[scan]\nx = 1\n');
      expect(await text(ctx.backend, 's1/measures.json')).toBe('{"angles": [1.0, 2.5]}');
      expect(await text(ctx.backend, 's1/webcache/abc.jpeg')).toBe('jpeg');
    });

    it('reads measures.json, {} when absent', async () => {
      const scan = await db.createScan('s1');
      expect(await scan.getMeasures()).toEqual({});
      await putText(ctx.backend, 's1/measures.json', '{"angles": [0.5, 1.0], "internodes": [10, 12.5]}');
      expect(await scan.getMeasures()).toEqual({ angles: [0.5, 1], internodes: [10, 12.5] });
      await putText(ctx.backend, 's1/measures.json', '[1, 2]');
      expect(await codeOf(scan.getMeasures())).toBe(ErrorCodes.CORRUPT);
    });
  });
}
