import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*'],
    // CI asks for a JSON report too, to print "N passed, N failed".
    reporters: process.env.ROMI_VITEST_JSON ? ['default', 'json'] : ['default'],
    outputFile: { json: '.vitest.json' },
  },
});
