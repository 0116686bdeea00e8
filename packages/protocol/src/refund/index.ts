export { type RefundReceiptContent, refundReceiptContentOf } from './receipt.ts';
export {
  isRefundId,
  merchantRefundContent,
  type RefundSignedContent,
  type RefundToSign,
} from './signed-content.ts';
export {
  assertRefundTransition,
  awaitingBankRefundStates,
  initialRefundStep,
  isFinalRefundState,
  isRefundState,
  type RefundEffect,
  type RefundEventKind,
  type RefundState,
  type RefundStatus,
  refundEventKinds,
  refundStateMachine,
  refundStates,
  refundStatusOf,
  reservingRefundStates,
} from './state-machine.ts';
export { type RefundStepResult, stepRefund } from './step.ts';
