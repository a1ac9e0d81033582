/**
 * A scan as a ZIP archive, streamed as it is read (one stored object open at a time, ZIP64 when
 * the sizes need it), with paths relative to the scan folder as plantdb writes them; without
 * `webcache/` and without romidb's own entries.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import yazl from 'yazl';
import { isInternalKey, keys, toKey, type Backend } from '@romi/db-core';

/** Worth deflating: text formats. Images and binary clouds are stored as they are. */
const DEFLATE = /\.(json|toml|txt|csv|yaml|yml|obj|mtl)$/i;

/** The entries of the scan's archive, in key order. */
async function archiveEntries(backend: Backend, scan: string, signal?: AbortSignal): Promise<Array<{ key: string; name: string; mtime?: Date; size: number }>> {
  const folder = keys.scanFolder(scan);
  const entries: Array<{ key: string; name: string; mtime?: Date; size: number }> = [];
  for await (const e of backend.list(folder, { signal })) {
    if (e.kind !== 'object' || e.key.endsWith('/') || isInternalKey(e.key)) continue;
    const name = e.key.slice(folder.length);
    if (name.startsWith('webcache/')) continue;
    entries.push({ key: e.key, name, mtime: e.mtime, size: e.size });
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The archive as a Node stream; a read error ends it with that error (the client sees a cut answer). */
export async function scanArchive(backend: Backend, scan: string, signal?: AbortSignal): Promise<Readable> {
  const entries = await archiveEntries(backend, scan, signal);
  const zip = new yazl.ZipFile();
  for (const entry of entries) {
    zip.addReadStreamLazy(entry.name, { mtime: entry.mtime ?? new Date(), compress: DEFLATE.test(entry.name) }, (cb) => {
      backend.getStream(toKey(entry.key), { signal }).then(
        ({ stream }) => cb(null, Readable.fromWeb(stream as NodeWebStream<Uint8Array>)),
        (err: Error) => cb(err, undefined as never),
      );
    });
  }
  zip.end();
  const out = zip.outputStream as Readable;
  zip.on('error', (err: Error) => out.destroy(err));
  return out;
}
