/**
 * The fault matrix: every write operation of the API, with the k-th I/O call failing, for every
 * k and every fault kind. After each case:
 *  - the operation resolved, or threw a RomiError (no untyped error);
 *  - if it resolved although a fault fired, storage is exactly what a clean run leaves (no
 *    silent success);
 *  - no key that existed before changed, except those the operation changes in a clean run,
 *    which hold their old bytes or their new ones (nothing foreign touched, nothing torn);
 *  - check() is clean, or check --fix makes it clean without touching a foreign key.
 */
import { describe, expect, it } from 'vitest';
import { isRomiError, mapLimit, mirror, RomiDB, toKey, type Backend, type DB } from '@romi/db-core';
import { faultApplies, FaultPlan, type FaultKind } from './faults.js';

/** Storage content: key → base64 of its bytes ('' for folders). */
export type Content = Map<string, string>;

export interface FaultStore {
  /** The storage, without faults (to prepare cases and inspect results). */
  raw: Backend;
  /** The same storage, failing as `plan` says. */
  faulty(plan: FaultPlan): Backend;
  dispose(): Promise<void>;
}

export interface FaultLevel {
  /** Where faults are injected ("backend", "fs"). */
  name: string;
  faults: FaultKind[];
  /** Fresh storage holding `content`. */
  create(content: Content): Promise<FaultStore>;
  /**
   * What a case compares (default: contentOf, every key with its bytes). An object store whose
   * etags are digests of the content can answer from one listing.
   */
  contentOf?(backend: Backend): Promise<Content>;
}

export interface FaultOp {
  name: string;
  /** Changes to the fixture before the operation (raw storage, no faults). */
  prepare?(raw: Backend): Promise<void>;
  run(db: DB, env: { source(): Promise<DB> }): Promise<unknown>;
  /**
   * Whether a result that resolved reports a failure itself (check's report, an exit code).
   * It may throw to say the failure was reported wrongly (counted as an untyped error).
   */
  failed?(result: unknown): boolean;
  /** False when the operation connects the database itself (a command line). */
  connect?: boolean;
  /**
   * Several API calls in a row: a failure of a later one leaves the earlier ones done, so the
   * keys they change may hold intermediate bytes (still whole, still checked by check()).
   */
  composite?: boolean;
}

const enc = new TextEncoder();
const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

/** Every visible key of `backend` with its bytes (the lock and romidb's own entries aside). */
export async function contentOfBytes(backend: Backend): Promise<Content> {
  const keys: string[] = [];
  for await (const entry of backend.list('')) if (entry.kind === 'object' && entry.key !== 'lock' && !entry.key.startsWith('lock/')) keys.push(entry.key);
  const out: Content = new Map();
  for (const key of keys.sort()) {
    // check --fix names its backups of files.json by the time: runs compare without it.
    out.set(key.replace(/\/files_\d{8}_\d{6}(_\d+)?\.json$/, '/files_<time>.json'), key.endsWith('/') ? '' : Buffer.from((await backend.get(toKey(key))).bytes).toString('base64'));
  }
  return out;
}

/** Writes `content` into empty storage. */
export async function fill(backend: Backend, content: Content): Promise<void> {
  await mapLimit([...content], 8, ([key, value]) => backend.put(toKey(key), key.endsWith('/') ? new Uint8Array() : Buffer.from(value, 'base64')));
}

/** The database every case starts from: two scans, unmanaged files, and a folder that is not a scan. */
export async function buildFixture(db: DB): Promise<void> {
  await db.connect();
  const plant = await db.createScan('plant', { metadata: { species: 'arabidopsis', pose: [76.6, 343.6] } });
  const images = await plant.createFileset('images', { metadata: { channel: 'rgb' } });
  for (let i = 0; i < 3; i++) await (await images.createFile(`f${i}`, { metadata: { i } })).writeBytes(bytes(300, i), 'png');
  await plant.createFileset('empty');
  const other = await db.createScan('other');
  await (await (await other.createFileset('fs')).createFile('a')).writeText('a', 'txt');
  await db.disconnect();
}

/** Keys no operation of the catalogue may change: what romidb does not manage. */
export const FOREIGN: Array<[string, string]> = [
  ['plant/measures.json', '{"angles": [1.0, 2.5]}'],
  ['plant/webcache/thumb.jpg', 'jpeg'],
  ['notes/thesis.tex', 'years of work'],
];

async function* chunks(): AsyncIterable<Uint8Array> {
  for (let i = 0; i < 3; i++) yield bytes(200, 10 + i);
}

const fileset = async (db: DB, scan: string, id: string) => (await db.getScan(scan)).getFileset(id);
const file = async (db: DB, id: string) => (await fileset(db, 'plant', 'images')).getFile(id);

