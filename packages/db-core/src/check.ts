/**
 * check(): compares what files.json and the metadata say with what storage holds.
 * fix: re-indexes unlisted files and filesets, recreates missing fileset folders, and
 * drops entries whose data is gone after backing up files.json. It never deletes data: what
 * it removes are leftovers of stopped writers (temporary files, trash, scans an interrupted
 * operation was filling, the old data of a rewrite cut short after its index write), marked as
 * such by romidb when it wrote them.
 */
import { ErrorCodes, isRomiError, ScanNotFoundError } from './errors.js';
import { parseJsonTree, isPlainObject } from './json.js';
import { toKey } from './key.js';
import {
  INDEX_NAME,
  isInternalKey,
  isLeftoverName,
  keys,
  LOCK_NAME,
  METADATA_DIR,
  NOT_FILESETS,
  PENDING_NAME,
  REPLACED_PREFIX,
  ScanIndex,
  storedNameProblem,
} from './layout.js';
import type { Port } from './port.js';
import type { CheckOptions, CheckReport, Problem } from './types.js';
import { mapLimit } from './util.js';

const LEFTOVER = 'left by a writer that was stopped (a temporary file or trash); holds no data that was stored';

/** Checks the database; `scans`, when given, receives each folder checked that is a scan once checked (and repaired). */
export async function runCheck(port: Port, opts: CheckOptions, scans?: Set<string>): Promise<CheckReport> {
  const { backend } = port;
  const signal = opts.signal;
  const problems: Problem[] = [];
  const fix = !!opts.fix;
  // Temporary files are leftovers only when no other live writer may be using them.
  let liveWriter = false;

  if (backend.inspectLock) {
    const info = await backend.inspectLock(LOCK_NAME, { signal, staleMs: port.lockStaleMs });
    if (info?.foreign) {
      problems.push({ kind: 'foreign-lock', key: LOCK_NAME, detail: 'a lock written by another tool is present; it is honoured and never taken over automatically' });
    } else if (info?.stale) {
      problems.push({ kind: 'stale-lock', key: LOCK_NAME, detail: `the writer lock has not been refreshed since ${info.mtime?.toISOString() ?? 'an unknown time'}` });
    }
    liveWriter = !fix && info !== undefined && !info.foreign && !info.stale;
  }
  const leftovers: Problem[] = [];
  const leftover = (key: string, scan?: string, detail = LEFTOVER): void => {
    if (!liveWriter) leftovers.push({ kind: 'temp-file', ...(scan === undefined ? {} : { scan }), key, detail });
  };

  let scanIds: string[];
  if (opts.scans) {
    for (const id of opts.scans) if (!(await port.hasScan(id, { signal }))) throw new ScanNotFoundError(id);
    scanIds = opts.scans;
  } else {
    scanIds = [];
    for await (const entry of backend.list('', { delimiter: '/', internal: true, signal })) {
      const name = entry.key.replace(/\/$/, '');
      if (isLeftoverName(name)) leftover(entry.key);
      if (entry.kind !== 'prefix') continue;
      if (name.startsWith('.') || name === LOCK_NAME) continue;
      if (storedNameProblem(name) !== undefined) {
        problems.push({ kind: 'unsafe-name', key: entry.key, detail: 'a folder name that cannot be used safely' });
        continue;
      }
      scanIds.push(name);
    }
    scanIds.sort();
  }

  await mapLimit(scanIds, 4, async (id) => {
    if (await checkScan(port, id, fix, problems, leftover, signal)) scans?.add(id);
  }, signal);
  problems.push(...leftovers);
  if (fix) {
    for (const p of leftovers) {
      port.assertWritable('repair the database');
      await backend.delete(toKey(p.key!), { signal });
      p.fixed = true;
    }
  }
  return { ok: problems.every((p) => p.fixed), problems };
}

