-- SA2pMP mobile banking (seed 003): the bank's mobile banking server, Figure 5(B):
-- its authentication server (customers, their devices' ID_C, logins and sessions,
-- the requests received), its business logic server (billers), its key management
-- server (renewal notices, renewed bindings) and its transaction log server client
-- (every banking transaction, submitted to the third-party log, with its receipt).

-- A customer enabled for mobile banking by the bank (after the bank's own KYC):
-- the user id they log in with, the MSISDN the one-time codes go to, and the
-- OPAQUE registration record of their password (NULL until they register it;
-- the bank never sees the password). Failed logins in a row are counted here,
-- across devices and factors; at the limit the customer is blocked.
CREATE TABLE banking_customers (
  party_id text PRIMARY KEY CHECK (length(party_id) BETWEEN 1 AND 256),
  user_id text NOT NULL UNIQUE CHECK (user_id ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
  msisdn text NOT NULL CHECK (msisdn ~ '^\+[1-9][0-9]{6,14}$'),
  opaque_record text CHECK (length(opaque_record) BETWEEN 1 AND 1024),
  -- OPAQUE's credential identifier of that record, drawn afresh at each registration (never the
  -- bare user id): the server's per-user OPRF key derives from it, so evaluations an attacker
  -- collected before the customer registered (or before a reset) are useless against the record.
  opaque_credential_id text CHECK (length(opaque_credential_id) BETWEEN 1 AND 200),
  -- The identifier a registration in progress was answered with, until its finish stores the record.
  opaque_pending_credential_id text CHECK (length(opaque_pending_credential_id) BETWEEN 1 AND 200),
  password_registered_at timestamptz,
  failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
  blocked_at timestamptz,
  created_by text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 255),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

-- The ID_C parts of an enrolled device (§4.2: SIM + PHID, with ACCID one of the
-- binding's accounts), registered once per key binding, signed by its key. A
-- renewed binding carries its device's registration over (renewed_from).
CREATE TABLE banking_devices (
  serial text PRIMARY KEY REFERENCES key_bindings (serial),
  party_id text NOT NULL REFERENCES banking_customers (party_id),
  sim text NOT NULL CHECK (sim ~ '^89[0-9]{16,18}$'),
  phone_id text NOT NULL CHECK (phone_id ~ '^[0-9]{15}$'),
  registration text NOT NULL CHECK (length(registration) BETWEEN 1 AND 16384),
  renewed_from text REFERENCES banking_devices (serial),
  registered_at timestamptz NOT NULL
);

CREATE INDEX banking_devices_by_party ON banking_devices (party_id);

-- A login and, once every factor is proved, the session it opens (its id is the
-- session id). The OPAQUE server state and the bank's ECDH private share live
-- only until the step that needs them; the session key is kept sealed to the
-- bank's encryption key (JWE), never in clear.
CREATE TABLE banking_sessions (
  id uuid PRIMARY KEY,
  party_id text NOT NULL REFERENCES banking_customers (party_id),
  state text NOT NULL CHECK (state IN ('password_started', 'code_sent', 'active', 'refused', 'closed')),
  server_login_state text CHECK (length(server_login_state) BETWEEN 1 AND 4096),
  serial text REFERENCES key_bindings (serial),
  device_statement text CHECK (length(device_statement) BETWEEN 1 AND 16384),
  sealed_session_key text CHECK (length(sealed_session_key) BETWEEN 1 AND 4096),
  code_hash text CHECK (code_hash ~ '^[0-9a-f]{64}$'),
  code_expires_at timestamptz,
  code_failures integer NOT NULL DEFAULT 0 CHECK (code_failures >= 0),
  closed_reason text CHECK (length(closed_reason) BETWEEN 1 AND 200),
  expires_at timestamptz NOT NULL,
  last_used_at timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE INDEX banking_sessions_by_party ON banking_sessions (party_id, created_at);
CREATE INDEX banking_sessions_by_serial ON banking_sessions (serial) WHERE state = 'active';
-- The worker's sweep: logins and sessions past their lifetime lose their secrets.
CREATE INDEX banking_sessions_lapsing ON banking_sessions (expires_at)
  WHERE state IN ('password_started', 'code_sent', 'active');

-- Every request the authentication server accepted (E(S(msg, ID_C)) opened and
-- verified): the replay guard (one request id, one nonce per session) and the
-- evidence (the device's JWS as received, the bank's signed answer).
CREATE TABLE banking_requests (
  id uuid PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES banking_sessions (id),
  party_id text NOT NULL,
  serial text NOT NULL REFERENCES key_bindings (serial),
  kind text NOT NULL CHECK (kind ~ '^[a-z_]{1,32}$'),
  nonce text NOT NULL CHECK (nonce ~ '^[A-Za-z0-9_-]{22,86}$'),
  request text NOT NULL CHECK (length(request) BETWEEN 1 AND 16384),
  answer text CHECK (length(answer) BETWEEN 1 AND 262144),
  outcome text CHECK (outcome ~ '^[A-Z][A-Z0-9_]{0,63}$'),
  created_at timestamptz NOT NULL,
  UNIQUE (session_id, nonce)
);

CREATE INDEX banking_requests_by_party ON banking_requests (party_id, created_at);

-- The billers customers may pay (§5.1 business functions): a payee party at this
-- bank or another, registered by the bank's operator.
CREATE TABLE banking_billers (
  id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,31}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  payee_id text NOT NULL CHECK (length(payee_id) BETWEEN 1 AND 256),
  created_by text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 255),
  created_at timestamptz NOT NULL
);

-- The bank's notices that a device key must be renewed (§4.3: "renewal of a key
-- pair must be initiated by the banking server ... a notice (such as SMS) must
-- be sent to the mobile device to generate a new key pair").
CREATE TABLE banking_renewal_notices (
  id uuid PRIMARY KEY,
  serial text NOT NULL REFERENCES key_bindings (serial),
  state text NOT NULL CHECK (state IN ('sent', 'completed')),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  renewed_serial text REFERENCES key_bindings (serial),
  created_by text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 255),
  created_at timestamptz NOT NULL,
  completed_at timestamptz,
  -- The notice's SMS, an outbox of its own: sent after the notice commits, again by the worker
  -- (with backoff) until the gateway takes it, so a crash or a refused send loses nothing.
  sms_sent_at timestamptz,
  sms_attempts integer NOT NULL DEFAULT 0 CHECK (sms_attempts >= 0),
  sms_next_attempt_at timestamptz,
  sms_last_error text CHECK (length(sms_last_error) BETWEEN 1 AND 200)
);

