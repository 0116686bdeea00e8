import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take minutes (each starts a platform, a browser or child processes), started first.
 * Vitest orders a run by the durations it cached in the run before; on a fresh clone it has none
 * and orders by file size, which put the small but long-running crash and chaos files last: one
 * worker then ran them alone for minutes at the end. Starting them first leaves the short unit
 * files to fill the end of the run on both workers.
 *
 * The head of the list is the order CI ran with until 2026-12-07. Below it, the files of 10 s or
 * more (in either pass, measured that day with `npx vitest run --reporter=json`) that it missed:
 * three of them (up-processes-give-up 78 s, bench-stop 40 s, demo-stop 26 s) had started in the
 * embedded pass's last three minutes, one after the other. A list sorted by duration alone was
 * tried in CI (1,023 s for the embedded pass) and this one after it (1,040 s): no difference shown,
 * the machine being slower in both than in the run that measured the durations (961 s).
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
  // Missed by the list above until 2026-12-07, longest first.
  'test/crash/up-processes-give-up.test.ts',
  'packages/storage/src/data-folder/durable-fs.test.ts',
  'test/crash/bench-stop.test.ts',
  'test/e2e/custody.test.ts',
  'test/crash/demo-stop.test.ts',
  'cli/src/platform/processes-restart.test.ts',
  'packages/sdk/src/banking/business-logic.test.ts',
  'cli/src/platform/output-guard.test.ts',
  'services/gateway/src/macro/login.test.ts',
  'cli/src/commands/simulate/simulate.test.ts',
  'cli/src/platform/gateway-limits-file.test.ts',
  'services/gateway/src/macro/payment.test.ts',
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
