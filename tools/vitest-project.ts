// The vitest project of one package, the same for all: tests run on the TypeScript sources
// (the `source` export condition), and the slow ones — named `*.slow.test.ts` — are kept out of
// `pnpm test` and run by `pnpm test:slow` (ROMI_TESTS=slow), which .ci/run runs too.
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

const SLOW = 'test/**/*.slow.test.ts';

export function romiProject(name: string, test: NonNullable<UserWorkspaceConfig['test']> = {}): UserWorkspaceConfig {
  const slow = process.env.ROMI_TESTS === 'slow';
  const all = process.env.ROMI_TESTS === 'all';
  return defineProject({
    ssr: { resolve: { conditions: ['source'] } },
    resolve: { conditions: ['source'] },
    test: {
      name,
      include: slow ? [SLOW] : ['test/**/*.test.ts'],
      exclude: slow || all ? [] : [SLOW],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...test,
    },
  });
}
