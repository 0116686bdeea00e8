import { createLedgerLimits, type LedgerLimits } from '@mpay/ledger';

/** Every limit of the bank service, as named options; the ledger's own limits included. */
export interface BankLimits extends LedgerLimits {
  /** Largest request body accepted (413 above). */
  readonly bodyLimitBytes: number;
  /** Most holds one expiry sweep voids; run it again for more. */
  readonly expiryBatchSizeMax: number;
  /** Most accounts one audit reads into memory. */
  readonly auditAccountsMax: number;
  /** Statement entries per page when the client names no limit. */
  readonly statementPageSizeDefault: number;
  /** Most statement entries (and open holds) one page answers. */
  readonly statementPageSizeMax: number;
  /** Most refunds and reversals one transfer may have. */
  readonly correctionsPerTransferMax: number;
}

const bankDefaults = {
  bodyLimitBytes: 16 * 1024,
  expiryBatchSizeMax: 1_000,
  auditAccountsMax: 100_000,
  statementPageSizeDefault: 50,
  statementPageSizeMax: 200,
  correctionsPerTransferMax: 100,
};

/** Hard ceiling of `statementPageSizeMax`: the page size is three digits on the wire. */
export const statementPageSizeCeiling = 999;

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`bank limits: ${name} must be an integer in ${min}..${max}`);
  }
}

export function createBankLimits(options: Partial<BankLimits> = {}): BankLimits {
  const {
    bodyLimitBytes,
    expiryBatchSizeMax,
    auditAccountsMax,
    statementPageSizeDefault,
    statementPageSizeMax,
    correctionsPerTransferMax,
    ...ledger
  } = { ...bankDefaults, ...options };
  checkInteger('bodyLimitBytes', bodyLimitBytes, 256, 1024 * 1024);
  checkInteger('expiryBatchSizeMax', expiryBatchSizeMax, 1, 100_000);
  checkInteger('auditAccountsMax', auditAccountsMax, 1, 10_000_000);
  checkInteger('statementPageSizeMax', statementPageSizeMax, 1, statementPageSizeCeiling);
  checkInteger('statementPageSizeDefault', statementPageSizeDefault, 1, statementPageSizeMax);
  checkInteger('correctionsPerTransferMax', correctionsPerTransferMax, 1, 10_000);
  return Object.freeze({
    ...createLedgerLimits(ledger),
    bodyLimitBytes,
    expiryBatchSizeMax,
    auditAccountsMax,
    statementPageSizeDefault,
    statementPageSizeMax,
    correctionsPerTransferMax,
  });
}
