/**
 * The seed example of the README (`pnpm demo`, `romidb demo`): a local database with one scan
 * of 99 random 256×256 RGB images, each with metadata, read back through a read-only connection
 * and printed as a tree. examples/seed.ts calls runDemo().
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { FSDB } from '@romi/fsdb';
import type { Context } from '../context.js';

/** Prints one line (console.log, or a stream writer). */
export type LineWriter = (line: string) => void;

/** Creates (or recreates) the demo database in `folder` and prints its tree, line by line, to `out`. */
export async function runDemo(folder: string, out: LineWriter): Promise<void> {
  // @romi/io loads sharp (native): only the demo needs it, so the other commands start faster.
  const { readImage, writeImage } = await import('@romi/io');
  const root = resolve(folder);
  await rm(root, { recursive: true, force: true });
  await FSDB.init(root);

  {
    await using db = new FSDB(root);
    await db.connect();
    const scan = await db.createScan('myscan_001', { metadata: { scanner: { hardware: 'test' } } });
    const images = await scan.createFileset('images');
    for (let i = 0; i < 99; i++) {
      const pixels = new Uint8Array(256 * 256 * 3);
      for (let p = 0; p < pixels.length; p++) pixels[p] = Math.floor(Math.random() * 256);
      const file = await images.createFile(`image_${String(i).padStart(3, '0')}`, { metadata: { key: i } });
      await writeImage(file, { data: pixels, width: 256, height: 256, channels: 3 });
    }
  }

  // Read everything back through a fresh, read-only connection and print the tree.
  await using db = new FSDB(root);
  await db.connect({ readOnly: true });
  out(`${root}`);
  for (const scan of await db.getScans()) {
    out(`└── ${scan.id} ${JSON.stringify(await scan.getMetadata())}`);
    for (const fileset of await scan.getFilesets()) {
      const files = await fileset.getFiles();
      out(`    └── ${fileset.id} (${files.length} files)`);
      for (const [i, file] of files.entries()) {
        const image = await readImage(file);
        const branch = i === files.length - 1 ? '└──' : '├──';
        out(`        ${branch} ${file.filename}  ${image.width}×${image.height}×${image.channels}  ${JSON.stringify(await file.getMetadata())}`);
      }
    }
  }
}

export function registerDemo(program: Command, ctx: Context): void {
  program
    .command('demo')
    .description('create the seed example database (99 random images) and print its tree')
    .argument('[folder]', 'where to create it (removed first if it exists)', 'demo-db')
    .action(async (folder: string) => {
      await runDemo(folder, (line) => ctx.io.stdout.write(`${line}\n`));
    });
}