CREATE INDEX banking_renewal_notices_sms_due ON banking_renewal_notices (sms_next_attempt_at)
  WHERE sms_sent_at IS NULL;

-- At most one open notice per binding.
CREATE UNIQUE INDEX banking_renewal_notices_one_open ON banking_renewal_notices (serial) WHERE state = 'sent';

-- A binding issued by a renewal has no enrolment code: it names the binding it
-- renews instead (signed by the old key), exactly one of the two.
ALTER TABLE key_bindings ALTER COLUMN enrolment_code_id DROP NOT NULL;
ALTER TABLE key_bindings ADD COLUMN renews text UNIQUE REFERENCES key_bindings (serial);
ALTER TABLE key_bindings ADD CONSTRAINT key_bindings_enrolled_or_renewed
  CHECK ((enrolment_code_id IS NULL) <> (renews IS NULL));

-- Every banking transaction (money moved, a key renewed or revoked), as the
-- transaction log server client submits it to the third-party log (§4.2
-- "Transaction Log Strategy"): the signed messages it commits to, then the
-- leaf index, then the receipt that proves it. Statement lines carry the receipt.
CREATE TABLE banking_transactions (
  id uuid PRIMARY KEY REFERENCES banking_requests (id),
  party_id text NOT NULL,
  kind text NOT NULL CHECK (kind ~ '^[a-z_]{1,32}$'),
  -- The ledger transfer (or payment order) the transaction made, when it moved money.
  transfer_id uuid,
  messages text NOT NULL CHECK (length(messages) BETWEEN 2 AND 65536),
  log_index bigint CHECK (log_index >= 0),
  receipt text,
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error text CHECK (length(last_error) BETWEEN 1 AND 500),
  next_attempt_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE INDEX banking_transactions_pending ON banking_transactions (next_attempt_at) WHERE receipt IS NULL;
CREATE UNIQUE INDEX banking_transactions_by_transfer ON banking_transactions (transfer_id)
  WHERE transfer_id IS NOT NULL;
