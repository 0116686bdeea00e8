-- The gateway (FSP) owns the party registry, key certificates and payments.

CREATE TABLE banks (
  id text PRIMARY KEY,
  url text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE parties (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('person', 'merchant', 'bank', 'fsp')),
  display_name text NOT NULL,
  bank_id text REFERENCES banks(id),
  account_id text,
  webhook_url text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE aliases (
  alias text PRIMARY KEY,
  party_id text NOT NULL REFERENCES parties(id)
);

CREATE TABLE key_certificates (
  serial_number text PRIMARY KEY,
  party_id text NOT NULL REFERENCES parties(id),
  signing_kid text NOT NULL UNIQUE,
  encryption_kid text NOT NULL,
  certificate text NOT NULL,
  not_before timestamptz NOT NULL,
  not_after timestamptz NOT NULL,
  revoked_at timestamptz,
  revocation_reason text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX key_certificates_party ON key_certificates (party_id);

CREATE TABLE payments (
  id text PRIMARY KEY,
  merchant_id text NOT NULL REFERENCES parties(id),
  customer_id text NOT NULL REFERENCES parties(id),
  procedure text NOT NULL,
  currency text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  security_level text NOT NULL,
  state text NOT NULL,
  message text NOT NULL,
  push_message text,
  receipt text,
  failure_code text,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_customer_state ON payments (customer_id, state);
CREATE INDEX payments_state_expiry ON payments (state, expires_at);

-- Every transition of every payment, append-only.
CREATE TABLE payment_events (
  payment_id text NOT NULL REFERENCES payments(id),
  sequence integer NOT NULL,
  from_state text,
  to_state text NOT NULL,
  detail text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (payment_id, sequence)
);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'append-only table %', TG_TABLE_NAME;
END $$;
CREATE TRIGGER payment_events_append_only BEFORE UPDATE OR DELETE ON payment_events
  FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Nonces of verified messages, kept until the message would have expired anyway.
CREATE TABLE seen_nonces (
  issuer text NOT NULL,
  nonce text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (issuer, nonce)
);

-- Signed notifications to merchants, delivered with retries (an outbox).
CREATE TABLE webhook_deliveries (
  id bigserial PRIMARY KEY,
  payment_id text NOT NULL REFERENCES payments(id),
  url text NOT NULL,
  body text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  abandoned_at timestamptz,
  last_error text
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND abandoned_at IS NULL;

CREATE TABLE idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  status_code integer,
  response_body text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