export const API_OPERATIONS: FaultOp[] = [
  { name: 'createScan', run: (db) => db.createScan('new_scan', { metadata: { a: 1 } }) },
  { name: 'deleteScan', run: (db) => db.deleteScan('other') },
  { name: 'scan.setMetadata', run: async (db) => (await db.getScan('plant')).setMetadata('age', 12) },
  { name: 'createFileset', run: async (db) => (await db.getScan('plant')).createFileset('masks', { metadata: { m: 1 } }) },
  { name: 'deleteFileset', run: async (db) => (await db.getScan('plant')).deleteFileset('images') },
  { name: 'createFile', run: async (db) => (await fileset(db, 'plant', 'images')).createFile('f9', { metadata: { i: 9 } }) },
  {
    name: 'createFile + writeBytes + setMetadata (the seed loop)',
    composite: true,
    run: async (db) => {
      const f = await (await fileset(db, 'plant', 'images')).createFile('f9');
      await f.writeBytes(bytes(500, 9), 'png');
      await f.setMetadata('key', 9);
    },
  },
  {
    name: 'createFiles',
    run: async (db) =>
      (await fileset(db, 'plant', 'images')).createFiles(
        [0, 1, 2].map((i) => ({ id: `batch_${i}`, data: bytes(400, 20 + i), ext: 'png', metadata: { i } })),
        { concurrency: 2 },
      ),
  },
  { name: 'writeBytes (same extension)', run: async (db) => (await file(db, 'f0')).writeBytes(bytes(333, 40), 'png') },
  { name: 'writeBytes (new extension)', run: async (db) => (await file(db, 'f1')).writeBytes(bytes(333, 41), 'jpg') },
  { name: 'writeStream', run: async (db) => (await file(db, 'f2')).writeStream(chunks(), 'png') },
  { name: 'fileset.setMetadata', run: async (db) => (await fileset(db, 'plant', 'images')).setMetadata('channel', 'gray') },
  { name: 'file.setMetadata', run: async (db) => (await file(db, 'f0')).setMetadata({ a: 1, b: [1, 2] }) },
  { name: 'deleteFile', run: async (db) => (await fileset(db, 'plant', 'images')).deleteFile('f1') },
  {
    name: 'check --fix',
    prepare: async (raw) => {
      // A file whose data and metadata are gone (fix drops its entry), and unlisted data (fix indexes it).
      await raw.delete(toKey('plant/images/f2.png'));
      await raw.delete(toKey('plant/metadata/images/f2.json'));
      await raw.put(toKey('plant/images/stray.png'), bytes(50, 60));
    },
    run: (db) => db.check({ fix: true }),
    failed: (report) => !(report as { ok: boolean }).ok,
  },
  {
    name: 'mirror',
    run: async (db, env) => {
      const source = await env.source();
      await source.connect({ readOnly: true });
      try {
        return await mirror(source, db, { concurrency: 2, scans: ['added'] });
      } finally {
        await source.disconnect();
      }
    },
  },
];

/** A source for mirror: the fixture with one scan changed and one added (the one mirrored). */
async function mirrorSource(level: FaultLevel, fixture: Content): Promise<FaultStore> {
  const store = await level.create(fixture);
  const db = new RomiDB(store.raw);
  await db.connect();
  await (await db.getScan('plant')).setMetadata('mirrored', true);
  await (await (await (await db.createScan('added')).createFileset('fs')).createFile('x')).writeBytes(bytes(700, 70), 'bin');
  await db.disconnect();
  return store;
}

interface Outcome {
  cases: number;
  violations: string[];
}

const b64 = (text: string) => Buffer.from(enc.encode(text)).toString('base64');

