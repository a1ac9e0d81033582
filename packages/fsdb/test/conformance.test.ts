import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { describeConformance } from '@romi/db-conformance';
import { FSDB } from '../src/index.js';

// Synchronous calls for small objects (the default), and promises only.
for (const syncIO of [true, false]) {
  describeConformance(syncIO ? 'fsdb' : 'fsdb (syncIO: false)', async () => {
    const dir = await mkdtemp(`${tmpdir()}/romidb-conf-`);
    const db = await FSDB.init(dir, { syncIO });
    return { db, backend: db.backend, open: () => new FSDB(dir, { syncIO }), dispose: () => rm(dir, { recursive: true, force: true }) };
  });
}
