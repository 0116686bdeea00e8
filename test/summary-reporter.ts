import type { Reporter, TestModule } from 'vitest/node';

/** Ends every run with the line `N passed, N failed` that CI reads. */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    for (const testModule of testModules) {
      let failedInModule = 0;
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failedInModule += 1;
      }
      // A file that fails outside any test (import error, beforeAll) counts as one failure.
      if (testModule.state() === 'failed' && failedInModule === 0) failedInModule = 1;
      failed += failedInModule;
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  }
}