/** Runs `op` once per (k, fault) and returns what went wrong. */
async function runOperation(level: FaultLevel, fixture: Content, op: FaultOp): Promise<Outcome> {
  const contentOf = level.contentOf ?? contentOfBytes;
  const sources: FaultStore[] = [];
  const env = {
    source: async (): Promise<DB> => {
      const store = await mirrorSource(level, fixture);
      sources.push(store);
      return new RomiDB(store.raw);
    },
  };
  let before: Content | undefined;
  const once = async (arm: (plan: FaultPlan) => void) => {
    const store = await level.create(fixture);
    await op.prepare?.(store.raw);
    // Every case starts from the same content: read once.
    before ??= await contentOf(store.raw);
    const plan = new FaultPlan();
    const db = new RomiDB(store.faulty(plan));
    if (op.connect !== false) await db.connect();
    arm(plan);
    let error: unknown;
    let reported = false;
    try {
      const result = await op.run(db, env);
      reported = op.failed?.(result) ?? false;
    } catch (err) {
      error = err;
    } finally {
      plan.disarm();
    }
    const { calls, fired, log } = plan;
    await db.disconnect().catch(() => {});
    return { store, before: before!, error, reported, calls, fired, log };
  };

  // The clean run: how many calls, and what the operation changes.
  const clean = await once((plan) => plan.count());
  if (clean.error || clean.reported) throw new Error(`${op.name} fails without faults: ${String(clean.error ?? 'its result reports a failure')}`);
  const expected = await contentOf(clean.store.raw);
  const changed = new Set([...clean.before.keys(), ...expected.keys()].filter((k) => clean.before.get(k) !== expected.get(k)));
  await clean.store.dispose();

  const violations: string[] = [];
  let cases = 0;
  for (const kind of level.faults) {
    for (let k = 1; k <= clean.calls; k++) {
      // A short write where the clean run makes no write would only repeat another fault.
      if (!faultApplies(kind, clean.log[k - 1] ?? '')) continue;
      cases++;
      const run = await once((plan) => plan.arm(k, kind));
      const where = `${op.name} / ${kind} at call ${k} (${run.fired ?? 'not reached'})`;
      const bad = (what: string) => violations.push(`${where}: ${what}`);
      try {
        if (run.error !== undefined && !isRomiError(run.error)) bad(`untyped error ${String(run.error)}`);
        const after = await contentOf(run.store.raw);
        if (run.error === undefined && !run.reported && run.fired !== undefined) {
          const same = after.size === expected.size && [...expected].every(([key, v]) => after.get(key) === v);
          if (!same) bad('resolved although the fault fired, and storage differs from a clean run (silent failure)');
        }
        for (const [key, old] of run.before) {
          const now = after.get(key);
          if (now === old) continue;
          if (!changed.has(key)) bad(`changed "${key}", which the operation does not touch`);
          else if (now !== expected.get(key) && !op.composite) bad(`"${key}" holds neither its old nor its new bytes`);
        }
        for (const [key, now] of after) {
          if (!run.before.has(key) && expected.has(key) && now !== expected.get(key) && !key.endsWith('/')) bad(`new "${key}" is torn`);
        }
        // Whatever a failure left, check --fix clears, and it never touches a foreign key.
        const checker = new RomiDB(run.store.raw);
        await checker.connect();
        let repaired = false;
        try {
          if (!(await checker.check()).ok) {
            repaired = true;
            await checker.check({ fix: true });
            const again = await checker.check();
            if (!again.ok) bad(`check --fix leaves ${JSON.stringify(again.problems.filter((p) => !p.fixed).map((p) => `${p.kind} ${p.key}`))}`);
          }
        } finally {
          await checker.disconnect();
        }
        const fixed = repaired ? await contentOf(run.store.raw) : after;
        for (const [key, old] of run.before) {
          if (!changed.has(key) && fixed.get(key) !== old) bad(`check --fix changed "${key}"`);
        }
      } catch (err) {
        bad(`the database cannot be checked afterwards: ${String(err)}`);
      } finally {
        await run.store.dispose();
      }
    }
  }
  for (const s of sources.splice(0)) await s.dispose();
  return { cases, violations };
}

/**
 * Declares the matrix for one kind of storage: one test per (level, operation), and a line
 * with the number of (operation, k, fault) cases that ran.
 */
export function describeFaultMatrix(name: string, levels: FaultLevel[], operations: FaultOp[] = API_OPERATIONS, opts: { timeout?: number } = {}): void {
  describe(`fault matrix: ${name}`, () => {
    let fixture: Content;
    const counts: string[] = [];
    const fixtureOf = async (level: FaultLevel): Promise<Content> => {
      if (!fixture) {
        const store = await level.create(new Map([['romidb', '']]));
        await buildFixture(new RomiDB(store.raw));
        for (const [key, text] of FOREIGN) await store.raw.put(toKey(key), enc.encode(text));
        fixture = await contentOfBytes(store.raw);
        await store.dispose();
        for (const [key, text] of FOREIGN) expect(fixture.get(key)).toBe(b64(text));
      }
      return fixture;
    };
    for (const level of levels) {
      for (const op of operations) {
        it(`${level.name} level, ${level.faults.join('/')}: ${op.name}`, { timeout: opts.timeout ?? 60_000 }, async () => {
          const outcome = await runOperation(level, await fixtureOf(level), op);
          counts.push(`${level.name}/${op.name}: ${outcome.cases}`);
          expect(outcome.violations).toEqual([]);
          expect(outcome.cases).toBeGreaterThan(0);
        });
      }
    }
    it('reports how many cases ran', () => {
      const total = counts.reduce((n, line) => n + Number(line.split(': ').pop()), 0);
      console.log(`fault matrix ${name}: ${total} (operation, k, fault) cases over ${counts.length} operations, 0 violations`);
      expect(total).toBeGreaterThan(0);
    });
  });
}
