import type { DB } from '@romi/db-core';
import { MemDB } from './memdb.js';

export interface DummyDBOptions {
  withScan?: boolean;
  withFileset?: boolean;
  withFile?: boolean;
}

async function png(data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Uint8Array> {
  const { default: sharp } = await import('sharp');
  let image = sharp(data, { raw: { width, height, channels } });
  // Keep a gray image gray (8-bit, one channel), as numpy/imageio write it.
  if (channels === 1) image = image.toColourspace('b-w');
  const out = await image.png().toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * A connected in-memory database like romidata's dummy_db: flags cascade (file ⇒ fileset ⇒ scan).
 * Scan `myscan_001` {"test": 1}; fileset `fileset_001` {"test_fileset": 1}; files `dummy_image`
 * (2×2 gray PNG [[255,0],[0,255]]), `test_image` (random 50×50 RGB PNG), `test_json`.
 */
export async function dummyDB(opts: DummyDBOptions = {}): Promise<MemDB & DB> {
  const withFileset = opts.withFileset || opts.withFile;
  const withScan = opts.withScan || withFileset;
  const db = new MemDB({ name: 'dummy' });
  await db.connect();
  if (!withScan) return db;
  const scan = await db.createScan('myscan_001', { metadata: { test: 1 } });
  if (!withFileset) return db;
  const fileset = await scan.createFileset('fileset_001', { metadata: { test_fileset: 1 } });
  if (!opts.withFile) return db;

  const dummy = await fileset.createFile('dummy_image', { metadata: { 'dummy image': true } });
  await dummy.writeBytes(await png(new Uint8Array([255, 0, 0, 255]), 2, 2, 1), 'png');

  const random = new Uint8Array(50 * 50 * 3);
  for (let i = 0; i < random.length; i++) random[i] = Math.floor(Math.random() * 256);
  const image = await fileset.createFile('test_image', { metadata: { 'random image': true } });
  await image.writeBytes(await png(random, 50, 50, 3), 'png');

  const json = await fileset.createFile('test_json', { metadata: { 'random json': true } });
  await json.writeText(JSON.stringify({ 'Who you gonna call?': 'Ghostbuster' }), 'json');
  return db;
}
