import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import HeavyFirstSequencer from './test/heavy-first-sequencer.ts';
import { testTimeoutMs } from './test/support/deadlines.ts';

// One suite for every workspace. DATABASE_URL selects the PostgreSQL backend;
// without it every test database is an in-memory PGlite.
//
// The browser tests (test/browser: the pages in Chromium) run once, on the embedded default: they
// test the pages, which never see the database, and the services under them run the same flows on
// PostgreSQL in test/e2e. Running them twice cost CI about 4 minutes of its 30. MPAY_BROWSER_TESTS=1
// runs them on PostgreSQL too.
const browserTestsHere = process.env.DATABASE_URL === undefined || process.env.MPAY_BROWSER_TESTS === '1';

// What the PostgreSQL run leaves to the embedded one, where it ran already: code that never sees the
// database (the pure packages, the fuzzer, the web units), the long process-killing runs (the whole
// platform killed three times, `mpay chaos`: the PostgreSQL behaviour under kills is the same storage
// code, and docs/reliability.md records PostgreSQL chaos runs), the benchmarks' own tests and the two
// demos, whose flows the e2e suites run on PostgreSQL. On a slow 2-core machine the two runs took 45
// minutes together with these; CI's budget is 30. MPAY_FULL_POSTGRES_RUN=1 runs everything on both.
const onceOnEmbedded = [
  'packages/protocol/**',
  'packages/envelope/**',
  'packages/merkle/**',
  'packages/ledger/**',
  'packages/pki/**',
  'packages/http-client/**',
  'packages/mail/**',
  'packages/sms/**',
  'fuzz/**',
  'web/src/**',
  'test/crash/platform-crash.test.ts',
  'test/crash/chaos.test.ts',
  'cli/src/commands/bench/e2e.test.ts',
  'cli/src/commands/bench/idle.test.ts',
  'cli/src/commands/bench/ledger.test.ts',
  'cli/src/commands/bench/log.test.ts',
  'cli/src/commands/simulate/**',
  'test/e2e/macro-demo.test.ts',
  'test/e2e/banking-demo.test.ts',
  // The documents and the answers' shapes do not depend on the database.
  'test/e2e/openapi-contract.test.ts',
  // TLS and the CLI's own behaviour (arguments, output, exit codes) do not either; the flows under them
  // run on PostgreSQL in the e2e suites.
  'test/e2e/tls-platform.test.ts',
  'cli/src/commands/refund.test.ts',
  'cli/src/commands/audit.test.ts',
  'cli/src/main.test.ts',
  // The operator's gateway limits file: read and applied the same on both databases.
  'cli/src/platform/gateway-limits-file.test.ts',
  // The embedded database's own folders (data checksums, integrity checks, the folder lock, `mpay
  // storage`, a corrupted page): these open PGlite folders whatever DATABASE_URL says.
  'packages/storage/src/integrity/**',
  'packages/storage/src/data-folder/**',
  'packages/storage/src/pglite-engine.test.ts',
  'packages/storage/src/pglite-statements.test.ts',
  'test/e2e/data-integrity.test.ts',
  'cli/src/commands/storage.test.ts',
  // `mpay demo` stopped: it checks the embedded databases' folders, whatever DATABASE_URL says.
  'test/crash/demo-stop.test.ts',
  // `mpay up --processes` giving up on a service that keeps crashing: the supervisor's test, on the embedded
  // database in a temporary folder whatever DATABASE_URL says (78 s of the embedded run, 2026-12-07).
  'test/crash/up-processes-give-up.test.ts',
];
const everythingHere = process.env.DATABASE_URL === undefined || process.env.MPAY_FULL_POSTGRES_RUN === '1';

export default defineConfig({
  test: {
    exclude: [
      '**/node_modules/**',
      ...(browserTestsHere ? [] : ['test/browser/**']),
      ...(everythingHere ? [] : onceOnEmbedded),
    ],
    include: [
      'packages/*/src/**/*.test.ts',
      'services/*/src/**/*.test.ts',
      'cli/src/**/*.test.ts',
      'web/server/**/*.test.ts',
      'web/src/**/*.test.ts',
      'test/**/*.test.ts',
      'fuzz/**/*.test.ts',
    ],
    // A backstop only (15 min × MPAY_TEST_DEADLINE_SCALE): tests wait for readiness with the named,
    // shorter deadlines of test/support/deadlines.ts, which fail first and say what they waited for.
    testTimeout: testTimeoutMs,
    hookTimeout: testTimeoutMs,
    pool: 'forks',
    // A worker runs its files one after the other in one process: the modules (a platform test imports
    // about 2.8 s of them), PGlite's compiled engine and its new-cluster copy are loaded once per
    // worker instead of once per file. The whole embedded suite on this 2-core machine: 26 min 43 s
    // with a process per file, 14 min 43 s so (vitest's import phase 378 s → 33 s summed), with the
    // same 3,126 tests passing. test/shared-worker-setup.ts puts back, before each file, what a file
    // may change for the whole process (fetch, the answer check, the environment).
    isolate: false,
    setupFiles: ['./test/shared-worker-setup.ts'],
    // vitest's default on 2 cores is 1 worker. The slow files mostly wait (child processes, polling,
    // PGlite), so 2 workers halved the wall time of the process-heavy files on a 2-core machine at
    // load 10–15 (8–15 min → 4.7 min) without a failure; more cores get vitest's usual cores − 1.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default', './test/summary-reporter.ts'],
    // The files that take minutes start first (test/heavy-first-sequencer.ts).
    sequence: { sequencer: HeavyFirstSequencer },
  },
});
