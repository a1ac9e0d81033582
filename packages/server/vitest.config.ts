import { romiProject } from '../../tools/vitest-project.js';

// routes and hostile requests also run in `pnpm test:slow`, there on s3db over radosgw alone.
export default romiProject('server', {}, ['test/routes.test.ts', 'test/hostile.test.ts']);
