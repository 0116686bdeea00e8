import { defineConfig } from 'vitest/config';
import { testTimeoutMs } from './test/support/deadlines.ts';

// One suite for every workspace. DATABASE_URL selects the PostgreSQL backend;
// without it every test database is an in-memory PGlite.
export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'services/*/src/**/*.test.ts',
      'cli/src/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    // A backstop only (15 min × MPAY_TEST_DEADLINE_SCALE): tests wait for readiness with the named,
    // shorter deadlines of test/support/deadlines.ts, which fail first and say what they waited for.
    testTimeout: testTimeoutMs,
    hookTimeout: testTimeoutMs,
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
