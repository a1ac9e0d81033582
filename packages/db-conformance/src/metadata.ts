/** Metadata: shallow merges persisted before resolving, copies, Python-exact JSON, refused values. */
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, type DB, type Fileset, type Scan } from '@romi/db-core';
import { listKeys, putText, text, type ConformanceContext } from './context.js';
import type { Harness } from './harness.js';

const BAD_METADATA: Array<[string, () => unknown]> = [
  ['a function', () => ({ f: () => 1 })],
  ['undefined inside an array', () => ({ a: [1, undefined] })],
  ['a circular object', () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    return o;
  }],
  ['NaN', () => ({ n: NaN })],
  ['Infinity', () => ({ n: Infinity })],
  ['-Infinity', () => ({ n: [-Infinity] })],
  ['a BigInt', () => ({ n: 10n })],
  ['a Date', () => ({ d: new Date(0) })],
  ['a symbol', () => ({ s: Symbol('x') })],
];

const NOT_OBJECTS: Array<[string, unknown]> = [
  ['null', null],
  ['an array', [1, 2]],
  ['a number', 3],
  ['a Map', new Map()],
];

export function describeMetadata(h: Harness): void {
  const { open, failsCleanly, codeOf, fullScan, golden } = h;
  let ctx: ConformanceContext;
  let db: DB;

  describe('metadata', () => {
    let scan: Scan;
    let fileset: Fileset;
    beforeEach(async () => {
      ({ ctx, db } = await h.connected());
      ({ scan, fileset } = await fullScan());
    });

    it('merges top-level keys shallowly at every level and persists before resolving', async () => {
      const file = await fileset.createFile('f', { metadata: { a: 1 } });
      for (const holder of [scan, fileset, file]) {
        await holder.setMetadata({ nested: { x: 1, y: 2 }, keep: true });
        await holder.setMetadata({ nested: { z: 3 } });
        await holder.setMetadata('single', 'value');
        expect(await holder.getMetadata('nested')).toEqual({ z: 3 });
        expect(await holder.getMetadata('keep')).toBe(true);
        expect(await holder.getMetadata('single')).toBe('value');
      }
      expect(await scan.getMetadata()).toEqual({ test: 1, nested: { z: 3 }, keep: true, single: 'value' });
      expect(await file.getMetadata()).toEqual({ a: 1, nested: { z: 3 }, keep: true, single: 'value' });
      await db.disconnect();
      const other = await open();
      await other.connect();
      const s2 = await other.getScan('myscan_001');
      const f2 = await (await s2.getFileset('fileset_001')).getFile('f');
      expect(await s2.getMetadata('nested')).toEqual({ z: 3 });
      expect(await f2.getMetadata()).toEqual({ a: 1, nested: { z: 3 }, keep: true, single: 'value' });
    });

    it('returns copies, and stores copies', async () => {
      const value = { list: [1, 2], obj: { a: 1 } };
      await scan.setMetadata('v', value);
      value.list.push(3);
      const got = await scan.getMetadata<typeof value>('v');
      expect(got).toEqual({ list: [1, 2], obj: { a: 1 } });
      got.obj.a = 99;
      const all = await scan.getMetadata();
      (all as Record<string, unknown>).test = 'changed';
      expect(await scan.getMetadata('v')).toEqual({ list: [1, 2], obj: { a: 1 } });
      expect(await scan.getMetadata('test')).toBe(1);
    });

    it('returns the fallback for a missing key, and {} for an object that never had metadata', async () => {
      expect(await scan.getMetadata('missing')).toBeUndefined();
      expect(await scan.getMetadata('missing', 'fallback')).toBe('fallback');
      expect(await fileset.getMetadata('missing', 42)).toBe(42);
      const f = await fileset.createFile('bare');
      expect(await f.getMetadata()).toEqual({});
      expect(await listKeys(ctx.backend, 'myscan_001/metadata/fileset_001/')).toEqual([]);
    });

    it('writes metadata JSON exactly as Python does', async () => {
      const values = JSON.parse(golden('metadata-values.json')) as Record<string, unknown>;
      await db.createScan('golden', { metadata: values });
      expect(await text(ctx.backend, 'golden/metadata/metadata.json')).toBe(golden('metadata-values.json'));
      const other = await db.createScan('golden2');
      await other.setMetadata(values);
      expect(await text(ctx.backend, 'golden2/metadata/metadata.json')).toBe(golden('metadata-values.json'));
    });

    it('keeps the text of numbers it did not change (276.0 stays 276.0)', async () => {
      const f = await fileset.createFile('00001_rgb');
      await putText(ctx.backend, 'myscan_001/metadata/fileset_001/00001_rgb.json', golden('pose-before.json'));
      await db.reload();
      const file = await (await (await db.getScan('myscan_001')).getFileset('fileset_001')).getFile('00001_rgb');
      expect(await file.getMetadata('approximate_pose')).toEqual([76.64343138951801, 343.64146101970397, 80, 276, 0]);
      await file.setMetadata('exposure', 0.25);
      expect(await text(ctx.backend, 'myscan_001/metadata/fileset_001/00001_rgb.json')).toBe(golden('pose-after-set.json'));
      // Writing back a value read unchanged keeps its text too.
      const pose = await file.getMetadata('approximate_pose');
      await file.setMetadata({ approximate_pose: pose, exposure: 0.25 });
      expect(await text(ctx.backend, 'myscan_001/metadata/fileset_001/00001_rgb.json')).toBe(golden('pose-after-set.json'));
      expect(f.id).toBe('00001_rgb');
    });

    for (const [label, make] of BAD_METADATA) {
      it(`refuses ${label} with ROMI_INVALID_METADATA, changing nothing`, async () => {
        const file = await fileset.createFile('f');
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => scan.setMetadata(make() as Record<string, unknown>));
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => scan.setMetadata('k', make()));
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => fileset.setMetadata(make() as Record<string, unknown>));
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => file.setMetadata(make() as Record<string, unknown>));
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => db.createScan('new_scan', { metadata: make() as Record<string, unknown> }));
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => scan.createFileset('new_fs', { metadata: make() as Record<string, unknown> }));
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => fileset.createFile('new_f', { metadata: make() as Record<string, unknown> }));
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => fileset.createFiles([{ id: 'new_f', metadata: make() as Record<string, unknown> }]));
      });
    }

    for (const [label, value] of NOT_OBJECTS) {
      it(`refuses ${label} as a metadata object`, async () => {
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => scan.setMetadata(value as Record<string, unknown>));
        await failsCleanly(ErrorCodes.INVALID_METADATA, () => db.createScan('x', { metadata: value as Record<string, unknown> }));
      });
    }

    it('refuses setMetadata(key) without a value', async () => {
      await failsCleanly(ErrorCodes.INVALID_METADATA, () => (scan.setMetadata as unknown as (k: string) => Promise<void>)('k'));
      await failsCleanly(ErrorCodes.INVALID_METADATA, () => scan.setMetadata('k', undefined));
    });

    it('stores "__proto__" as a plain key', async () => {
      await scan.setMetadata(JSON.parse('{"__proto__": {"polluted": true}}'));
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.keys(await scan.getMetadata())).toContain('__proto__');
    });

    it('reports corrupt metadata JSON with ROMI_CORRUPT and never rewrites it', async () => {
      await putText(ctx.backend, 'myscan_001/metadata/metadata.json', '{"truncated": ');
      await db.reload();
      const s = await db.getScan('myscan_001');
      expect(await codeOf(s.getMetadata())).toBe(ErrorCodes.CORRUPT);
      await failsCleanly(ErrorCodes.CORRUPT, () => s.setMetadata('a', 1));
      await putText(ctx.backend, 'myscan_001/metadata/metadata.json', '[1, 2]');
      await db.reload();
      await failsCleanly(ErrorCodes.CORRUPT, async () => (await db.getScan('myscan_001')).setMetadata('a', 1));
    });
  });
}
