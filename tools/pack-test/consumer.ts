// Type-checked by tools/pack-test/run.mjs (tsc --noEmit, moduleResolution NodeNext and bundler)
// against the .d.ts files the packed packages ship. Each @ts-expect-error fails the check if the
// types it guards were lost (an `any` accepts everything).
import { isRomiError, openDB, type RomiError } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import { MemDB, dummyDB } from '@romi/memdb';
import { S3DB } from '@romi/s3db';
import { decodeNpy, encodeNpy, ndarray, type Image, type NDArray } from '@romi/io';
import { main, VERSION, type CliIO } from '@romi/cli';
import { describeConformance } from '@romi/db-conformance';
import { createServer, VERSION as SERVER_VERSION, type ServerOptions } from '@romi/server';

export async function roundTrip(): Promise<Uint8Array> {
  const db = new MemDB();
  await db.connect();
  const scan = await db.createScan('plant_001', { metadata: { species: 'arabidopsis' } });
  const images = await scan.createFileset('images');
  const file = await images.createFile('00000_rgb', { metadata: { approximate_pose: [76.6, 343.6, 80, 276.0, 0] } });
  await file.writeBytes(new Uint8Array([1, 2, 3]), 'jpg');
  await file.setMetadata('channel', 'rgb');
  // @ts-expect-error: ids are strings
  await db.createScan(42);
  // @ts-expect-error: writeBytes takes bytes and an extension
  await file.writeBytes('text');
  const ids: string[] = await db.listScans({ query: { species: 'arab.*' }, fuzzy: true });
  void ids;
  const bytes = await (await images.getFile('00000_rgb')).readBytes();
  await db.disconnect();
  return bytes;
}

export async function onDisk(path: string): Promise<void> {
  await FSDB.init(path);
  const db = new FSDB(path);
  await db.connect({ readOnly: true });
  try {
    await db.getScan('nope');
  } catch (err) {
    if (isRomiError(err, 'ROMI_NOT_FOUND')) {
      const typed: RomiError = err;
      const code: string = typed.code;
      void code;
    }
  }
  await db.disconnect();
  const other = await openDB(`file://${path}`);
  void other;
}

export const s3 = new S3DB({ bucket: 'scans', prefix: 'db', region: 'us-east-1' });
export const dummy = (): ReturnType<typeof dummyDB> => dummyDB();

export function npy(): NDArray {
  const array = ndarray('float32', [2, 3]);
  // @ts-expect-error: decodeNpy takes bytes
  decodeNpy(array);
  return decodeNpy(encodeNpy(array));
}

export const pixel = (image: Image): number => image.data[0] ?? 0;

export async function cli(io: CliIO): Promise<number> {
  const version: string = VERSION;
  void version;
  return main(['node', 'romidb', '--version'], io);
}

export const suite: typeof describeConformance = describeConformance;

export async function serve(): Promise<string> {
  const db = new MemDB();
  const opts: ServerOptions = { db, prefix: '/api', rateLimit: { files: 600 }, refreshIntervalMs: 0 };
  // @ts-expect-error: db is required
  await createServer({ prefix: '/api' });
  const app = await createServer(opts);
  const version: string = SERVER_VERSION;
  void version;
  const url: string = await app.listen({ host: '127.0.0.1', port: 0 });
  await app.close();
  return url;
}
