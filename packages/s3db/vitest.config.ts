import { romiProject } from '../../tools/vitest-project.js';

// The conformance and backend suites run on s3rver in `pnpm test`, on radosgw in `pnpm test:slow`.
export default romiProject('s3db', {}, ['test/conformance.test.ts', 'test/backend.test.ts']);
