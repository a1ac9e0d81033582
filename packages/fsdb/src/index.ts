export { FSDB, type FSDBOptions } from './fsdb.js';
export { FsBackend, type FsBackendOptions, type FsLike } from './fs-backend.js';
