/**
 * @romi/db-core: the types, errors, id rules, layout, Backend contract and the one
 * implementation of DB/Scan/Fileset/File over any Backend. No Node module is imported here:
 * `@romi/db-core/node` adds what only Node has (File.importFile's local files).
 */
export * from './errors.js';
export type * from './types.js';
export * from './backend.js';
export * from './ids.js';
export { keyProblem, toKey, type Key } from './key.js';
export { RomiDB, type RomiDBOptions, type StorageWriter } from './db.js';
export { initDB, openDB, registerScheme, parseDatabaseUrl, type OpenOptions, type SchemeHandler, type SchemeOpener } from './registry.js';
export {
  keys,
  MARKER_KEY,
  LOCK_NAME,
  INDEX_NAME,
  METADATA_DIR,
  PENDING_NAME,
  INTERNAL_PREFIX,
  isInternalKey,
  ScanIndex,
  storedNameProblem,
} from './layout.js';
export { setLocalFiles, type LocalFile, type LocalFiles } from './local-files.js';
export { MapBackend } from './map-backend.js';
export { snapshotScan, indexForCopy, type ScanSnapshot } from './snapshot.js';
export { formatPythonJson, parseJson, parseJsonTree, toPlain, pythonFloatRepr, copyJsonValue, isPlainObject, MAX_JSON_DEPTH } from './json.js';
export { assertQuery, matchesQuery, partialMatch } from './query.js';
export { mapLimit, KeyedMutex, sleep } from './util.js';
export { acquireLease, inspectLease, type LeaseBody, type LeaseHolder, type LeaseOptions } from './lease.js';
export { archiveEntryPath, archiveEntryProblem, importCap, DEFAULT_IMPORT_LIMITS, type ImportLimits } from './archive-entries.js';
export { mirror, type MirrorOptions, type MirrorProgress, type MirrorResult } from './mirror.js';
