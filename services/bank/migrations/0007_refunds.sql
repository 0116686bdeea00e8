-- Refunds through the payment chain: the macro payment's interbank steps run
-- the other way. The FSP orders the merchant's bank with the merchant's own
-- signature over the refund; the merchant's bank checks it under a key it
-- bound to the merchant's account, debits the merchant and pays the
-- customer's bank back, which credits the account it debited for the
-- original order. The refund id is the idempotency key at every step.

-- At the merchant's bank: a refund order from the FSP. For a customer at
-- another bank the row is the outbox, as payment_orders is: while state =
-- 'sending' the bank delivers the refund-transfer message until the
-- customer's bank gives a signed answer; only that answer posts or voids the
-- hold (transfer_id) on the merchant's account. For a customer of this bank
-- the refund is one posted transfer (a correction of the original payment's
-- transfer, so that operator refunds count against the same original).
CREATE TABLE refund_orders (
  id uuid PRIMARY KEY,
  request_hash text NOT NULL,
  ordered_by text NOT NULL CHECK (length(ordered_by) BETWEEN 1 AND 255),
  -- The merchant (debited) and the customer of the original payment (credited).
  payer_id text NOT NULL CHECK (length(payer_id) BETWEEN 1 AND 256),
  payee_id text NOT NULL CHECK (length(payee_id) BETWEEN 1 AND 256),
  -- The original payment: the customer's bank's order id, and that bank.
  original_order_id uuid NOT NULL,
  original_bank text NOT NULL CHECK (length(original_bank) BETWEEN 1 AND 64),
  -- The merchant's compact JWS over the refund content, verified when the order was placed.
  authorisation text NOT NULL,
  key_binding_serial text NOT NULL REFERENCES key_bindings (serial),
  debit_account_id uuid NOT NULL REFERENCES accounts (id),
  -- The customer's account for a refund within this bank; NULL when another bank credits it.
  credit_account_id uuid REFERENCES accounts (id),
  -- The hold (another bank) or the posted correction (this bank) on the merchant's account.
  transfer_id uuid NOT NULL UNIQUE,
  amount bigint NOT NULL CHECK (amount > 0),
  ledger text NOT NULL CHECK (ledger ~ '^[A-Z]{3}$'),
  reference text NOT NULL CHECK (length(reference) <= 128),
  state text NOT NULL CHECK (state IN ('sending', 'completed', 'refused')),
  refusal_code text,
  -- The customer's bank must not credit after this instant; after it, its answer is final either way.
  deadline timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_error text,
  -- The customer's bank's signed answer (compact JWS), kept as evidence.
  answer text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CONSTRAINT refund_orders_refusal_has_code CHECK ((state = 'refused') = (refusal_code IS NOT NULL))
);

CREATE INDEX refund_orders_due ON refund_orders (next_attempt_at) WHERE state = 'sending';
CREATE INDEX refund_orders_by_original ON refund_orders (original_bank, original_order_id);

-- Only the refund order resolves its hold, after its state has left 'sending' in the same
-- transaction (as transfers_respect_payment_orders does for payment orders).
CREATE FUNCTION transfers_respect_refund_orders() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  IF NEW.pending_id IS NOT NULL
     AND EXISTS (SELECT 1 FROM refund_orders WHERE transfer_id = NEW.pending_id AND state = 'sending') THEN
    RAISE EXCEPTION 'TRANSFER_HELD_BY_PAYMENT_ORDER' USING ERRCODE = 'MP001';
  END IF;
  RETURN NEW;
END
$function$;

CREATE TRIGGER transfers_respect_refund_orders BEFORE INSERT ON transfers
  FOR EACH ROW EXECUTE FUNCTION transfers_respect_refund_orders();

-- Every refund order the merchant's bank refused before any money moved (no
-- merchant signature it could verify, no credit of the original payment to
-- this merchant, more than the original, no funds): append-only, with the
-- precise reason the FSP is not told.
CREATE TABLE refund_order_refusals (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  refund_id uuid NOT NULL,
  ordered_by text NOT NULL CHECK (length(ordered_by) BETWEEN 1 AND 255),
  payer_id text CHECK (length(payer_id) BETWEEN 1 AND 256),
  code text NOT NULL CHECK (code ~ '^[A-Z][A-Z0-9_]{0,63}$'),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  created_at timestamptz NOT NULL
);

CREATE INDEX refund_order_refusals_by_refund ON refund_order_refusals (refund_id);

CREATE TRIGGER refund_order_refusals_refuse_update_delete BEFORE UPDATE OR DELETE ON refund_order_refusals
  FOR EACH ROW EXECUTE FUNCTION rows_are_immutable();
CREATE TRIGGER refund_order_refusals_refuse_truncate BEFORE TRUNCATE ON refund_order_refusals
  FOR EACH STATEMENT EXECUTE FUNCTION rows_are_immutable();

-- At the customer's bank: every refund-transfer message a peer bank sent,
-- with the decision taken on it, once per (peer, refund id). The account
-- credited is the one this bank debited for the original order.
CREATE TABLE refund_credits (
  id uuid NOT NULL,
  debtor_bank text NOT NULL CHECK (length(debtor_bank) BETWEEN 1 AND 64),
  original_order_id uuid NOT NULL,
  -- The ledger transfer that credited the customer: derived from (debtor bank, id).
  transfer_id uuid NOT NULL,
  request_hash text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('credited', 'refused')),
  refusal_code text,
  payee_id text NOT NULL CHECK (length(payee_id) BETWEEN 1 AND 256),
  credit_account_id uuid,
  amount bigint NOT NULL CHECK (amount > 0),
  ledger text NOT NULL CHECK (ledger ~ '^[A-Z]{3}$'),
  -- The refund-transfer message as received (compact JWS), kept as evidence.
  message text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (debtor_bank, id),
  CONSTRAINT refund_credits_refusal_has_code CHECK ((outcome = 'refused') = (refusal_code IS NOT NULL))
);

CREATE INDEX refund_credits_by_original ON refund_credits (original_order_id);
