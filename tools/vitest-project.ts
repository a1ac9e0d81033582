// The vitest project of one package, the same for all: tests run on the TypeScript sources
// (the `source` export condition), and the slow ones — named `*.slow.test.ts` — are kept out of
// `pnpm test` and run by `pnpm test:slow` (ROMI_TESTS=slow), which .ci/run runs too.
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

const SLOW = 'test/**/*.slow.test.ts';

/** `alsoSlow`: test files that run in both, each choosing what it runs on (see suiteS3Targets). */
export function romiProject(name: string, test: NonNullable<UserWorkspaceConfig['test']> = {}, alsoSlow: string[] = []): UserWorkspaceConfig {
  const slow = process.env.ROMI_TESTS === 'slow';
  const all = process.env.ROMI_TESTS === 'all';
  return defineProject({
    ssr: { resolve: { conditions: ['source'] } },
    resolve: { conditions: ['source'] },
    test: {
      name,
      include: slow ? [SLOW, ...alsoSlow] : ['test/**/*.test.ts'],
      exclude: slow || all ? [] : [SLOW],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...test,
    },
  });
}
