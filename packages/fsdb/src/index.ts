// Node is where this backend runs: File.importFile reads local files through the core's Node entry.
import '@romi/db-core/node';
export { FSDB, type FSDBOptions } from './fsdb.js';
export { FsBackend, type FsBackendOptions, type FsLike } from './fs-backend.js';
