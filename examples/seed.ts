/**
 * The seed example: a local database with one scan of 99 random 256×256 RGB images,
 * each with metadata, read back and printed as a tree.
 *
 *   pnpm demo [folder]      (default: ./demo-db, recreated on each run)
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FSDB } from '@romi/fsdb';
import { readImage, writeImage } from '@romi/io';

const folder = resolve(process.argv[2] ?? 'demo-db');
await rm(folder, { recursive: true, force: true });
await FSDB.init(folder);

{
  await using db = new FSDB(folder);
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
await using db = new FSDB(folder);
await db.connect({ readOnly: true });
console.log(folder);
for (const scan of await db.getScans()) {
  console.log(`└── ${scan.id} ${JSON.stringify(await scan.getMetadata())}`);
  for (const fileset of await scan.getFilesets()) {
    const files = await fileset.getFiles();
    console.log(`    └── ${fileset.id} (${files.length} files)`);
    for (const [i, file] of files.entries()) {
      const image = await readImage(file);
      const branch = i === files.length - 1 ? '└──' : '├──';
      console.log(`        ${branch} ${file.filename}  ${image.width}×${image.height}×${image.channels}  ${JSON.stringify(await file.getMetadata())}`);
    }
  }
}
