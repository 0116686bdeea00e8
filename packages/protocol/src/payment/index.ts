export {
  isLevelAtLeast,
  type SecurityLevel,
  type SecurityThresholds,
  defaultSecurityThresholds,
  securityLevelFor,
} from './security-level.ts';
export {
  assertTransition,
  initialPaymentState,
  isFinalState,
  isPaymentState,
  type PaymentState,
  paymentStateMachine,
  type PublicStatus,
  publicStatusOf,
} from './state-machine.ts';
export { envelopeClaimNames, signedContentMatches } from './signed-content.ts';
