// The fault matrix on a real disk: faults injected into node:fs under the fs backend. (Faults at
// the backend level do not depend on the storage: memdb's matrix runs them.) EIO and EACCES take
// the same paths as ENOSPC here; "short" adds torn writes.
import nodeFs from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { describeFaultMatrix, fill, faultyFs, type Content, type FaultLevel } from '@romi/db-conformance';
import { FsBackend } from '../src/index.js';

/** RAM-backed when the machine has /dev/shm: the same node:fs calls, hundreds of cases faster. */
const base = nodeFs.existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/** Each content is written once, then copied for every case. */
const templates = new Map<Content, string>();
afterAll(async () => {
  for (const dir of templates.values()) await rm(dir, { recursive: true, force: true });
});

const disk: FaultLevel = {
  name: 'fs',
  faults: ['ENOSPC', 'short'],
  create: async (content) => {
    let template = templates.get(content);
    if (!template) {
      template = await mkdtemp(join(base, 'romidb-faults-template-'));
      await fill(new FsBackend(template), content);
      templates.set(content, template);
    }
    const dir = await mkdtemp(join(base, 'romidb-faults-'));
    await cp(template, dir, { recursive: true });
    const raw = new FsBackend(dir);
    return {
      raw,
      faulty: (plan) => new FsBackend(dir, { fs: faultyFs(nodeFs, plan), realDisk: true }),
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

describeFaultMatrix('fsdb', [disk]);
