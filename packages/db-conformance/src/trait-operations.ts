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
  /** Runs the operation, passing `signal` to it (every operation that does I/O takes one). */
  run(o: TraitObjects, signal?: AbortSignal): unknown;
  /** Why a disconnected database does not refuse it, for an operation that connects by itself. */
  connectsItself?: string;
  /**
   * Why an abort partway may leave a partial result: the operation is made to be run again
   * to finish (mirror, whose resumption its own tests check).
   */
  resumable?: string;
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
  { name: 'DB.listScans', kind: 'read', run: ({ db }, signal) => db.listScans({ signal }) },
  { name: 'DB.listScans (query)', kind: 'read', run: ({ db }, signal) => db.listScans({ query: { plant: 'arabidopsis' }, signal }) },
  { name: 'DB.getScans', kind: 'read', run: ({ db }, signal) => db.getScans({ signal }) },
  { name: 'DB.getScan', kind: 'read', run: ({ db }, signal) => db.getScan(SCAN, { signal }) },
  { name: 'DB.hasScan', kind: 'read', run: ({ db }, signal) => db.hasScan(SCAN, { signal }) },
  { name: 'DB.createScan', kind: 'write', run: ({ db }, signal) => db.createScan('new_scan', { metadata: { a: 1 }, signal }) },
  { name: 'DB.deleteScan', kind: 'write', run: ({ db }, signal) => db.deleteScan(SCAN, { signal }) },
  { name: 'DB.reload', kind: 'none', run: ({ db }) => db.reload() },
  { name: 'DB.reload (one scan)', kind: 'none', run: ({ db }) => db.reload(SCAN) },
  { name: 'DB.check', kind: 'read', run: ({ db }, signal) => db.check({ signal }) },
  { name: 'DB.check (fix)', kind: 'write', run: ({ db }, signal) => db.check({ fix: true, signal }) },

  { name: 'Scan.getMetadata', kind: 'read', run: ({ scan }, signal) => scan.getMetadata({ signal }) },
  { name: 'Scan.getMetadata (key)', kind: 'read', run: ({ scan }, signal) => scan.getMetadata('plant', undefined, { signal }) },
  { name: 'Scan.setMetadata (object)', kind: 'write', run: ({ scan }, signal) => scan.setMetadata({ plant: 'tomato' }, { signal }) },
  { name: 'Scan.setMetadata (key, value)', kind: 'write', run: ({ scan }, signal) => scan.setMetadata('plant', 'tomato', { signal }) },
  { name: 'Scan.listFilesets', kind: 'read', run: ({ scan }, signal) => scan.listFilesets({ signal }) },
  { name: 'Scan.listFilesets (query)', kind: 'read', run: ({ scan }, signal) => scan.listFilesets({ query: { channel: 'rgb' }, signal }) },
  { name: 'Scan.getFilesets', kind: 'read', run: ({ scan }, signal) => scan.getFilesets({ signal }) },
  { name: 'Scan.getFileset', kind: 'read', run: ({ scan }, signal) => scan.getFileset(FILESET, { signal }) },
  { name: 'Scan.hasFileset', kind: 'read', run: ({ scan }, signal) => scan.hasFileset(FILESET, { signal }) },
  { name: 'Scan.createFileset', kind: 'write', run: ({ scan }, signal) => scan.createFileset('new_fileset', { metadata: { a: 1 }, signal }) },
  { name: 'Scan.deleteFileset', kind: 'write', run: ({ scan }, signal) => scan.deleteFileset(FILESET, { signal }) },
  { name: 'Scan.getMeasures', kind: 'read', run: ({ scan }, signal) => scan.getMeasures({ signal }) },

  { name: 'Fileset.getMetadata', kind: 'read', run: ({ fileset }, signal) => fileset.getMetadata({ signal }) },
  { name: 'Fileset.setMetadata', kind: 'write', run: ({ fileset }, signal) => fileset.setMetadata('channel', 'mask', { signal }) },
  { name: 'Fileset.listFiles', kind: 'read', run: ({ fileset }, signal) => fileset.listFiles({ signal }) },
  { name: 'Fileset.listFiles (query)', kind: 'read', run: ({ fileset }, signal) => fileset.listFiles({ query: { n: 1 }, signal }) },
  { name: 'Fileset.getFiles', kind: 'read', run: ({ fileset }, signal) => fileset.getFiles({ signal }) },
  { name: 'Fileset.getFile', kind: 'read', run: ({ fileset }, signal) => fileset.getFile(FILE, { signal }) },
  { name: 'Fileset.hasFile', kind: 'read', run: ({ fileset }, signal) => fileset.hasFile(FILE, { signal }) },
  { name: 'Fileset.createFile', kind: 'write', run: ({ fileset }, signal) => fileset.createFile('new_file', { metadata: { a: 1 }, signal }) },
  { name: 'Fileset.createFiles', kind: 'write', run: ({ fileset }, signal) => fileset.createFiles([{ id: 'new_file', data: 'x', ext: 'txt', metadata: { a: 1 } }], { signal }) },
  { name: 'Fileset.deleteFile', kind: 'write', run: ({ fileset }, signal) => fileset.deleteFile(FILE, { signal }) },

  { name: 'File.getMetadata', kind: 'read', run: ({ file }, signal) => file.getMetadata({ signal }) },
  { name: 'File.setMetadata', kind: 'write', run: ({ file }, signal) => file.setMetadata('n', 2, { signal }) },
  { name: 'File.writeBytes', kind: 'write', run: ({ file }, signal) => file.writeBytes(new Uint8Array([1, 2, 3]), 'bin', { signal }) },
  { name: 'File.writeText', kind: 'write', run: ({ file }, signal) => file.writeText('changed', 'txt', { signal }) },
  { name: 'File.writeStream', kind: 'write', run: ({ file }, signal) => file.writeStream(chunks(), 'bin', { signal }) },
  { name: 'File.importFile', kind: 'write', run: ({ file, localFile }, signal) => file.importFile(localFile, { signal }) },
  { name: 'File.readBytes', kind: 'read', run: ({ file }, signal) => file.readBytes({ signal }) },
  { name: 'File.readText', kind: 'read', run: ({ file }, signal) => file.readText({ signal }) },
  { name: 'File.readStream', kind: 'read', run: ({ file }, signal) => drain(file.readStream({ signal })) },
  { name: 'File.localPath', kind: 'none', run: ({ file }) => file.localPath() },

  {
    name: 'mirror (into this database)',
    kind: 'write',
    run: async ({ db, source }, signal) => mirror(await source(), db, { signal }),
    connectsItself: 'mirror() connects a destination given unconnected, for the run',
    resumable: 'an interrupted mirror leaves a partial copy, claimed by a pending marker, that the next run finishes',
  },
];
