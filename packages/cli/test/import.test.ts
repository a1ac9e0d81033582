// import images: the real images of test-fixtures, and an import killed halfway.
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeImage } from '@romi/io';
import { describe, expect, it } from 'vitest';
import { cli, collect, REAL_PLANT, spawnCli, tempDir } from './helpers.js';

async function newDb() {
  const c = await cli();
  const db = join(await tempDir(), 'db');
  const run = (args: string[]) => c.run(['--db', db, ...args]);
  expect((await run(['init'])).code).toBe(0);
  return { ...c, db, run };
}

describe('import images', () => {
  it('imports the real images (any letter case, sorted by name) with the folder metadata.json', async () => {
    const { db, run } = await newDb();
    const src = join(await tempDir(), 'scan_in');
    await mkdir(src);
    // Names in mixed case and out of order; non-images and sub-folders are ignored.
    const names = { '00000_rgb.jpg': '00002_rgb.JPG', '00001_rgb.jpg': '00000_rgb.jpeg', '00002_rgb.jpg': '00001_rgb.Jpg', '00003_rgb.jpg': '00003_rgb.jpg' };
    for (const [from, to] of Object.entries(names)) await copyFile(join(REAL_PLANT, 'images', from), join(src, to));
    await copyFile(join(REAL_PLANT, 'images/00000_rgb.jpg'), join(src, 'extra.png'));
    await writeFile(join(src, 'notes.txt'), 'not an image');
    await mkdir(join(src, 'sub.png'));
    await writeFile(join(src, 'metadata.json'), '{"camera": {"model": "RX0"}}');

    const r = await run(['--json', 'import', 'images', src, '--scan', 'real_plant']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ scan: 'real_plant', fileset: 'images', files: 5 });
    const files = JSON.parse((await run(['--json', 'ls', 'real_plant/images'])).out);
    expect(files).toEqual([
      { id: '00000_rgb', filename: '00000_rgb.jpeg' },
      { id: '00001_rgb', filename: '00001_rgb.Jpg' },
      { id: '00002_rgb', filename: '00002_rgb.JPG' },
      { id: '00003_rgb', filename: '00003_rgb.jpg' },
      { id: 'extra', filename: 'extra.png' },
    ]);
    for (const [from, to] of Object.entries(names)) {
      expect((await readFile(join(db, 'real_plant/images', to))).equals(await readFile(join(REAL_PLANT, 'images', from)))).toBe(true);
    }
    expect(JSON.parse((await run(['meta', 'get', 'real_plant/images'])).out)).toEqual({ camera: { model: 'RX0' } });
    expect((await run(['check'])).out).toBe('ok\n');

    // --metadata overrides the folder's file; an existing scan is refused.
    await writeFile(join(src, 'other.json'), '{"lens": 1}');
    const second = await run(['import', 'images', src, '--scan', 'real_plant_2', '--metadata', join(src, 'other.json')]);
    expect(second.code, second.err).toBe(0);
    expect(JSON.parse((await run(['meta', 'get', 'real_plant_2/images'])).out)).toEqual({ lens: 1 });
    const again = await run(['import', 'images', src, '--scan', 'real_plant']);
    expect(again.code).toBe(1);
    expect(again.err).toBe('romidb: Scan "real_plant" already exists\n');
  });

  it('refuses folders without images, and duplicate ids, before writing anything', async () => {
    const { db, run } = await newDb();
    const empty = await tempDir();
    const r = await run(['import', 'images', empty, '--scan', 's']);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`romidb: No .png, .jpg or .jpeg images in "${empty}"\n`);
    const dup = await tempDir();
    await copyFile(join(REAL_PLANT, 'images/00000_rgb.jpg'), join(dup, 'a.jpg'));
    await copyFile(join(REAL_PLANT, 'images/00000_rgb.jpg'), join(dup, 'a.png'));
    const d = await run(['import', 'images', dup, '--scan', 's']);
    expect(d.code).toBe(1);
    expect(d.err).toMatch(/^romidb: Cannot import ".*a.png": "a.jpg" has the same file id "a"\n$/);
    expect((await readdir(db)).sort()).toEqual(['romidb']);
  });

  it('an import killed halfway leaves only what check flags, and check --fix repairs it', async () => {
    const { db, home, run } = await newDb();
    const src = join(await tempDir(), 'many');
    await mkdir(src);
    const count = 1200;
    for (let i = 0; i < count; i++) {
      const data = new Uint8Array(8 * 8 * 3).fill(i % 256);
      await writeFile(join(src, `img_${String(i).padStart(4, '0')}.png`), await encodeImage({ data, width: 8, height: 8, channels: 3 }, 'png'));
    }
    const child = spawnCli(['--db', db, 'import', 'images', src, '--scan', 'big'], { home });
    const done = collect(child);
    // Kill it as soon as its first data files are stored (a few ms into the import).
    const images = join(db, 'big/images');
    for (;;) {
      const names = await readdir(images).catch(() => [] as string[]);
      if (names.some((n) => n.endsWith('.png'))) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');

    const check = await run(['--json', 'check']);
    const report = JSON.parse(check.out);
    const kinds = new Set(report.problems.map((p: { kind: string }) => p.kind));
    for (const kind of kinds) expect(['unlisted-file', 'unlisted-fileset', 'orphan-metadata', 'stale-lock', 'temp-file']).toContain(kind);
    const listed = (await run(['--json', 'ls', 'big/images'])).out;
    const stored = (await readdir(images)).filter((n) => n.endsWith('.png')).length;
    // Whatever files.json lists is stored; what is stored and not listed is reported.
    expect(JSON.parse(listed).length).toBeLessThanOrEqual(stored);
    if (JSON.parse(listed).length < stored) {
      expect(check.code).toBe(1);
      expect(kinds.has('unlisted-file')).toBe(true);
    }

    const fix = await run(['check', '--fix']);
    expect(fix.code, fix.out + fix.err).toBe(0);
    expect((await run(['check'])).out).toBe('ok\n');
    expect(JSON.parse((await run(['--json', 'ls', 'big/images'])).out).length).toBe(stored);
  });
});