/** Checks (and with `fix` repairs) one root folder; true when it is a scan by the rule of db.ts, once checked. */
async function checkScan(
  port: Port,
  scanId: string,
  fix: boolean,
  problems: Problem[],
  leftover: (key: string, scan: string, detail?: string) => void,
  signal?: AbortSignal,
): Promise<boolean> {
  const { backend } = port;
  const prefix = `${scanId}/`;
  const objects = new Set<string>();
  const folders = new Set<string>();
  let pending = false;
  /** Data that a rewrite with another extension was replacing (marker → data, relative keys). */
  const replaced = new Map<string, string>();
  for await (const entry of backend.list(toKey(prefix), { internal: true, signal })) {
    if (entry.kind !== 'object') continue;
    const rel = entry.key.slice(prefix.length);
    if (isInternalKey(rel)) {
      const name = rel.replace(/\/$/, '').split('/').pop()!;
      if (rel === PENDING_NAME) pending = true;
      else if (name.startsWith(REPLACED_PREFIX)) replaced.set(rel, rel.slice(0, rel.length - name.length) + name.slice(REPLACED_PREFIX.length));
      else if (isLeftoverName(name)) leftover(entry.key, scanId);
      continue;
    }
    if (rel.endsWith('/')) folders.add(rel.slice(0, -1));
    else objects.add(rel);
  }
  const isScan = objects.has(INDEX_NAME) || [...objects].some((k) => k.startsWith(`${METADATA_DIR}/`));
  if (pending) {
    // Complete once its files.json is written (the operation's last step but the marker's removal).
    const complete = objects.has(INDEX_NAME);
    const problem: Problem = {
      kind: 'incomplete-scan',
      scan: scanId,
      key: complete ? keys.pending(scanId) : prefix,
      detail: complete
        ? 'the operation that wrote this scan was stopped just before removing its marker; the scan is complete'
        : 'an operation (an archive import, a mirror) was stopped while writing this scan; nothing in it predates that operation, and check --fix removes it',
    };
    problems.push(problem);
    if (fix) {
      port.assertWritable('repair the database');
      await backend.delete(toKey(problem.key!), { signal });
      problem.fixed = true;
    }
    if (!complete) return isScan && !fix;
  }
  if (!isScan) return false;

  let index: ScanIndex | undefined;
  if (objects.has(INDEX_NAME)) {
    try {
      index = ScanIndex.parse((await backend.get(keys.index(scanId), { signal })).bytes, keys.index(scanId));
    } catch (err) {
      if (!isRomiError(err, ErrorCodes.CORRUPT)) throw err;
      problems.push({ kind: 'corrupt-json', scan: scanId, key: keys.index(scanId), detail: (err as Error).message });
    }
  } else {
    index = ScanIndex.empty();
  }

  // Every metadata JSON must parse; metadata of unknown filesets and files is orphaned.
  const metadataKeys = [...objects].filter((k) => k.startsWith(`${METADATA_DIR}/`) && k.endsWith('.json'));
  await mapLimit(metadataKeys, 8, async (rel) => {
    const key = prefix + rel;
    try {
      const tree = parseJsonTree((await backend.get(toKey(key), { signal })).bytes);
      if (!isPlainObject(tree)) throw new Error('not a JSON object');
    } catch (err) {
      if (isRomiError(err)) throw err;
      problems.push({ kind: 'corrupt-json', scan: scanId, key, detail: (err as Error).message });
    }
    if (!index) return;
    const parts = rel.slice(METADATA_DIR.length + 1).split('/');
    if (parts.length === 1 && parts[0] !== 'metadata.json') {
      const fsId = parts[0]!.slice(0, -'.json'.length);
      if (!index.fileset(fsId)) problems.push({ kind: 'orphan-metadata', scan: scanId, fileset: fsId, key, detail: 'metadata of a fileset that files.json does not list' });
    } else if (parts.length === 2) {
      const [fsId, name] = parts as [string, string];
      const fileId = name.slice(0, -'.json'.length);
      if (!index.file(fsId, fileId)) {
        problems.push({ kind: 'orphan-metadata', scan: scanId, fileset: fsId, file: fileId, key, detail: 'metadata of a file that files.json does not list' });
      }
    }
  });
  if (!index) return true;

  // Data the index lists, and data it does not.
  const missing: Array<{ fs: string; file: string }> = [];
  const missingFolders: string[] = [];
  const listed = new Set<string>();
  for (const fs of index.filesets) {
    if (storedNameProblem(fs.id) !== undefined) {
      problems.push({ kind: 'unsafe-name', scan: scanId, fileset: fs.id, key: keys.index(scanId), detail: 'a fileset id that cannot be used safely' });
      continue;
    }
    const hasFolder = folders.has(fs.id) || [...objects].some((k) => k.startsWith(`${fs.id}/`));
    // Listings leave out what resolves outside the root (a symlinked folder): that is not missing.
    const unreachable = !hasFolder && (await unsafeKey(backend, keys.filesetFolder(scanId, fs.id), signal));
    if (unreachable) {
      problems.push({ kind: 'unsafe-name', scan: scanId, fileset: fs.id, key: keys.filesetFolder(scanId, fs.id), detail: unreachable });
      continue;
    }
    if (!hasFolder && !missingFolders.includes(fs.id)) {
      missingFolders.push(fs.id);
      problems.push({ kind: 'missing-fileset', scan: scanId, fileset: fs.id, key: keys.filesetFolder(scanId, fs.id), detail: 'files.json lists a fileset whose folder does not exist' });
    }
    for (const f of fs.files ?? []) {
      const filename = ScanIndex.filenameOf(f);
      if (filename === null) continue;
      if (storedNameProblem(filename) !== undefined) {
        problems.push({ kind: 'unsafe-name', scan: scanId, fileset: fs.id, file: f.id, key: keys.index(scanId), detail: `file name ${JSON.stringify(filename)} cannot be used safely` });
        continue;
      }
      const rel = `${fs.id}/${filename}`;
      listed.add(rel);
      const unreachableFile = !objects.has(rel) && (await unsafeKey(backend, prefix + rel, signal));
      if (unreachableFile) {
        problems.push({ kind: 'unsafe-name', scan: scanId, fileset: fs.id, file: f.id, key: prefix + rel, detail: unreachableFile });
      } else if (!objects.has(rel)) {
        missing.push({ fs: fs.id, file: f.id });
        problems.push({ kind: 'missing-file', scan: scanId, fileset: fs.id, file: f.id, key: prefix + rel, detail: 'listed in files.json but missing from storage' });
      }
    }
  }
  // A rewrite with another extension cut short: before its index write, the new data it was
  // writing is the leftover; after it, the old data it was removing. Then the marker.
  const stale = new Set<string>();
  for (const [marker, old] of replaced) {
    if (listed.has(old)) {
      const text = await backend.get(toKey(prefix + marker), { signal }).then((m) => new TextDecoder().decode(m.bytes), () => '');
      const added = `${old.slice(0, old.lastIndexOf('/') + 1)}${text}`;
      if (text !== '' && storedNameProblem(text) === undefined && !listed.has(added) && objects.has(added)) {
        stale.add(added);
        leftover(prefix + added, scanId, 'the new data of a rewrite with another extension that was stopped before its index write');
      }
    } else if (objects.has(old)) {
      stale.add(old);
      leftover(prefix + old, scanId, 'an old version of a file, replaced by a rewrite with another extension that was stopped before removing it');
    }
    leftover(prefix + marker, scanId);
  }
  const unlisted: Array<{ fs: string; name: string; problem: Problem }> = [];
  const unlistedFilesets = new Map<string, Problem>();
  for (const rel of [...objects].sort()) {
    const slash = rel.indexOf('/');
    if (slash < 0 || listed.has(rel) || stale.has(rel)) continue;
    const fsId = rel.slice(0, slash);
    const name = rel.slice(slash + 1);
    if (NOT_FILESETS.has(fsId) || fsId.startsWith('.')) continue;
    if (!index.fileset(fsId) && !unlistedFilesets.has(fsId)) {
      const problem: Problem = { kind: 'unlisted-fileset', scan: scanId, fileset: fsId, key: `${prefix}${fsId}/`, detail: 'a folder that files.json does not list' };
      unlistedFilesets.set(fsId, problem);
      problems.push(problem);
    }
    const problem: Problem = { kind: 'unlisted-file', scan: scanId, fileset: fsId, key: prefix + rel, detail: 'present in storage but not listed in files.json' };
    problems.push(problem);
    unlisted.push({ fs: fsId, name, problem });
  }
  for (const folder of folders) {
    if (!folder.includes('/') && !NOT_FILESETS.has(folder) && !folder.startsWith('.') && !index.fileset(folder) && !unlistedFilesets.has(folder)) {
      const problem: Problem = { kind: 'unlisted-fileset', scan: scanId, fileset: folder, key: `${prefix}${folder}/`, detail: 'a folder that files.json does not list' };
      unlistedFilesets.set(folder, problem);
      problems.push(problem);
    }
  }

  if (!fix) return true;
  const repairable = missing.length + missingFolders.length + unlisted.length + unlistedFilesets.size;
  if (repairable === 0) return true;
  try {
    await repairScan(port, scanId, { missing, missingFolders, unlisted, unlistedFilesets }, problems, signal);
  } catch (err) {
    // One scan that cannot be repaired does not stop the others; its problems stay open.
    if (!isRomiError(err) || isRomiError(err, ErrorCodes.ABORTED) || isRomiError(err, ErrorCodes.LOCK_LOST)) throw err;
    for (const p of problems) if (p.scan === scanId && !p.fixed) p.detail += ` (not repaired: ${(err as Error).message})`;
  }
  return true;
}

