/** Ids: what is refused before any I/O, what is accepted, and that no lookup leaves the root. */
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, type DB } from '@romi/db-core';
import { putText, text, type ConformanceContext } from './context.js';
import type { Harness } from './harness.js';

const INVALID_IDS: Array<[string, unknown]> = [
  ['".."', '..'],
  ['"."', '.'],
  ['a path "a/b"', 'a/b'],
  ['a backslash', 'a\\b'],
  ['the empty string', ''],
  ['256 characters', 'x'.repeat(256)],
  ['a leading dot', '.hidden'],
  ['a space', 'a b'],
  ['non-ASCII', 'été'],
  ['a NUL', 'a\0b'],
  ['a number', 42],
];

export function describeIds(h: Harness): void {
  const { failsCleanly, codeOf, fullScan } = h;
  let ctx: ConformanceContext;
  let db: DB;

  describe('ids', () => {
    beforeEach(async () => {
      ({ ctx, db } = await h.connected());
    });

    for (const [label, id] of INVALID_IDS) {
      it(`refuses ${label} as an id at every level with ROMI_INVALID_ID`, async () => {
        const { scan, fileset } = await fullScan();
        await failsCleanly(ErrorCodes.INVALID_ID, () => db.createScan(id as string));
        await failsCleanly(ErrorCodes.INVALID_ID, () => scan.createFileset(id as string));
        await failsCleanly(ErrorCodes.INVALID_ID, () => fileset.createFile(id as string));
        await failsCleanly(ErrorCodes.INVALID_ID, () => fileset.createFiles([{ id: id as string, data: 'x', ext: 'txt' }]));
      });
    }

    it('refuses reserved names', async () => {
      const { scan } = await fullScan();
      for (const id of ['romidb', 'lock']) await failsCleanly(ErrorCodes.INVALID_ID, () => db.createScan(id));
      for (const id of ['metadata', 'files.json', 'measures.json', 'webcache']) await failsCleanly(ErrorCodes.INVALID_ID, () => scan.createFileset(id));
    });

    it('accepts 255 characters, dots, dashes and underscores', async () => {
      const long = 'a'.repeat(255);
      const scan = await db.createScan(long);
      const fs = await scan.createFileset('A-b_c.1');
      await (await fs.createFile('x.y-z_0')).writeText('ok', 'txt');
      expect(await db.listScans()).toEqual([long]);
    });

    it('refuses lookups that would leave the database root', async () => {
      const { scan, fileset } = await fullScan();
      for (const id of ['..', '.', 'a/b', '../x', '']) {
        await failsCleanly(ErrorCodes.INVALID_ID, () => db.getScan(id));
        await failsCleanly(ErrorCodes.INVALID_ID, () => db.deleteScan(id));
        await failsCleanly(ErrorCodes.INVALID_ID, () => scan.getFileset(id));
        await failsCleanly(ErrorCodes.INVALID_ID, () => scan.deleteFileset(id));
        await failsCleanly(ErrorCodes.INVALID_ID, () => fileset.getFile(id));
        await failsCleanly(ErrorCodes.INVALID_ID, () => fileset.deleteFile(id));
      }
    });

    it('never follows a file name from files.json out of the root', async () => {
      const scan = await db.createScan('s1');
      await putText(ctx.backend, 'secret.txt', 'secret');
      await putText(ctx.backend, 's1/files.json', JSON.stringify({ filesets: [{ files: [{ file: '../../secret.txt', id: 'evil' }, { file: '../secret.txt', id: 'evil2' }], id: 'fs' }] }));
      await db.reload();
      const fs = await (await db.getScan('s1')).getFileset('fs');
      for (const id of ['evil', 'evil2']) {
        const f = await fs.getFile(id);
        const c = await codeOf(f.readBytes());
        expect([ErrorCodes.INVALID_KEY, ErrorCodes.CORRUPT]).toContain(c);
      }
      expect(await text(ctx.backend, 'secret.txt')).toBe('secret');
      expect(scan.id).toBe('s1');
    });
  });
}
