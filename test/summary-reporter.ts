import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/** How many of the slowest files the run lists before its summary line. */
const slowestFilesListed = 15;

/**
 * Ends every run with the line `N passed, N failed` that CI reads. Before it, the slowest files with
 * their wall time (import plus tests and hooks), so a CI log shows where its minutes went.
 */
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
    process.stdout.write(slowestFiles(testModules));
    process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  }
}

function slowestFiles(testModules: ReadonlyArray<TestModule>): string {
  const timed = testModules.map((testModule) => {
    const diagnostic = testModule.diagnostic();
    return {
      file: relative(testModule.project.config.root, testModule.moduleId),
      ms: diagnostic.collectDuration + diagnostic.duration,
    };
  });
  timed.sort((a, b) => b.ms - a.ms);
  const rows = timed
    .slice(0, slowestFilesListed)
    .map(({ file, ms }) => `  ${(ms / 1000).toFixed(1).padStart(7)} s  ${file}`);
  return rows.length === 0 ? '' : `\nslowest files:\n${rows.join('\n')}\n`;
}
