import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take minutes (each starts a platform, a browser or child processes), longest first:
 * the longer of each file's two runs (embedded, PostgreSQL) measured on a 2-core machine on 2026-12-07
 * (`npx vitest run --reporter=json`), every file of 10 s or more in either. When this list went stale,
 * three files of 25–78 s started in the last three minutes of the embedded run, one after the other.
 * Vitest orders a run by the durations it cached in the run before; on a fresh clone it has none
 * and orders by file size, which put the small but long-running crash and chaos files last: one
 * worker then ran them alone for minutes at the end. Starting them first leaves the short unit
 * files to fill the end of the run on both workers.
 */
export const heavyTestFiles: readonly string[] = [
  'test/crash/chaos.test.ts',
  'cli/src/commands/bench/e2e.test.ts',
  'test/crash/up-processes-give-up.test.ts',
  'test/crash/platform-crash.test.ts',
  'test/e2e/macro-demo.test.ts',
  'packages/storage/src/data-folder/durable-fs.test.ts',
  'test/crash/bench-stop.test.ts',
  'test/browser/wallet-ims.test.ts',
  'test/e2e/custody.test.ts',
  'test/browser/wallet-custody.test.ts',
  'test/crash/demo-stop.test.ts',
  'test/crash/interbank-crash.test.ts',
  'packages/storage/src/integrity/integrity.test.ts',
  'test/e2e/banking-e2e.test.ts',
  'cli/src/platform/processes-restart.test.ts',
  'packages/sdk/src/banking/business-logic.test.ts',
  'test/browser/wallet-banking.test.ts',
  'test/e2e/macro-e2e.test.ts',
  'cli/src/platform/output-guard.test.ts',
  'test/browser/shop.test.ts',
  'services/gateway/src/macro/login.test.ts',
  'cli/src/commands/simulate/simulate.test.ts',
  'cli/src/platform/gateway-limits-file.test.ts',
  'test/browser/wallet-macro.test.ts',
  'services/gateway/src/macro/payment.test.ts',
  'test/browser/journeys.test.ts',
  'test/e2e/payment.test.ts',
  'test/browser/console.test.ts',
];

export default class HeavyFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification) => {
      const index = heavyTestFiles.indexOf(relative(file.project.config.root, file.moduleId));
      return index === -1 ? heavyTestFiles.length : index;
    };
    // Array.prototype.sort is stable: the rest keep the order vitest chose.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
