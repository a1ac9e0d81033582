// The fault matrix on memdb: faults injected at the backend, and in the memfs file system under it.
import { createFsFromVolume, Volume } from 'memfs';
import { describeFaultMatrix, fill, FaultyBackend, faultyFs, type Content, type FaultLevel, type FaultPlan, type FaultStore } from '@romi/db-conformance';
import { FsBackend, type FsLike } from '@romi/fsdb';

let stores = 0;

/** A fresh memfs database holding `content`, and a way to reach it through faults. */
async function memory(content: Content, faulty: (fs: FsLike, raw: FsBackend, url: string) => (plan: FaultPlan) => FaultyBackend | FsBackend): Promise<FaultStore> {
  const volume = new Volume();
  volume.mkdirSync('/db', { recursive: true });
  const fs = createFsFromVolume(volume) as unknown as FsLike;
  const url = `memory://faults-${++stores}`;
  const raw = new FsBackend('/db', { fs, url });
  await fill(raw, content);
  return { raw, faulty: faulty(fs, raw, url), dispose: async () => {} };
}

const levels: FaultLevel[] = [
  { name: 'backend', faults: ['EIO', 'lost', 'short'], create: (content) => memory(content, (_fs, raw) => (plan) => new FaultyBackend(raw, plan)) },
  {
    name: 'fs',
    faults: ['ENOSPC', 'EIO', 'EACCES', 'short'],
    create: (content) => memory(content, (fs, _raw, url) => (plan) => new FsBackend('/db', { fs: faultyFs(fs, plan), url })),
  },
];

describeFaultMatrix('memdb', levels);
