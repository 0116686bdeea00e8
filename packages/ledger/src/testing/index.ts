export { type LedgerOperation, ledgerOperationArbitrary, ledgerOperationsArbitrary } from './operations.ts';
export {
  describeRecord,
  emptyStatistics,
  type LedgerUnderTest,
  type OperationStatistics,
  type RunOptions,
  runLedgerOperations,
} from './run-operations.ts';
