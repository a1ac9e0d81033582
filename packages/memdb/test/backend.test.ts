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
  {
    knownFailures: {
      // unlink() of a folder is EPERM here (as on macOS), EISDIR on Linux; FsBackend.delete only expects EISDIR.
      'a file key never deletes a folder, and a folder key never deletes a file': 'FsBackend.delete of a file key naming a folder fails with EPERM (ROMI_STORAGE) on memfs',
    },
  },
);
