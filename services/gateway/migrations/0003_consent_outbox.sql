-- The gateway rebuilt around the customer's bank as the authority for its
-- customers' keys, one transactional outbox for every effect, and a payment
-- history that names the protocol step of each transition.

-- Each bank's public signing key: bindings, payment-order answers are checked with it.
ALTER TABLE banks ADD COLUMN signing_jwk text;

-- Customers' keys as their own bank bound them (SA2pMP §4.3): the FSP keeps the
-- bank's signed binding and trusts it, not its own word, for which key speaks
-- for which customer and account. The bank checks the binding again on every debit.
CREATE TABLE key_bindings (
  serial_number text NOT NULL,
  bank_id text NOT NULL REFERENCES banks (id),
  party_id text NOT NULL REFERENCES parties (id),
  device_id text NOT NULL,
  signing_kid text NOT NULL UNIQUE,
  signing_jwk text NOT NULL,
  encryption_jwk text NOT NULL,
  -- JSON array of the account ids the key may debit, as the bank signed it.
  accounts text NOT NULL,
  binding text NOT NULL,
  not_before timestamptz NOT NULL,
  not_after timestamptz NOT NULL,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (bank_id, serial_number)
);
CREATE INDEX key_bindings_party ON key_bindings (party_id, created_at DESC);

-- The customer's bank's signed answer to the payment order (evidence), the
-- customer's signed decline, and the FSP's signed outcome of a payment that
-- did not complete (a completed one has its receipt).
ALTER TABLE payments ADD COLUMN bank_answer text;
ALTER TABLE payments ADD COLUMN decline text;
ALTER TABLE payments ADD COLUMN outcome text;
ALTER TABLE payments ADD COLUMN payer_account text;

-- Rate limits count requests per merchant and per customer over a window; the
-- device gets its pending requests newest first.
CREATE INDEX payments_merchant_created ON payments (merchant_id, created_at);
CREATE INDEX payments_customer_created ON payments (customer_id, created_at);
CREATE INDEX payments_customer_pending ON payments (customer_id, created_at DESC, id DESC)
  WHERE state = 'awaiting_customer_signature';

-- Which event of the protocol table moved the payment, and the paper's step.
ALTER TABLE payment_events ADD COLUMN event text;
ALTER TABLE payment_events ADD COLUMN step text;

-- One transactional outbox for every effect of a transition: device push, bank
-- order, webhook, log entry. A row is written in the transaction that changes
-- the payment, so an effect is never lost and never sent for a change that
-- rolled back; a worker delivers due rows with retries and backoff.
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  payment_id text NOT NULL REFERENCES payments (id),
  kind text NOT NULL CHECK (kind IN ('device_push', 'bank_order', 'webhook', 'log_entry')),
  -- Kind-specific JSON (the URL and signed body of a webhook, the event of a push).
  payload text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  delivered_at timestamptz,
  abandoned_at timestamptz,
  last_error text,
  created_at timestamptz NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND abandoned_at IS NULL;
CREATE INDEX outbox_payment ON outbox (payment_id, kind);

-- Webhooks not yet delivered move into the outbox; the old table goes.
INSERT INTO outbox (payment_id, kind, payload, attempts, next_attempt_at, created_at)
  SELECT payment_id, 'webhook', json_build_object('url', url, 'body', body)::text, attempts, next_attempt_at, now()
  FROM webhook_deliveries WHERE delivered_at IS NULL AND abandoned_at IS NULL;
DROP TABLE webhook_deliveries;

-- Log entries of every outcome, not only completed payments; unsubmitted ones get an outbox row.
INSERT INTO outbox (payment_id, kind, payload, next_attempt_at, created_at)
  SELECT payment_id, 'log_entry', '{}', next_attempt_at, now() FROM log_entries WHERE receipt IS NULL;
