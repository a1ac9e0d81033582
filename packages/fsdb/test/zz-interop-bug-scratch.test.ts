import { readdir, readFile, unlink } from 'node:fs/promises';
import { afterEach, expect, it, vi } from 'vitest';
import { FSDB } from '../src/index.js';
import { copyFixture } from './fixtures.js';

const LONG_FS = 'VirtualPlant_arabidopsis_note___BRANCHON___fal___angles____inte_a7299a0b5f';
afterEach(() => vi.useRealTimers());

it('check({fix: true}) twice in the same second keeps the first backup of files.json', async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-01-02T03:04:05.100Z'));
  const { dir, dispose } = await copyFixture('plant-3d-vision-db');
  const original = await readFile(`${dir}/virtual_plant/files.json`);
  const db = new FSDB(dir);
  await db.connect();
  try {
    await db.check({ fix: true, scans: ['virtual_plant'] });           // drops VirtualPlant (.obj missing), backs up the original
    await unlink(`${dir}/virtual_plant/${LONG_FS}/VirtualPlant_mtl.mtl`); // another file goes missing
    vi.setSystemTime(new Date('2026-01-02T03:04:05.900Z'));             // same second
    await db.check({ fix: true, scans: ['virtual_plant'] });           // drops VirtualPlant_mtl, backs up again
  } finally {
    await db.disconnect();
  }
  const backups = (await readdir(`${dir}/virtual_plant`)).filter((n) => /^files_.*\.json$/.test(n));
  const contents = await Promise.all(backups.map((n) => readFile(`${dir}/virtual_plant/${n}`)));
  await dispose();
  // The original files.json (the only record of the VirtualPlant.obj entry) must survive in some backup.
  expect(backups).toHaveLength(2);
  expect(contents.some((c) => c.equals(original))).toBe(true);
});
