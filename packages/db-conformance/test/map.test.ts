// Every suite of this package on the core's own MapBackend: the behaviour, the Backend contract
import '@romi/db-core/node';
// and the fault matrix, on a backend that uses no Node module (what a browser would run).
import { MARKER_KEY, MapBackend, RomiDB } from '@romi/db-core';
import { describeBackend, describeConformance, describeFaultMatrix, fill, FaultyBackend, type FaultLevel } from '../src/index.js';

let databases = 0;

describeConformance('MapBackend', async () => {
  const backend = new MapBackend(`conformance-${++databases}`);
  await backend.put(MARKER_KEY, new Uint8Array());
  return { db: new RomiDB(backend), backend, open: () => new RomiDB(backend) };
});

describeBackend('MapBackend', async () => {
  const backend = new MapBackend(`backend-${++databases}`);
  return { backend };
});

const level: FaultLevel = {
  name: 'backend',
  faults: ['EIO', 'lost', 'short'],
  create: async (content) => {
    const raw = new MapBackend(`faults-${++databases}`);
    await fill(raw, content);
    return { raw, faulty: (plan) => new FaultyBackend(raw, plan), dispose: async () => {} };
  },
};

describeFaultMatrix('MapBackend', [level]);
