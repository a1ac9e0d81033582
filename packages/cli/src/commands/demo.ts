/**
 * The seed example of the README (`pnpm demo`, `romidb demo`): a local database with one scan
 * of 99 random 256×256 RGB images, each with metadata, read back through a read-only connection
 * and printed as a tree. examples/seed.ts calls runDemo().
 *
 * It writes only into a new or empty folder, or into a demo database it made itself (marked by
 * a hidden ".romidb-demo" file), where it replaces only its own scan: it never removes anything
 * it did not create.
 */
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError, OccupiedError } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import type { Context } from '../context.js';

/** Prints one line (console.log, or a stream writer). */
export type LineWriter = (line: string) => void;

const DEMO_MARK = '.romidb-demo';
const SCAN = 'myscan_001';

export interface DemoTree {
  root: string;
  scans: Array<{ id: string; metadata: unknown; filesets: Array<{ id: string; files: Array<{ file: string | null; width: number; height: number; channels: number; metadata: unknown }> }> }>;
}

/** Makes `root` ready for the demo, refusing any folder that holds something the demo did not make. */
async function claimFolder(root: string): Promise<void> {
  const info = await stat(root).catch(() => undefined);
  if (info && !info.isDirectory()) throw new InvalidArgumentError(`Cannot create the demo database in "${root}": it is a file`);
  const names = info ? await readdir(root) : [];
  if (names.length > 0 && !names.includes(DEMO_MARK)) {
    throw new OccupiedError(`the demo database in "${root}" (romidb demo writes only into a new or empty folder, or a demo database it made)`, join(root, names.sort()[0]!));
  }
  await FSDB.init(root);
  await writeFile(join(root, DEMO_MARK), 'made by "romidb demo"\n');
}

/** Creates (or recreates) the demo database in `folder` and returns what it reads back; each line of the tree goes to `out`. */
export async function runDemo(folder: string, out: LineWriter = () => {}): Promise<DemoTree> {
  // @romi/io loads sharp (native): only the demo needs it, so the other commands start faster.
  const { readImage, writeImage } = await import('@romi/io');
  const root = resolve(folder);
  await claimFolder(root);

  {
    await using db = new FSDB(root);
    await db.connect();
    // A previous demo's scan is the demo's own: it is replaced, anything else stays.
    if (await db.hasScan(SCAN)) await db.deleteScan(SCAN);
    const scan = await db.createScan(SCAN, { metadata: { scanner: { hardware: 'test' } } });
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
  const tree: DemoTree = { root, scans: [] };
  out(`${root}`);
  for (const scan of await db.getScans()) {
    const metadata = await scan.getMetadata();
    out(`└── ${scan.id} ${JSON.stringify(metadata)}`);
    const filesets: DemoTree['scans'][number]['filesets'] = [];
    tree.scans.push({ id: scan.id, metadata, filesets });
    for (const fileset of await scan.getFilesets()) {
      const files = await fileset.getFiles();
      out(`    └── ${fileset.id} (${files.length} files)`);
      const entries: DemoTree['scans'][number]['filesets'][number]['files'] = [];
      filesets.push({ id: fileset.id, files: entries });
      for (const [i, file] of files.entries()) {
        const image = await readImage(file);
        const fileMetadata = await file.getMetadata();
        const branch = i === files.length - 1 ? '└──' : '├──';
        out(`        ${branch} ${file.filename}  ${image.width}×${image.height}×${image.channels}  ${JSON.stringify(fileMetadata)}`);
        entries.push({ file: file.filename, width: image.width, height: image.height, channels: image.channels, metadata: fileMetadata });
      }
    }
  }
  return tree;
}

export function registerDemo(program: Command, ctx: Context): void {
  program
    .command('demo')
    .description('create the seed example database (99 random images) in a new or empty folder, and print its tree')
    .argument('[folder]', 'where to create it: a new or empty folder, or a demo database made before', 'demo-db')
    .action(async (folder: string) => {
      const lines: string[] = [];
      const tree = await runDemo(folder, (line) => lines.push(line));
      ctx.out.result(tree, () => lines);
    });
}
