/**
 * Traits: what holds for every operation of the API (the table in trait-operations.ts), on
 * objects of a database that was disconnected (ROMI_NOT_CONNECTED) and of a read-only
 * connection (reads work, writes fail with ROMI_READ_ONLY), storage byte-for-byte unchanged;
 * and cancellation: aborted before it starts, or right after its first write landed, an
 * operation fails with ROMI_ABORTED leaving storage as it was, or completes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, type Backend, type DB } from '@romi/db-core';
import { putText, snapshot } from './context.js';
import type { Harness } from './harness.js';
import { TRAIT_IDS, TRAIT_OPERATIONS, type TraitObjects, type TraitOperation } from './trait-operations.js';

/**
 * Writes the fixture every operation finds (a scan with measures, a fileset, a written file,
 * all with metadata) through the test's database, which stays connected as the writer.
 */
async function writeFixture(h: Harness): Promise<DB> {
  const db = h.db();
  await db.connect();
  const scan = await db.createScan(TRAIT_IDS.scan, { metadata: { plant: 'arabidopsis' } });
  const fileset = await scan.createFileset(TRAIT_IDS.fileset, { metadata: { channel: 'rgb' } });
  const file = await fileset.createFile(TRAIT_IDS.file, { metadata: { n: 1 } });
  await file.writeText('hello', 'txt');
  await putText(h.ctx().backend, `${TRAIT_IDS.scan}/measures.json`, '{"angles": [0.5, 1.0]}');
  return db;
}

/** The objects of the fixture as `db` sees them, its caches filled (reads of a closed database must not be served from them). */
async function objectsOf(db: DB, h: Harness, localFile: string): Promise<TraitObjects> {
  const scan = await db.getScan(TRAIT_IDS.scan);
  const fileset = await scan.getFileset(TRAIT_IDS.fileset);
  const file = await fileset.getFile(TRAIT_IDS.file);
  await Promise.all([db.listScans(), scan.getMetadata(), fileset.getMetadata(), fileset.listFiles(), file.getMetadata()]);
  const source = async (): Promise<DB> => {
    const other = await h.another();
    await other.connect();
    const copied = await other.createScan(TRAIT_IDS.sourceScan, { metadata: { copied: true } });
    await (await (await copied.createFileset('fs')).createFile('f')).writeText('copied', 'txt');
    await other.disconnect();
    return other;
  };
  return { db, scan, fileset, file, localFile, source };
}

export function describeTraits(h: Harness): void {
  describe('traits', () => {
    let localDir: string;
    let localFile: string;
    beforeAll(async () => {
      localDir = await mkdtemp(`${tmpdir()}/romidb-traits-`);
      localFile = `${localDir}/photo.png`;
      await writeFile(localFile, 'imported bytes');
    });
    afterAll(async () => {
      await rm(localDir, { recursive: true, force: true });
    });

    /** Runs `op`, expecting `expected` ('resolved' or an error code), and the storage unchanged. */
    const runsCleanly = async (op: TraitOperation, objects: TraitObjects, expected: string): Promise<void> => {
      const before = await snapshot(h.ctx().backend);
      expect(await h.codeOf(() => op.run(objects))).toBe(expected);
      expect(await snapshot(h.ctx().backend)).toEqual(before);
    };

    describe('disconnected', () => {
      let objects: TraitObjects;
      beforeEach(async () => {
        const db = await writeFixture(h);
        objects = await objectsOf(db, h, localFile);
        await db.disconnect();
      });

      for (const op of TRAIT_OPERATIONS) {
        if (op.connectsItself) {
          it(`${op.name}: connects for the call and disconnects after (${op.connectsItself})`, async () => {
            expect(await h.codeOf(() => op.run(objects))).toBe('resolved');
            expect(objects.db.isConnected).toBe(false);
          });
        } else if (op.kind === 'none') {
          it(`${op.name}: allowed (no storage I/O), storage unchanged`, () => runsCleanly(op, objects, 'resolved'));
        } else {
          it(`${op.name}: ROMI_NOT_CONNECTED, storage unchanged`, () => runsCleanly(op, objects, ErrorCodes.NOT_CONNECTED));
        }
      }
    });

    describe('aborted', () => {
      let objects: TraitObjects;
      beforeEach(async () => {
        objects = await objectsOf(await writeFixture(h), h, localFile);
      });

      for (const op of TRAIT_OPERATIONS.filter((o) => o.kind !== 'none')) {
        it(`${op.name}: aborted before it starts, ROMI_ABORTED, storage unchanged`, async () => {
          const before = await snapshot(h.ctx().backend);
          expect(await h.codeOf(() => op.run(objects, AbortSignal.abort()))).toBe(ErrorCodes.ABORTED);
          expect(await snapshot(h.ctx().backend)).toEqual(before);
        });
        if (op.kind !== 'write' || op.resumable) continue;
        it(`${op.name}: aborted once its first write landed, ROMI_ABORTED with storage unchanged, or complete`, async () => {
          const before = await snapshot(h.ctx().backend);
          const controller = new AbortController();
          const restore = abortAfterFirstWrite(h.ctx().backend, controller);
          let code: string | undefined;
          try {
            code = await h.codeOf(() => op.run(objects, controller.signal));
          } finally {
            restore();
          }
          expect(['resolved', ErrorCodes.ABORTED]).toContain(code);
          if (code === ErrorCodes.ABORTED) expect(await snapshot(h.ctx().backend)).toEqual(before);
        });
      }
    });

    describe('read-only', () => {
      let objects: TraitObjects;
      beforeEach(async () => {
        await (await writeFixture(h)).disconnect();
        const reader = await h.open();
        await reader.connect({ readOnly: true });
        objects = await objectsOf(reader, h, localFile);
      });

      for (const op of TRAIT_OPERATIONS) {
        if (op.kind === 'write') {
          it(`${op.name}: ROMI_READ_ONLY, storage unchanged`, () => runsCleanly(op, objects, ErrorCodes.READ_ONLY));
        } else {
          it(`${op.name}: works, storage unchanged`, () => runsCleanly(op, objects, 'resolved'));
        }
      }
    });
  });
}

/**
 * Makes `backend` abort `controller` once its first put or delete has completed (that write is
 * done: the operation is cut after it); returns what puts the backend back.
 */
function abortAfterFirstWrite(backend: Backend, controller: AbortController): () => void {
  const target = backend as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const originals = { put: target.put!, delete: target.delete! };
  for (const name of ['put', 'delete'] as const) {
    target[name] = async (...args: unknown[]) => {
      const result = await originals[name].apply(backend, args);
      controller.abort(new Error('aborted by the test'));
      return result;
    };
  }
  return () => {
    target.put = originals.put;
    target.delete = originals.delete;
  };
}
