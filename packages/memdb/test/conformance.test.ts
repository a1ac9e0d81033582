import { RomiDB } from '@romi/db-core';
import { describeConformance } from '@romi/db-conformance';
import { MemDB } from '../src/index.js';

describeConformance('memdb', async () => {
  const db = new MemDB();
  return { db, backend: db.backend, open: () => new MemDB({ volume: db.volume }) };
});

// The same suite over a plain RomiDB sharing MemDB's backend object: the core, not the class, holds the behaviour.
describeConformance('memdb (shared backend object)', async () => {
  const mem = new MemDB();
  return { db: new RomiDB(mem.backend), backend: mem.backend, open: () => new RomiDB(mem.backend) };
});
