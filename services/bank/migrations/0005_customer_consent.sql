-- Payment orders carry the customer's consent: the FSP names the payer and
-- the payee by party id and forwards the customer's signed authorisation; the
-- bank that pays a payee resolves the payee's account from its own records.

-- At the client bank. Orders placed before this migration have no payer,
-- payee or authorisation.
ALTER TABLE payment_orders ADD COLUMN payer_id text CHECK (length(payer_id) BETWEEN 1 AND 256);
ALTER TABLE payment_orders ADD COLUMN payee_id text CHECK (length(payee_id) BETWEEN 1 AND 256);
-- The customer's compact JWS, verified when the order was placed, kept as evidence.
ALTER TABLE payment_orders ADD COLUMN authorisation text;
-- The binding whose key signed the authorisation.
ALTER TABLE payment_orders ADD COLUMN key_binding_serial text REFERENCES key_bindings (serial);
-- Resolved from the payee id for a payee at this bank; NULL for a payee at
-- another bank, whose account only that bank knows.
ALTER TABLE payment_orders ALTER COLUMN credit_account_id DROP NOT NULL;

-- At the merchant bank: the payee the message named; the account credited is
-- NULL when the payee was refused (PAYEE_UNKNOWN).
ALTER TABLE interbank_credits ADD COLUMN payee_id text CHECK (length(payee_id) BETWEEN 1 AND 256);
ALTER TABLE interbank_credits ALTER COLUMN credit_account_id DROP NOT NULL;

-- Every payment order the bank refused before any money moved (no customer
-- authorisation or one that does not verify, an unknown payee, no funds, a
-- limit): append-only, with the precise reason the FSP is not told.
CREATE TABLE payment_order_refusals (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id uuid NOT NULL,
  ordered_by text NOT NULL CHECK (length(ordered_by) BETWEEN 1 AND 255),
  payer_id text CHECK (length(payer_id) BETWEEN 1 AND 256),
  code text NOT NULL CHECK (code ~ '^[A-Z][A-Z0-9_]{0,63}$'),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  created_at timestamptz NOT NULL
);

CREATE INDEX payment_order_refusals_by_order ON payment_order_refusals (order_id);

CREATE TRIGGER payment_order_refusals_refuse_update_delete BEFORE UPDATE OR DELETE ON payment_order_refusals
  FOR EACH ROW EXECUTE FUNCTION rows_are_immutable();
CREATE TRIGGER payment_order_refusals_refuse_truncate BEFORE TRUNCATE ON payment_order_refusals
  FOR EACH STATEMENT EXECUTE FUNCTION rows_are_immutable();
