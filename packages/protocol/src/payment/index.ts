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
  initialPaymentState,
  isFinalState,
  isPaymentState,
  type PaymentState,
  type PublicStatus,
  paymentStateMachine,
  publicStatusOf,
} from './state-machine.ts';
