-- The third-party transaction log (SA2pMP's Transaction Log Server): every
-- completed payment's signed messages are logged by hash; the row is the
-- outbox that submits them and then collects the receipt (the messages, the
-- inclusion proof and a witness-cosigned checkpoint) that anyone can verify.
CREATE TABLE log_entries (
  payment_id text PRIMARY KEY REFERENCES payments (id),
  kind text NOT NULL,
  -- JSON array of the compact JWS logged, in order: merchant, FSP, customer, receipt.
  messages text NOT NULL,
  log_index bigint CHECK (log_index >= 0),
  -- The mpay-receipt/v1 file once the entry is under a cosigned checkpoint.
  receipt text,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_error text,
  created_at timestamptz NOT NULL
);

CREATE INDEX log_entries_due ON log_entries (next_attempt_at) WHERE receipt IS NULL;
