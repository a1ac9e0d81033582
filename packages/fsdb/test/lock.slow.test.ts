/** The writer lock across real processes. */
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isRomiError } from '@romi/db-core';
import { spawnProc, type Proc } from '@romi/test-utils';
import { FSDB } from '../src/index.js';

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return isRomiError(err) ? err.code : String(err);
  }
}

describe('writer lock across processes', { timeout: 60_000 }, () => {
  let dir: string;
  const children: Proc[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(`${tmpdir()}/romidb-lock-`);
    await FSDB.init(dir);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const start = (...args: string[]): Proc => {
    const c = spawnProc(new URL('procs/hold-lock.ts', import.meta.url), [dir, ...args]);
    children.push(c);
    return c;
  };

  it('of several processes racing to connect, exactly one wins', async () => {
    const racers = Array.from({ length: 5 }, () => start('0'));
    const outcomes = await Promise.all(racers.map((c) => c.waitFor(/^(connected|busy)/, 30_000)));
    expect(outcomes.filter((l) => l.startsWith('connected'))).toHaveLength(1);
    expect(outcomes.filter((l) => l === `busy ${ErrorCodes.DB_BUSY}`)).toHaveLength(4);
  });

  it('a second writer is busy at once, and gets in with waitMs once the first releases', async () => {
    const holder = start('0');
    await holder.waitFor(/^connected/);
    const db = new FSDB(dir);
    const t0 = Date.now();
    expect(await codeOf(db.connect())).toBe(ErrorCodes.DB_BUSY);
    expect(Date.now() - t0).toBeLessThan(2_000);
    const waiting = db.connect({ waitMs: 20_000 });
    setTimeout(() => holder.stdin!.end(), 500);
    await waiting;
    expect(db.isConnected).toBe(true);
    await db.disconnect();
  });

  it('a reader connects beside a writer process', async () => {
    const holder = start('0');
    await holder.waitFor(/^connected/);
    const reader = new FSDB(dir);
    await reader.connect({ readOnly: true });
    expect(await reader.listScans()).toEqual([]);
    await reader.disconnect();
  });

  it('recovers the lock of a SIGKILLed writer at once (its pid is dead on this host)', async () => {
    const holder = start('0');
    await holder.waitFor(/^connected/);
    holder.kill('SIGKILL');
    await holder.exited;
    const db = new FSDB(dir);
    const t0 = Date.now();
    await db.connect({ waitMs: 3_000 });
    expect(Date.now() - t0).toBeLessThan(3_000);
    await db.disconnect();
  });

  it('treats a lock whose owner is a zombie (killed, not yet reaped) as dead', async () => {
    // `sh` starts `sleep 30`, then becomes `sleep 60` and never reaps it: killing it leaves a zombie.
    const parent = spawn('sh', ['-c', 'sleep 30 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number((await new Promise<Buffer>((resolve) => parent.stdout!.once('data', resolve))).toString().trim());
    // Kill only once `sh` has become `sleep 60`: a shell could still reap its child.
    for (let i = 0; i < 200 && readFileSync(`/proc/${parent.pid}/comm`, 'utf8') !== 'sleep\n'; i++) await new Promise((r) => setTimeout(r, 10));
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).toMatch(/\) Z /);
    await mkdir(`${dir}/lock`);
    await writeFile(`${dir}/.romidb-lock.owner`, JSON.stringify({ pid, host: hostname(), since: 'x' }));
    const db = new FSDB(dir);
    await db.connect();
    expect(db.isConnected).toBe(true);
    await db.disconnect();
    parent.kill('SIGKILL');
  });

  it('recovers a lock from another host only once it is stale', async () => {
    await mkdir(`${dir}/lock`);
    await writeFile(`${dir}/.romidb-lock.owner`, JSON.stringify({ pid: 1, host: 'another-host', since: 'x' }));
    const db = new FSDB(dir, { lockStaleMs: 5_000 });
    expect(await codeOf(db.connect())).toBe(ErrorCodes.DB_BUSY);
    const reader = new FSDB(dir, { lockStaleMs: 5_000 });
    await reader.connect({ readOnly: true });
    expect((await reader.check()).problems).toEqual([]);
    const old = new Date(Date.now() - 60_000);
    await utimes(`${dir}/lock`, old, old);
    expect((await reader.check()).problems.map((p) => p.kind)).toEqual(['stale-lock']);
    await db.connect();
    expect(db.isConnected).toBe(true);
    await db.disconnect();
    await reader.disconnect();
  });

  it('honours a plain lock file written by romidata and never removes it', async () => {
    await writeFile(`${dir}/lock`, '');
    const db = new FSDB(dir);
    expect(await codeOf(db.connect())).toBe(ErrorCodes.DB_BUSY);
    expect(await codeOf(db.connect({ waitMs: 1_000 }))).toBe(ErrorCodes.DB_BUSY);
    expect(await readFile(`${dir}/lock`, 'utf8')).toBe('');
    const reader = new FSDB(dir);
    await reader.connect({ readOnly: true });
    expect((await reader.check()).problems.map((p) => p.kind)).toEqual(['foreign-lock']);
    await reader.disconnect();
    await FSDB.forceUnlock(dir);
    await db.connect();
    expect(db.isConnected).toBe(true);
    await db.disconnect();
  });

  it('a writer whose lock was taken over fails its next write with ROMI_LOCK_LOST', async () => {
    const holder = start('0', '1');
    await holder.waitFor(/^wrote 1/);
    await FSDB.forceUnlock(dir);
    const db = new FSDB(dir);
    await db.connect();
    const line = await holder.waitFor(/^write-failed/, 30_000);
    expect(line).toBe(`write-failed ${ErrorCodes.LOCK_LOST}`);
    await db.disconnect();
  });
});

describe('readers while a writer rewrites the index thousands of times', () => {
  it('never see torn or invalid JSON', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(`${tmpdir()}/romidb-readers-`);
    await FSDB.init(dir);
    const writer = spawnProc(new URL('procs/busy-writer.ts', import.meta.url), [dir, '1000']);
    await writer.waitFor(/^ready$/, 30_000);
    const reader = new URL('procs/poll-reader.ts', import.meta.url);
    const readers = [spawnProc(reader, [dir, '6000']), spawnProc(reader, [dir, '6000'])];
    const results = await Promise.all(readers.map((r) => r.waitFor(/^reads /, 60_000)));
    const done = await writer.waitFor(/^done /, 90_000);
    expect(Number(done.split(' ')[1])).toBe(5000);
    for (const line of results) {
      const [, reads, , bad] = line.split(' ');
      expect(Number(reads)).toBeGreaterThan(1000);
      expect(line.split(' ').slice(0, 4).join(' ')).toBe(`reads ${reads} bad 0`);
    }
    await rm(dir, { recursive: true, force: true });
  });
});
