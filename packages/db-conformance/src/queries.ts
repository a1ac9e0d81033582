/** Queries: plantdb's recursive partial match, and anchored regular expressions when fuzzy. */
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, type DB } from '@romi/db-core';
import type { Harness } from './harness.js';

export function describeQueries(h: Harness): void {
  const { codeOf } = h;
  let db: DB;

  describe('queries', () => {
    beforeEach(async () => {
      ({ db } = await h.connected());
      await db.createScan('s1', { metadata: { species: 'arabidopsis', biome: 'tropical_forest', object: { age: 30, tags: ['a', 'b'] } } });
      await db.createScan('s2', { metadata: { species: 'tomato', object: { age: 12, tags: ['b'] } } });
      await db.createScan('s3');
    });

    it('selects scans by recursive partial match', async () => {
      expect(await db.listScans({ query: {} })).toEqual(['s1', 's2', 's3']);
      expect(await db.listScans({ query: { species: 'tomato' } })).toEqual(['s2']);
      expect(await db.listScans({ query: { object: { age: 30 } } })).toEqual(['s1']);
      expect(await db.listScans({ query: { object: { tags: ['b'] } } })).toEqual(['s1', 's2']);
      expect(await db.listScans({ query: { object: { tags: ['a', 'b'] } } })).toEqual(['s1']);
      expect(await db.listScans({ query: { object: { tags: ['a', 'b', 'c'] } } })).toEqual([]);
      expect(await db.listScans({ query: { missing: 'x' } })).toEqual([]);
      expect(await db.listScans({ query: { missing: {} } })).toEqual(['s1', 's2', 's3']);
      expect(await db.listScans({ query: { species: 'tom.*' } })).toEqual([]);
      expect((await db.getScans({ query: { species: 'arabidopsis' } })).map((s) => s.id)).toEqual(['s1']);
    });

    it('treats strings as anchored regular expressions when fuzzy', async () => {
      expect(await db.listScans({ query: { biome: 'tropic.*' }, fuzzy: true })).toEqual(['s1']);
      expect(await db.listScans({ query: { biome: 'tropic' }, fuzzy: true })).toEqual([]);
      expect(await db.listScans({ query: { species: 'ara|tom.*' }, fuzzy: true })).toEqual(['s2']);
      expect(await db.listScans({ query: { species: '(ara.*|tom.*)' }, fuzzy: true })).toEqual(['s1', 's2']);
      expect(await db.listScans({ query: { object: { tags: ['[ab]'] } }, fuzzy: true })).toEqual(['s1', 's2']);
    });

    it('filters filesets and files the same way', async () => {
      const scan = await db.getScan('s1');
      await scan.createFileset('images', { metadata: { channel: 'rgb' } });
      await scan.createFileset('masks', { metadata: { channel: 'mask' } });
      expect(await scan.listFilesets({ query: { channel: 'rgb' } })).toEqual(['images']);
      const fs = await scan.getFileset('images');
      await fs.createFile('a', { metadata: { 'random image': true } });
      await fs.createFile('b', { metadata: { 'random image': false } });
      await fs.createFile('c');
      expect(await fs.listFiles({ query: { 'random image': true } })).toEqual(['a']);
      expect((await fs.getFiles({ query: { 'random image': false } })).map((f) => f.id)).toEqual(['b']);
      expect(await fs.listFiles({ query: { nonexistent_key: 'nonexistent_value' } })).toEqual([]);
    });

    it('refuses a malformed query or regular expression with ROMI_INVALID_ARGUMENT', async () => {
      expect(await codeOf(db.listScans({ query: [] as unknown as Record<string, unknown> }))).toBe(ErrorCodes.INVALID_ARGUMENT);
      expect(await codeOf(db.listScans({ query: { species: '(' }, fuzzy: true }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    });
  });
}
