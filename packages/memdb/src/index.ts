export { MemDB, type MemDBOptions } from './memdb.js';
export { dummyDB, type DummyDBOptions } from './dummy.js';
