import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take minutes (each starts a platform, a browser or child processes), longest first,
 * as measured in CI runs on a 2-core machine. Vitest orders a run by the durations it cached in the
 * run before; on a fresh clone it has none and orders by file size, which put the small but
 * long-running crash and chaos files last: one worker then ran them alone for minutes at the end.
 * Starting them first leaves the short unit files to fill the end of the run on both workers.
 */
export const heavyTestFiles: readonly string[] = [
  'test/crash/chaos.test.ts',
  'test/crash/interbank-crash.test.ts',
  'test/crash/platform-crash.test.ts',
  'test/browser/wallet-custody.test.ts',
  'cli/src/commands/bench/e2e.test.ts',
  'test/e2e/macro-demo.test.ts',
  'cli/src/commands/refund.test.ts',
  'test/browser/shop.test.ts',
  'test/browser/journeys.test.ts',
  'test/e2e/banking-e2e.test.ts',
  'test/e2e/limits.test.ts',
  'test/browser/wallet-macro.test.ts',
  'test/browser/wallet-ims.test.ts',
  'test/browser/wallet-banking.test.ts',
  'test/browser/console.test.ts',
  'packages/storage/src/integrity/integrity.test.ts',
  'test/e2e/banking-demo.test.ts',
  'test/e2e/consent.test.ts',
  'test/e2e/security-levels.test.ts',
  'test/e2e/payment.test.ts',
  'test/e2e/macro-e2e.test.ts',
  'services/bank/src/http/routes/replay.test.ts',
  'test/e2e/openapi-contract.test.ts',
  'services/bank/src/interbank/interbank.test.ts',
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
