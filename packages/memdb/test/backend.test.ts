// The Backend contract on the backend MemDB uses: FsBackend over a memfs volume.
import { MARKER_KEY } from '@romi/db-core';
import { describeBackend } from '@romi/db-conformance';
import { MemDB } from '../src/index.js';

describeBackend(
  'fs over memfs (MemDB)',
  async () => {
    const db = new MemDB();
    // The suite starts from empty storage: MemDB writes its marker in the constructor.
    await db.backend.delete(MARKER_KEY);
    return { backend: db.backend, reopen: () => new MemDB({ volume: db.volume }).backend };
  },
);
