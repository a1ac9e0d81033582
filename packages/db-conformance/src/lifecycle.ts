/** Lifecycle: connect and disconnect, the marker, the writer lock, read-only connections, laziness. */
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, toKey, type DB } from '@romi/db-core';
import { putText, snapshot, type ConformanceContext } from './context.js';
import type { Harness } from './harness.js';

export function describeLifecycle(h: Harness): void {
  const { open, failsCleanly, codeOf, fullScan } = h;
  let ctx: ConformanceContext;
  let db: DB;

  describe('lifecycle', () => {
    beforeEach(() => {
      ({ ctx, db } = h.current());
    });

    it('connects, reports its state, disconnects idempotently', async () => {
      expect(db.isConnected).toBe(false);
      await db.connect();
      expect(db.isConnected).toBe(true);
      expect(db.readOnly).toBe(false);
      expect(typeof db.url).toBe('string');
      await db.connect(); // connecting again in the same mode is a no-op
      await db.disconnect();
      expect(db.isConnected).toBe(false);
      await db.disconnect();
    });

    it('refuses every operation before connect with ROMI_NOT_CONNECTED', async () => {
      expect(await codeOf(db.listScans())).toBe(ErrorCodes.NOT_CONNECTED);
      expect(await codeOf(db.getScan('x'))).toBe(ErrorCodes.NOT_CONNECTED);
      await failsCleanly(ErrorCodes.NOT_CONNECTED, () => db.createScan('x'));
    });

    it('refuses operations through objects of a disconnected database', async () => {
      await db.connect();
      const { scan, fileset } = await fullScan();
      await db.disconnect();
      expect(await codeOf(scan.getMetadata())).toBe(ErrorCodes.NOT_CONNECTED);
      await failsCleanly(ErrorCodes.NOT_CONNECTED, () => fileset.createFile('f'));
    });

    it('throws ROMI_NOT_A_DATABASE without the marker, writing nothing', async () => {
      await ctx.backend.delete(toKey('romidb'));
      const before = await snapshot(ctx.backend);
      expect(await codeOf(db.connect())).toBe(ErrorCodes.NOT_A_DATABASE);
      expect(await codeOf(db.connect({ readOnly: true }))).toBe(ErrorCodes.NOT_A_DATABASE);
      expect(db.isConnected).toBe(false);
      expect(await snapshot(ctx.backend)).toEqual(before);
    });

    it('lets one writer in: a second writer gets ROMI_DB_BUSY until the first disconnects', async () => {
      await db.connect();
      const second = await open();
      expect(await codeOf(second.connect())).toBe(ErrorCodes.DB_BUSY);
      expect(second.isConnected).toBe(false);
      await db.disconnect();
      await second.connect();
      expect(second.isConnected).toBe(true);
    });

    it('waits for the lock with waitMs', async () => {
      await db.connect();
      const second = await open();
      const started = Date.now();
      const waiting = second.connect({ waitMs: 5_000 });
      setTimeout(() => void db.disconnect(), 300);
      await waiting;
      expect(second.isConnected).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    });

    it('allows read-only connections beside a writer, and refuses their writes with ROMI_READ_ONLY', async () => {
      await db.connect();
      const { scan, fileset } = await fullScan();
      const file = await fileset.createFile('f');
      await file.writeText('hello', 'txt');
      const reader = await open();
      await reader.connect({ readOnly: true });
      expect(reader.readOnly).toBe(true);
      const rScan = await reader.getScan(scan.id);
      const rFileset = await rScan.getFileset(fileset.id);
      const rFile = await rFileset.getFile('f');
      expect(await rFile.readText()).toBe('hello');
      await failsCleanly(ErrorCodes.READ_ONLY, () => reader.createScan('other'));
      await failsCleanly(ErrorCodes.READ_ONLY, () => reader.deleteScan(scan.id));
      await failsCleanly(ErrorCodes.READ_ONLY, () => rScan.setMetadata({ a: 1 }));
      await failsCleanly(ErrorCodes.READ_ONLY, () => rScan.setMetadata('a', 1));
      await failsCleanly(ErrorCodes.READ_ONLY, () => rScan.createFileset('other'));
      await failsCleanly(ErrorCodes.READ_ONLY, () => rScan.deleteFileset(fileset.id));
      await failsCleanly(ErrorCodes.READ_ONLY, () => rFileset.setMetadata({ a: 1 }));
      await failsCleanly(ErrorCodes.READ_ONLY, () => rFileset.createFile('g'));
      await failsCleanly(ErrorCodes.READ_ONLY, () => rFileset.createFiles([{ id: 'g', data: 'x', ext: 'txt' }]));
      await failsCleanly(ErrorCodes.READ_ONLY, () => rFileset.deleteFile('f'));
      await failsCleanly(ErrorCodes.READ_ONLY, () => rFile.setMetadata('a', 1));
      await failsCleanly(ErrorCodes.READ_ONLY, () => rFile.writeBytes(new Uint8Array([1]), 'bin'));
      await failsCleanly(ErrorCodes.READ_ONLY, () => rFile.writeText('x', 'txt'));
      await failsCleanly(ErrorCodes.READ_ONLY, () => reader.check({ fix: true }));
    });

    it('read-only connections see a writer\'s awaited changes after reload()', async () => {
      await db.connect();
      const reader = await open();
      await reader.connect({ readOnly: true });
      expect(await reader.listScans()).toEqual([]);
      const scan = await db.createScan('s1', { metadata: { v: 1 } });
      await reader.reload();
      expect(await reader.listScans()).toEqual(['s1']);
      const rScan = await reader.getScan('s1');
      expect(await rScan.getMetadata('v')).toBe(1);
      await scan.setMetadata('v', 2);
      await scan.createFileset('fs');
      await reader.reload('s1');
      const again = await reader.getScan('s1');
      expect(await again.getMetadata('v')).toBe(2);
      expect(await again.listFilesets()).toEqual(['fs']);
    });

    it('disconnects on `await using`', async () => {
      {
        await using scoped = await open();
        await scoped.connect();
        expect(scoped.isConnected).toBe(true);
        const again = await open();
        expect(await codeOf(again.connect())).toBe(ErrorCodes.DB_BUSY);
      }
      await db.connect();
      expect(db.isConnected).toBe(true);
    });

    it('reads nothing of the scans on connect (lazy)', async () => {
      await db.connect();
      await db.createScan('s1');
      await putText(ctx.backend, 's1/metadata/metadata.json', '{ not json');
      await putText(ctx.backend, 's1/files.json', '{ not json');
      await db.disconnect();
      const other = await open();
      await other.connect();
      expect(await other.listScans()).toEqual(['s1']);
      const scan = await other.getScan('s1');
      expect(await codeOf(scan.getMetadata())).toBe(ErrorCodes.CORRUPT);
      expect(await codeOf(scan.listFilesets())).toBe(ErrorCodes.CORRUPT);
    });
  });
}
