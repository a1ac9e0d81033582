// Node is where this backend runs: File.importFile reads local files through the core's Node entry.
import '@romi/db-core/node';
export { MemDB, type MemDBOptions } from './memdb.js';
export { dummyDB, type DummyDBOptions } from './dummy.js';
