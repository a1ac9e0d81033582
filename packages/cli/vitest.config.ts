import { romiProject } from '../../tools/vitest-project.js';

export default romiProject('cli', {
  // The tests drive the built binary: build the workspace first (incremental, fast when up to date).
  globalSetup: ['test/global-setup.ts'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
});
