/**
 * A consistent view of one scan for copies (mirror, export) taken while a writer may be at work.
 *
 * The writer stores data before the files.json entry that lists it, and removes the entry
 * before the data. So files.json read FIRST, then the listing, gives an index whose files are
 * all in the listing, unless a deletion ran in between (then files.json has changed: read
 * again) or the scan really lacks them (a missing-file problem, copied as it is). Data that
 * vanishes while it is being copied is dropped from the copy's index, and so are entries whose
 * data a writer busier than the re-reads deleted between the read and the listing.
 */
import type { Backend, ObjectMeta, SignalOptions } from './backend.js';
import { ErrorCodes, isRomiError } from './errors.js';
import { INDEX_NAME, isInternalKey, keys, ScanIndex, storedNameProblem } from './layout.js';

export interface ScanSnapshot {
  scan: string;
  /** Every object under the scan folder (folder markers included), files.json and romidb's own entries aside. */
  objects: ObjectMeta[];
  /** files.json as read before the listing; undefined when the scan has none. */
  index?: { bytes: Uint8Array; meta: ObjectMeta };
  /**
   * Data keys the index lists that were gone from the listing while files.json kept changing
   * (a writer deleting them, faster than ATTEMPTS re-reads): the copy's index leaves them out.
   */
  gone?: ReadonlySet<string>;
}

const ATTEMPTS = 5;

async function readIndex(backend: Backend, scan: string, signal?: AbortSignal): Promise<ScanSnapshot['index']> {
  try {
    return await backend.get(keys.index(scan), { signal });
  } catch (err) {
    if (isRomiError(err, ErrorCodes.NOT_FOUND)) return undefined;
    throw err;
  }
}

/** The data keys an index lists (names that cannot be keys are skipped), or none when it cannot be parsed. */
function listedDataKeys(scan: string, index: ScanSnapshot['index']): Map<string, { fileset: string; file: string }> {
  const out = new Map<string, { fileset: string; file: string }>();
  if (!index) return out;
  let parsed: ScanIndex;
  try {
    parsed = ScanIndex.parse(index.bytes, keys.index(scan));
  } catch (err) {
    if (isRomiError(err, ErrorCodes.CORRUPT)) return out;
    throw err;
  }
  for (const fs of parsed.filesets) {
    for (const f of fs.files ?? []) {
      const name = ScanIndex.filenameOf(f);
      if (name === null || storedNameProblem(name) !== undefined || storedNameProblem(fs.id) !== undefined) continue;
      out.set(keys.fileData(scan, fs.id, name), { fileset: fs.id, file: f.id });
    }
  }
  return out;
}

export async function snapshotScan(backend: Backend, scan: string, { signal }: SignalOptions = {}): Promise<ScanSnapshot> {
  const indexKey = `${scan}/${INDEX_NAME}`;
  for (let attempt = 1; ; attempt++) {
    const index = await readIndex(backend, scan, signal);
    const objects: ObjectMeta[] = [];
    const present = new Set<string>();
    for await (const entry of backend.list(keys.scanFolder(scan), { signal })) {
      if (entry.kind !== 'object' || entry.key === indexKey || isInternalKey(entry.key)) continue;
      objects.push(entry);
      present.add(entry.key);
    }
    const absent = [...listedDataKeys(scan, index).keys()].filter((key) => !present.has(key));
    const snapshot = { scan, objects, ...(index ? { index } : {}) };
    // Data listed but absent: if files.json is unchanged the scan lacks it; else a writer moved on.
    if (absent.length === 0 || (await readIndex(backend, scan, signal))?.meta.etag === index?.meta.etag) return snapshot;
    if (attempt >= ATTEMPTS) return { ...snapshot, gone: new Set(absent) };
  }
}

/**
 * The files.json to write in a copy: the snapshot's bytes, or, when data listed in them could
 * not be copied because it vanished meanwhile, the same index without those entries.
 */
export function indexForCopy(snapshot: ScanSnapshot, vanished: ReadonlySet<string>): Uint8Array | undefined {
  const { index, scan } = snapshot;
  if (!index) return undefined;
  const dropped = [...listedDataKeys(scan, index)].filter(([key]) => vanished.has(key) || snapshot.gone?.has(key));
  if (dropped.length === 0) return index.bytes;
  const parsed = ScanIndex.parse(index.bytes, keys.index(scan));
  for (const [, { fileset, file }] of dropped) parsed.removeFile(fileset, file);
  return parsed.serialize();
}
