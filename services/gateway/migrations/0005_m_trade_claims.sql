-- m-trade at the till (iMS §2.2): a customer scans the merchant's signed EMV QR
-- code and claims it; the FSP records the claim and notifies the merchant, whose
-- till then sends the ordinary payment request to that customer.

-- One row per till code, keyed by the transaction id the code carries: the first
-- claim wins (a second claimant conflicts on the key). The code itself is kept as
-- the customer sent it: it is the merchant's signed offer, the evidence the claim
-- rests on. `requested_at` is set when the till's payment request for it is accepted.
CREATE TABLE m_trade_claims (
  transaction_id text PRIMARY KEY,
  merchant_id text NOT NULL REFERENCES parties (id),
  customer_id text NOT NULL REFERENCES parties (id),
  currency text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  payload text NOT NULL,
  key_id text NOT NULL,
  code_expires_at timestamptz NOT NULL,
  -- The FSP's signed `trade.claimed` notification (the webhook body, and the answer to the till's poll).
  notification text NOT NULL,
  claimed_at timestamptz NOT NULL,
  requested_at timestamptz
);
-- Claims are bounded per customer: open ones, and all over a window.
CREATE INDEX m_trade_claims_customer ON m_trade_claims (customer_id, claimed_at);

-- The merchant's `trade.claimed` webhook goes through the one outbox, before any
-- payment exists: outbox.payment_id names the transaction the effect belongs to
-- (the claim's transaction id is the id the payment will have), so it can no
-- longer reference payments. Effects of payments are still written only in the
-- transactions that change those payments.
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_payment_id_fkey;
