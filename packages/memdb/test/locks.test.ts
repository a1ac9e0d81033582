import { describe, expect, it } from 'vitest';
import { ErrorCodes, isRomiError } from '@romi/db-core';
import { MemDB } from '../src/index.js';

describe('memdb locks', () => {
  it('check() reports a stale lock left in the volume, and a writer takes it over', async () => {
    const db = new MemDB({ lockStaleMs: 5_000 });
    db.volume.mkdirSync('/db/lock');
    const old = new Date(Date.now() - 60_000);
    db.volume.utimesSync('/db/lock', old, old);
    await db.connect({ readOnly: true });
    expect((await db.check()).problems.map((p) => p.kind)).toEqual(['stale-lock']);
    await db.disconnect();
    await db.connect();
    expect(db.isConnected).toBe(true);
    await db.disconnect();
  });

  it('a fresh lock held by another DB object is busy, and is not reported as stale', async () => {
    const a = new MemDB();
    const b = new MemDB({ volume: a.volume });
    await a.connect();
    const err = await b.connect().catch((e: unknown) => e);
    expect(isRomiError(err, ErrorCodes.DB_BUSY)).toBe(true);
    await b.connect({ readOnly: true });
    expect((await b.check()).problems).toEqual([]);
  });

  it('honours a plain lock file (as romidata writes) and reports it as foreign-lock', async () => {
    const db = new MemDB();
    db.volume.writeFileSync('/db/lock', '');
    const err = await db.connect().catch((e: unknown) => e);
    expect(isRomiError(err, ErrorCodes.DB_BUSY)).toBe(true);
    await db.connect({ readOnly: true });
    expect((await db.check()).problems.map((p) => p.kind)).toEqual(['foreign-lock']);
    expect(db.volume.readFileSync('/db/lock', 'utf8')).toBe('');
  });
});
