import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*'],
    // Both cores: vitest's default leaves one free, which makes the suite run one file at a time
    // on a 2-core machine. The slow tests (processes killed on purpose, tight timings) keep one.
    maxWorkers: process.env.ROMI_TESTS === 'slow' ? 1 : 2,
    // CI asks for a JSON report too (ROMI_VITEST_JSON names the file), to print "N passed, N failed".
    reporters: process.env.ROMI_VITEST_JSON ? ['default', 'json'] : ['default'],
    outputFile: { json: process.env.ROMI_VITEST_JSON || '.vitest.json' },
  },
});