/** Why `key` cannot be reached safely (it resolves outside the root), or undefined. */
async function unsafeKey(backend: Port['backend'], key: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    await backend.head(toKey(key), { signal });
    return undefined;
  } catch (err) {
    if (isRomiError(err, ErrorCodes.INVALID_KEY)) return `cannot be reached safely: ${(err as Error).message}`;
    throw err;
  }
}

interface Repairs {
  missing: Array<{ fs: string; file: string }>;
  missingFolders: string[];
  unlisted: Array<{ fs: string; name: string; problem: Problem }>;
  unlistedFilesets: Map<string, Problem>;
}

async function repairScan(port: Port, scanId: string, { missing, missingFolders, unlisted, unlistedFilesets }: Repairs, problems: Problem[], signal?: AbortSignal): Promise<void> {
  const { backend } = port;
  const scan = port.scanIndex(scanId);
  if (missing.length > 0) await backUpIndex(port, scanId, signal);
  for (const fsId of missingFolders) await port.write(keys.filesetFolder(scanId, fsId), new Uint8Array(), { signal, what: 'repair' });
  await scan.mutateIndex(
    'repair files.json',
    (idx) => {
      for (const { fs, file } of missing) {
        if (idx.file(fs, file)) idx.removeFile(fs, file);
      }
      for (const fsId of unlistedFilesets.keys()) {
        if (storedNameProblem(fsId) === undefined && !idx.fileset(fsId)) idx.addFileset(fsId);
        unlistedFilesets.get(fsId)!.fixed = true;
      }
      for (const u of unlisted) {
        if (u.name.includes('/') || u.name.endsWith('/')) continue;
        const dot = u.name.lastIndexOf('.');
        const id = dot > 0 ? u.name.slice(0, dot) : u.name;
        const existing = idx.file(u.fs, id);
        if (existing && ScanIndex.filenameOf(existing) !== null) continue;
        if (existing) idx.setFilename(u.fs, id, u.name);
        else idx.addFile(u.fs, id, u.name);
        u.problem.fixed = true;
      }
    },
    { signal },
  );
  // Metadata of dropped entries stays (fix never deletes data): say so in this report.
  for (const { fs, file } of missing) {
    if (storedNameProblem(file) !== undefined || file.includes('/')) continue;
    const key = keys.fileMetadata(scanId, fs, file);
    if (await backend.head(key, { signal })) problems.push({ kind: 'orphan-metadata', scan: scanId, fileset: fs, file, key, detail: 'metadata of a file whose entry fix dropped because its data is gone' });
  }
  const final = (await scan.loadIndex({ signal })).index;
  for (const p of problems) {
    if (p.scan !== scanId) continue;
    if (p.kind === 'missing-file' || p.kind === 'missing-fileset') p.fixed = true;
    // Metadata of a file whose data was just re-indexed is no longer orphaned.
    if (p.kind === 'orphan-metadata' && p.fileset !== undefined && (p.file === undefined ? final.fileset(p.fileset) : final.file(p.fileset, p.file))) p.fixed = true;
  }
}

/** Saves files.json as files_<date>.json before fix drops entries; never overwrites a backup. */
async function backUpIndex(port: Port, scanId: string, signal?: AbortSignal): Promise<void> {
  const original = await port.backend.get(keys.index(scanId), { signal });
  const now = new Date();
  for (let n = 0; ; n++) {
    try {
      await port.write(keys.indexBackup(scanId, now, n), original.bytes, { ifNoneMatch: '*', signal, what: 'back up files.json' });
      return;
    } catch (err) {
      if (!isRomiError(err, ErrorCodes.CONDITION_FAILED) || n >= 100) throw err;
    }
  }
}
