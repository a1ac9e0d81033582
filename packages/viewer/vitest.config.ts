import { romiProject } from '../../tools/vitest-project.js';

// The tests drive the built viewer (dist/): test/global-setup.ts builds it when it is missing.
export default romiProject('viewer', { globalSetup: ['test/global-setup.ts'], testTimeout: 120_000 });
