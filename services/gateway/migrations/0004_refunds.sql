-- Refunds through the payment chain: a merchant gives back all or part of a
-- completed payment with a request it signs; the FSP orders the merchant's
-- bank, which checks the merchant's own signature before it debits and pays
-- the customer's bank back. A refund is a protocol of its own (the refund
-- step table in @mpay/protocol); the payment keeps its state, and its public
-- status (refunded, partially refunded) is derived from its completed refunds.

CREATE TABLE refunds (
  -- The merchant's refund id (a UUID): the idempotency key here, at both banks and in the log.
  id text PRIMARY KEY,
  payment_id text NOT NULL REFERENCES payments (id),
  merchant_id text NOT NULL REFERENCES parties (id),
  customer_id text NOT NULL REFERENCES parties (id),
  currency text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  reason text CHECK (length(reason) <= 200),
  -- SHA-256 of what identifies the request (payment, amount, reason): the same refund id
  -- with another hash is REFUND_ID_REUSED.
  request_hash text NOT NULL,
  state text NOT NULL,
  -- The merchant's compact JWS over the refund content, forwarded to its bank.
  authorisation text NOT NULL,
  -- The merchant's bank's signed answer (evidence), the FSP's signed receipt to the
  -- customer (completed) or its signed outcome to the merchant (refused, failed).
  bank_answer text,
  receipt text,
  outcome text,
  failure_code text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id, state);

-- Every transition of every refund, append-only, with the step it is.
CREATE TABLE refund_events (
  refund_id text NOT NULL REFERENCES refunds (id),
  sequence integer NOT NULL,
  from_state text,
  to_state text NOT NULL,
  event text,
  step text NOT NULL,
  detail text,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (refund_id, sequence)
);
CREATE TRIGGER refund_events_append_only BEFORE UPDATE OR DELETE ON refund_events
  FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- A refund's outcome in the third-party log, as log_entries is a payment's: what
-- the log commits to, then its index, then the receipt anyone can verify.
CREATE TABLE refund_log_entries (
  refund_id text PRIMARY KEY REFERENCES refunds (id),
  kind text NOT NULL,
  -- JSON array of the compact JWS logged, in order: merchant, merchant bank, FSP.
  messages text NOT NULL,
  log_index bigint CHECK (log_index >= 0),
  receipt text,
  created_at timestamptz NOT NULL
);

-- The outbox delivers refund orders to the merchant's bank too (payload: the refund id);
-- its other rows of a refund (push, webhook, log entry) name the refund in their payload.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
  CHECK (kind IN ('device_push', 'bank_order', 'webhook', 'log_entry', 'refund_order'));
