-- Refund receipts of custody customers: the FSP redirects its signed receipt
-- of a refund (money a merchant gave back) for a payment custody holds, and
-- custody forwards it to the customer's phones. One row per refund: a second
-- copy of the same refund (the FSP's outbox retries) changes nothing. The
-- row also says that custody may ask the FSP for the refund's evidence in
-- the customer's name.
CREATE TABLE refund_receipts (
  refund_id text PRIMARY KEY,
  payment_id text NOT NULL REFERENCES messages (payment_id),
  party_id text NOT NULL REFERENCES customers (party_id),
  receipt text NOT NULL,
  received_at timestamptz NOT NULL
);
CREATE INDEX refund_receipts_payment ON refund_receipts (payment_id);

ALTER TABLE inbox DROP CONSTRAINT inbox_event_check;
ALTER TABLE inbox ADD CONSTRAINT inbox_event_check
  CHECK (event IN ('payment-request', 'receipt', 'outcome', 'alert', 'refund-receipt'));
