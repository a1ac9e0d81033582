/**
 * Every operation of the public API, as one table, for the traits that hold for all of them
 * (traits.ts). A new method of DB, Scan, Fileset or File gets a row here, so that no trait
 * forgets it.
 */
import { mirror, type DB, type File, type Fileset, type Scan } from '@romi/db-core';

/** What an operation runs on: the objects of the traits fixture (traits.ts). */
export interface TraitObjects {
  db: DB;
  scan: Scan;
  fileset: Fileset;
  /** A written file (`a.txt`) with metadata. */
  file: File;
  /** A regular file on the local file system, for importFile. */
  localFile: string;
  /** Another database holding one scan, for mirror. */
  source(): Promise<DB>;
}

export interface TraitOperation {
  /** `Class.method`, and what is special about the call in parentheses. */
  name: string;
  /** What it does to storage: read-only connections run reads and refuse writes; 'none' touches no storage. */
  kind: 'read' | 'write' | 'none';
  run(o: TraitObjects): unknown;
  /** Why a disconnected database does not refuse it, for an operation that connects by itself. */
  connectsItself?: string;
}

/** Ids of the traits fixture. */
export const TRAIT_IDS = { scan: 'traits_scan', fileset: 'images', file: 'a', sourceScan: 'mirrored' } as const;

const { scan: SCAN, fileset: FILESET, file: FILE } = TRAIT_IDS;

async function* chunks(): AsyncIterable<Uint8Array> {
  yield new Uint8Array([1, 2]);
  yield new Uint8Array([3]);
}

/** Reads a stream to its end (a stream fails only when read). */
async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let size = 0;
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) size += chunk.byteLength;
  return size;
}

export const TRAIT_OPERATIONS: readonly TraitOperation[] = [
  { name: 'DB.listScans', kind: 'read', run: ({ db }) => db.listScans() },
  { name: 'DB.listScans (query)', kind: 'read', run: ({ db }) => db.listScans({ query: { plant: 'arabidopsis' } }) },
  { name: 'DB.getScans', kind: 'read', run: ({ db }) => db.getScans() },
  { name: 'DB.getScan', kind: 'read', run: ({ db }) => db.getScan(SCAN) },
  { name: 'DB.hasScan', kind: 'read', run: ({ db }) => db.hasScan(SCAN) },
  { name: 'DB.createScan', kind: 'write', run: ({ db }) => db.createScan('new_scan', { metadata: { a: 1 } }) },
  { name: 'DB.deleteScan', kind: 'write', run: ({ db }) => db.deleteScan(SCAN) },
  { name: 'DB.reload', kind: 'none', run: ({ db }) => db.reload() },
  { name: 'DB.reload (one scan)', kind: 'none', run: ({ db }) => db.reload(SCAN) },
  { name: 'DB.check', kind: 'read', run: ({ db }) => db.check() },
  { name: 'DB.check (fix)', kind: 'write', run: ({ db }) => db.check({ fix: true }) },

  { name: 'Scan.getMetadata', kind: 'read', run: ({ scan }) => scan.getMetadata() },
  { name: 'Scan.getMetadata (key)', kind: 'read', run: ({ scan }) => scan.getMetadata('plant') },
  { name: 'Scan.setMetadata (object)', kind: 'write', run: ({ scan }) => scan.setMetadata({ plant: 'tomato' }) },
  { name: 'Scan.setMetadata (key, value)', kind: 'write', run: ({ scan }) => scan.setMetadata('plant', 'tomato') },
  { name: 'Scan.listFilesets', kind: 'read', run: ({ scan }) => scan.listFilesets() },
  { name: 'Scan.listFilesets (query)', kind: 'read', run: ({ scan }) => scan.listFilesets({ query: { channel: 'rgb' } }) },
  { name: 'Scan.getFilesets', kind: 'read', run: ({ scan }) => scan.getFilesets() },
  { name: 'Scan.getFileset', kind: 'read', run: ({ scan }) => scan.getFileset(FILESET) },
  { name: 'Scan.hasFileset', kind: 'read', run: ({ scan }) => scan.hasFileset(FILESET) },
  { name: 'Scan.createFileset', kind: 'write', run: ({ scan }) => scan.createFileset('new_fileset', { metadata: { a: 1 } }) },
  { name: 'Scan.deleteFileset', kind: 'write', run: ({ scan }) => scan.deleteFileset(FILESET) },
  { name: 'Scan.getMeasures', kind: 'read', run: ({ scan }) => scan.getMeasures() },

  { name: 'Fileset.getMetadata', kind: 'read', run: ({ fileset }) => fileset.getMetadata() },
  { name: 'Fileset.setMetadata', kind: 'write', run: ({ fileset }) => fileset.setMetadata('channel', 'mask') },
  { name: 'Fileset.listFiles', kind: 'read', run: ({ fileset }) => fileset.listFiles() },
  { name: 'Fileset.listFiles (query)', kind: 'read', run: ({ fileset }) => fileset.listFiles({ query: { n: 1 } }) },
  { name: 'Fileset.getFiles', kind: 'read', run: ({ fileset }) => fileset.getFiles() },
  { name: 'Fileset.getFile', kind: 'read', run: ({ fileset }) => fileset.getFile(FILE) },
  { name: 'Fileset.hasFile', kind: 'read', run: ({ fileset }) => fileset.hasFile(FILE) },
  { name: 'Fileset.createFile', kind: 'write', run: ({ fileset }) => fileset.createFile('new_file', { metadata: { a: 1 } }) },
  { name: 'Fileset.createFiles', kind: 'write', run: ({ fileset }) => fileset.createFiles([{ id: 'new_file', data: 'x', ext: 'txt', metadata: { a: 1 } }]) },
  { name: 'Fileset.deleteFile', kind: 'write', run: ({ fileset }) => fileset.deleteFile(FILE) },

  { name: 'File.getMetadata', kind: 'read', run: ({ file }) => file.getMetadata() },
  { name: 'File.setMetadata', kind: 'write', run: ({ file }) => file.setMetadata('n', 2) },
  { name: 'File.writeBytes', kind: 'write', run: ({ file }) => file.writeBytes(new Uint8Array([1, 2, 3]), 'bin') },
  { name: 'File.writeText', kind: 'write', run: ({ file }) => file.writeText('changed', 'txt') },
  { name: 'File.writeStream', kind: 'write', run: ({ file }) => file.writeStream(chunks(), 'bin') },
  { name: 'File.importFile', kind: 'write', run: ({ file, localFile }) => file.importFile(localFile) },
  { name: 'File.readBytes', kind: 'read', run: ({ file }) => file.readBytes() },
  { name: 'File.readText', kind: 'read', run: ({ file }) => file.readText() },
  { name: 'File.readStream', kind: 'read', run: ({ file }) => drain(file.readStream()) },
  { name: 'File.localPath', kind: 'none', run: ({ file }) => file.localPath() },

  {
    name: 'mirror (into this database)',
    kind: 'write',
    run: async ({ db, source }) => mirror(await source(), db),
    connectsItself: 'mirror() connects a destination given unconnected, for the run',
  },
];
