/** Concurrency within one DB object: parallel calls lose nothing, one creator wins. */
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, type DB } from '@romi/db-core';
import { code, type Harness } from './harness.js';

export function describeConcurrency(h: Harness): void {
  const { fullScan } = h;
  let db: DB;

  describe('concurrency', () => {
    beforeEach(async () => {
      ({ db } = await h.connected());
    });

    it('parallel createScan of one id: exactly one wins', async () => {
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => db.createScan('race', { metadata: { n: 1 } })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(code(r.reason)).toBe(ErrorCodes.ALREADY_EXISTS);
      expect(await db.listScans()).toEqual(['race']);
    });

    it('parallel setMetadata of different keys through one DB object: none lost', async () => {
      const { scan, fileset } = await fullScan();
      const file = await fileset.createFile('f');
      await Promise.all(
        [scan, fileset, file].flatMap((holder) => Array.from({ length: 25 }, (_, i) => holder.setMetadata(`k${i}`, i))),
      );
      for (const holder of [scan, fileset, file]) {
        const md = await holder.getMetadata();
        for (let i = 0; i < 25; i++) expect(md[`k${i}`]).toBe(i);
      }
      await db.reload();
      const md = await (await db.getScan('myscan_001')).getMetadata();
      expect(Object.keys(md)).toHaveLength(26);
    });

    it('parallel createFile and createFileset calls lose no index entry', async () => {
      const { scan, fileset } = await fullScan();
      await Promise.all([
        ...Array.from({ length: 30 }, (_, i) => fileset.createFile(`f${i}`)),
        ...Array.from({ length: 10 }, (_, i) => scan.createFileset(`fs${i}`)),
      ]);
      await db.reload();
      const s = await db.getScan('myscan_001');
      expect((await s.listFilesets()).length).toBe(11);
      expect((await (await s.getFileset('fileset_001')).listFiles()).length).toBe(30);
    });
  });
}
