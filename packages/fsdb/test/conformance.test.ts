import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { describeConformance } from '@romi/db-conformance';
import { FSDB } from '../src/index.js';

describeConformance('fsdb', async () => {
  const dir = await mkdtemp(`${tmpdir()}/romidb-conf-`);
  const db = await FSDB.init(dir);
  return { db, backend: db.backend, open: () => new FSDB(dir), dispose: () => rm(dir, { recursive: true, force: true }) };
});
