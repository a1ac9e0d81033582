import { romiProject } from '../../tools/vitest-project.js';

export default romiProject('cli', {
  // The tests drive the built binary: build the workspace first (incremental, fast when up to date).
  globalSetup: ['test/global-setup.ts'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
  // Two servers on s3rver in `pnpm test`, on radosgw in `pnpm test:slow`.
}, ['test/multi-server.test.ts']);
