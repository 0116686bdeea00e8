export type { SecurityLevel } from './security-level.ts';
export {
  assessSecurity,
  type CurrencySecurityPolicy,
  defaultSecurityPolicy,
  higherLevel,
  isLevelAtLeast,
  type Protection,
  parseSecurityPolicy,
  protections,
  type RecentPayment,
  type SecurityAssessment,
  type SecurityPolicy,
  securityLevelFloor,
  securityPolicyToJson,
} from './security-policy.ts';
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
