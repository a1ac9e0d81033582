import { defineProject } from 'vitest/config';

export default defineProject({
  ssr: { resolve: { conditions: ['source'] } },
  resolve: { conditions: ['source'] },
  test: { name: 'db-core', include: ['test/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 60_000 },
});
