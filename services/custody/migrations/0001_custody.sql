-- The trusted mobile certificate server (iMS §5): customers' signing keys live
-- in the HSM (only their public part and the bank's binding are here), PINs are
-- OPAQUE records (nothing a PIN can be tested against without the server's
-- OPRF secret, which is sealed by the HSM), tries are counted per customer.

-- Secrets of the service itself, sealed by an HSM key (AES-GCM inside the token).
CREATE TABLE sealed_secrets (
  name text PRIMARY KEY,
  sealed text NOT NULL,
  created_at timestamptz NOT NULL
);

-- Everyone custody counts PIN tries for: custody customers (key in the HSM)
-- and device-key wallets (custody is the server their keystore needs).
CREATE TABLE customers (
  party_id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('custody', 'wallet')),
  bank_id text NOT NULL,
  display_name text,
  -- Logins started and not finished successfully; a success gives back its own
  -- try only, the others stay counted until no try was made for a whole window.
  failed_tries integer NOT NULL DEFAULT 0 CHECK (failed_tries >= 0),
  last_try_at timestamptz,
  blocked_at timestamptz,
  created_at timestamptz NOT NULL
);

-- The custody key of a custody customer: generated in the HSM, bound to the
-- customer's accounts by the customer's bank.
CREATE TABLE custody_keys (
  party_id text PRIMARY KEY REFERENCES customers (party_id),
  -- The one PIN credential that authorises this key's signatures (a wallet PIN never does).
  credential_id text NOT NULL,
  hsm_key_id text NOT NULL UNIQUE,
  hsm_label text NOT NULL,
  kid text NOT NULL UNIQUE,
  public_jwk text NOT NULL,
  binding_serial text NOT NULL,
  binding text NOT NULL,
  accounts text NOT NULL,
  created_at timestamptz NOT NULL
);

-- Credential ids handed out for an OPAQUE registration: the server picks them,
-- so nobody can ask the OPRF under a credential that already exists.
CREATE TABLE pin_registrations (
  registration_id text PRIMARY KEY,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL
);

CREATE TABLE pin_credentials (
  credential_id text PRIMARY KEY,
  party_id text NOT NULL REFERENCES customers (party_id),
  registration_record text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX pin_credentials_party ON pin_credentials (party_id);

-- Started OPAQUE logins (single use, short-lived). A delegation is a login
-- bound to one message: the payment and the hash of custody's forward of it.
CREATE TABLE pin_logins (
  login_id text PRIMARY KEY,
  credential_id text NOT NULL,
  party_id text,
  server_login_state text NOT NULL,
  purpose text NOT NULL CHECK (purpose IN ('login', 'delegation')),
  device_id text,
  payment_id text,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX pin_logins_expiry ON pin_logins (expires_at);

-- A custody customer's phones: each holds a bearer token (only its hash is here).
CREATE TABLE devices (
  party_id text NOT NULL REFERENCES customers (party_id),
  device_id text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (party_id, device_id)
);

-- The FSP's messages for a custody customer (step 2), their state, custody's
-- signed forward to the phone, and what custody signed (step 6).
CREATE TABLE messages (
  payment_id text PRIMARY KEY,
  party_id text NOT NULL REFERENCES customers (party_id),
  state text NOT NULL,
  ims text NOT NULL,
  forward text NOT NULL,
  forward_hash text NOT NULL,
  receipt text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

-- Every delegate signature custody made in a customer's name, with its log index.
CREATE TABLE delegate_signatures (
  payment_id text PRIMARY KEY REFERENCES messages (payment_id),
  party_id text NOT NULL REFERENCES customers (party_id),
  decision text NOT NULL CHECK (decision IN ('confirm', 'decline')),
  kid text NOT NULL,
  jws text NOT NULL,
  log_index bigint,
  log_receipt text,
  signed_at timestamptz NOT NULL
);
CREATE INDEX delegate_signatures_party ON delegate_signatures (party_id, signed_at);

-- What each customer's phones read, in order: requests, receipts, outcomes, alerts.
CREATE TABLE inbox (
  id bigserial PRIMARY KEY,
  party_id text NOT NULL REFERENCES customers (party_id),
  event text NOT NULL CHECK (event IN ('payment-request', 'receipt', 'outcome', 'alert')),
  payment_id text,
  forward text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX inbox_party ON inbox (party_id, id);

-- Effects written in the transaction that decided them, delivered with retries.
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('fsp_registration', 'fsp_answer', 'log_entry')),
  subject text NOT NULL,
  payload text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  delivered_at timestamptz,
  last_error text,
  created_at timestamptz NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- Nonces of signed requests that change state (the bank's unblock), kept until
-- the request would have expired, so a captured request cannot be replayed.
CREATE TABLE used_nonces (
  issuer text NOT NULL,
  nonce text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (issuer, nonce)
);
