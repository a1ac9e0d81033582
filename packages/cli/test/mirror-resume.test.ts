// A mirror killed halfway finishes on the next run, and the result equals a clean copy.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FSDB } from '@romi/fsdb';
import { cli, collect, spawnCli, tempDir, tree } from './helpers.js';

const ours = (rel: string) => rel === 'lock' || rel.startsWith('.romidb-');

async function countFiles(dir: string): Promise<number> {
  try {
    return (await readdir(dir, { recursive: true })).length;
  } catch {
    return 0;
  }
}

describe('mirror', () => {
  it('killed halfway, finishes on the next run with a result equal to a clean copy', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const source = join(dir, 'source');
    const db = await FSDB.init(source);
    await db.connect();
    for (const s of ['scan_a', 'scan_b']) {
      const fs = await (await db.createScan(s, { metadata: { s } })).createFileset('images');
      await fs.createFiles(Array.from({ length: 400 }, (_, i) => ({ id: `f${i}`, data: new Uint8Array(2048).fill(i & 255), ext: 'bin', metadata: { i } })));
    }
    await db.disconnect();

    const { home, run } = await cli();
    const target = join(dir, 'copy');
    const child = spawnCli(['mirror', source, target, '--init', '--concurrency', '2'], { home });
    const done = collect(child);
    while ((await countFiles(target)) < 200) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    expect(await tree(target, ours)).not.toEqual(await tree(source, ours));

    const resumed = await run(['--json', 'mirror', source, target]);
    expect(resumed.code, resumed.err).toBe(0);
    expect(JSON.parse(resumed.out).skipped).toBeGreaterThan(0);
    // Temporary files of the killed run are gone too: the writer clears them.
    expect(await tree(target, ours)).toEqual(await tree(source, ours));
    const again = await run(['--json', 'mirror', source, target]);
    expect(JSON.parse(again.out)).toMatchObject({ copied: 0, bytes: 0 });
    expect((await run(['--db', target, 'check'])).code).toBe(0);
  });
});
