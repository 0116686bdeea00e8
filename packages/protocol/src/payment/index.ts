export {
  defaultSecurityThresholds,
  isLevelAtLeast,
  type SecurityLevel,
  type SecurityThresholds,
  securityLevelFor,
} from './security-level.ts';
export { envelopeClaimNames, signedContentMatches } from './signed-content.ts';
export {
  assertTransition,
  awaitingBankPaymentStates,
  expiringPaymentStates,
  initialPaymentState,
  isFinalState,
  isPaymentState,
  type PaymentEffect,
  type PaymentEventKind,
  type PaymentState,
  type PublicStatus,
  paymentEventKinds,
  paymentStateMachine,
  paymentStates,
  publicStatusOf,
} from './state-machine.ts';
export { type PaymentStepInput, type PaymentStepResult, stepPayment } from './step.ts';
