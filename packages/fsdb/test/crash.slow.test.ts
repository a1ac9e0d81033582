/**
 * A writer process is SIGKILLed at random moments, 20 times. After every kill the database
 * opens, every JSON parses, every write the writer had reported as done is intact, and check()
 * finds only what fix repairs.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnProc } from '@romi/test-utils';
import { FSDB } from '../src/index.js';
import { contentOf } from './procs/content.js';

const KILLS = Number(process.env.ROMI_CRASH_KILLS ?? 20);
const FIXABLE = new Set(['unlisted-file', 'unlisted-fileset', 'missing-fileset', 'orphan-metadata', 'missing-file']);

async function* walk(dir: string): AsyncIterable<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

const expectedCache = new Map<string, Buffer>();
function expected(id: string, length: number): Buffer {
  let buf = expectedCache.get(id);
  if (!buf) {
    buf = Buffer.from(contentOf(id, length));
    expectedCache.set(id, buf);
  }
  return buf;
}

describe('crash safety', () => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`survives ${KILLS} SIGKILLs of a writer at random moments`, { timeout: 300_000 }, async () => {
    dir = await mkdtemp(`${tmpdir()}/romidb-crash-`);
    await FSDB.init(dir);
    const deleted = new Set<string>();
    const deleting = new Set<string>();
    const written = new Map<string, number>();
    const withMeta = new Set<string>();
    const scanMeta = new Map<string, number>();
    let totalReported = 0;
    const problemKinds = new Map<string, number>();

    for (let run = 0; run < KILLS; run++) {
      const child = spawnProc(new URL('procs/crash-writer.ts', import.meta.url), [dir, String(run)]);
      await child.waitFor(/^ready$/, 60_000);
      await new Promise((r) => setTimeout(r, 30 + Math.random() * 400));
      child.kill('SIGKILL');
      await child.exited;
      for (const line of child.lines) {
        const [status, what, kind, id, value] = line.split(' ');
        if (status === 'start' && what === 'delete') deleting.add(id!);
        if (status !== 'ok') continue;
        totalReported++;
        if (what === 'file') written.set(id!, Number(value));
        if (what === 'meta') withMeta.add(id!);
        if (what === 'scanmeta') scanMeta.set(id!, Number(value));
        if (what === 'delete') deleted.add(id!);
        expect(kind).toBeDefined();
      }

      // Every JSON file parses (temporary files are not part of the database).
      for await (const path of walk(dir)) {
        if (!path.endsWith('.json') || path.includes('/.romidb-')) continue;
        expect(() => JSON.parse(String(readFileSync(path))), path).not.toThrow();
      }

      const db = new FSDB(dir);
      await db.connect({ waitMs: 15_000 });
      const scan = await db.getScan('crash');
      const fs = await scan.getFileset('data');
      for (const [id, length] of written) {
        if (deleting.has(id)) continue;
        const file = await fs.getFile(id);
        // Buffer.equals: a deep toEqual over 200 KB arrays would dominate the test's time.
        expect(Buffer.from(await file.readBytes()).equals(expected(id, length)), id).toBe(true);
        if (withMeta.has(id)) expect(await file.getMetadata('written')).toBe(true);
      }
      for (const id of deleted) expect(await fs.hasFile(id), id).toBe(false);
      for (const [key, value] of scanMeta) expect(await scan.getMetadata<number>(key)).toBeGreaterThanOrEqual(value);

      const report = await db.check();
      for (const p of report.problems) {
        problemKinds.set(p.kind, (problemKinds.get(p.kind) ?? 0) + 1);
        expect(FIXABLE.has(p.kind), `${p.kind} ${p.key}`).toBe(true);
      }
      const fixed = await db.check({ fix: true });
      expect(fixed.ok, JSON.stringify(fixed.problems)).toBe(true);
      expect(await db.check()).toEqual({ ok: true, problems: [] });
      await db.disconnect();
    }
    expect(totalReported).toBeGreaterThan(KILLS * 3);
    console.log(`crash test: ${totalReported} reported writes over ${KILLS} kills; problems found and fixed: ${JSON.stringify(Object.fromEntries(problemKinds))}`);
  });
});
