export {
  type OrderPaymentTerms,
  type PaymentMismatch,
  type PaymentNotice,
  type PaymentNoticeReading,
  readPaymentNotice,
} from './payment-notice.ts';
export {
  assertOrderTransition,
  initialOrderState,
  isFinalOrderState,
  isOrderState,
  type OrderEffect,
  type OrderEventKind,
  type OrderPublicStatus,
  type OrderState,
  orderEventKinds,
  orderPublicStatusOf,
  orderStateMachine,
  orderStates,
  type ShipmentStatus,
  shipmentActionEvents,
  shipmentStatusOf,
} from './state-machine.ts';
export { type OrderStepResult, stepOrder } from './step.ts';
