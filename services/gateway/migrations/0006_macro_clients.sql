-- Macro payments (seed 002 §3): the MPASP's registered clients, their mPIN
-- logins and the E_SP channels those logins open.

-- One row per registered client. The MPASP keeps what §3 says it collects
-- (personal details, the bank account's owner, the secret question), and
-- never the mPIN nor the secret answer in clear:
-- - opaque_record: the OPAQUE registration record of the mPIN (RFC 9807); it
--   tests no guess without the server setup, and every online guess is counted;
-- - secret_answer_verifier: Argon2id (PHC string) of the normalised answer.
-- device_secret (base64url, 32 bytes) salts every channel key; it is stored as
-- the device sent it (not sealed at rest: see the README's weaknesses).
CREATE TABLE macro_clients (
  -- ID_C as the client bank issued it ('C' + 12 digits + '.' + bank id).
  client_id text PRIMARY KEY CHECK (client_id ~ '^C[0-9]{12}\.[a-z][a-z0-9-]*[a-z0-9]$'),
  party_id text NOT NULL UNIQUE CHECK (length(party_id) BETWEEN 1 AND 200),
  bank_id text NOT NULL REFERENCES banks (id),
  -- "The requester MSISDN number is used to identify the mPIN client": one client per number.
  msisdn text NOT NULL UNIQUE CHECK (msisdn ~ '^\+[1-9][0-9]{6,14}$'),
  email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  secret_question text NOT NULL CHECK (length(secret_question) BETWEEN 1 AND 256),
  secret_answer_verifier text NOT NULL CHECK (secret_answer_verifier LIKE '$argon2id$%'),
  device_secret text NOT NULL CHECK (device_secret ~ '^[A-Za-z0-9_-]{43}$'),
  opaque_record text NOT NULL CHECK (length(opaque_record) BETWEEN 16 AND 2048 AND opaque_record ~ '^[A-Za-z0-9_-]+$'),
  -- The key binding the registration was verified under, and the evidence: the
  -- device's signed registration (compact JWS) and the bank's signed client id.
  binding_serial text NOT NULL,
  binding text NOT NULL,
  registration text NOT NULL,
  client_id_statement text NOT NULL,
  registered_at timestamptz NOT NULL
);

-- Verified registration attempts, counted per party and in all over a window (rate limits).
CREATE TABLE macro_registration_attempts (
  id bigserial PRIMARY KEY,
  party_id text NOT NULL,
  attempted_at timestamptz NOT NULL
);
CREATE INDEX macro_registration_attempts_party ON macro_registration_attempts (party_id, attempted_at);
CREATE INDEX macro_registration_attempts_time ON macro_registration_attempts (attempted_at);

-- Failed mPIN logins in a row, per client id, for ids nobody holds too (so
-- that a block says nothing about which ids exist). Every started login is
-- counted before the server answers anything a guess could be tested with; a
-- login that finishes well resets the count. At the limit the id is blocked.
CREATE TABLE macro_login_tries (
  client_id text PRIMARY KEY CHECK (length(client_id) BETWEEN 1 AND 100),
  failed_tries integer NOT NULL CHECK (failed_tries >= 0),
  last_try_at timestamptz NOT NULL,
  blocked_at timestamptz
);

-- A started mPIN login (OPAQUE KE2 sent), kept for its one finish.
CREATE TABLE macro_logins (
  login_id text PRIMARY KEY,
  client_id text NOT NULL,
  server_login_state text NOT NULL,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX macro_logins_expiry ON macro_logins (expires_at);

-- An open E_SP channel between a client and the MPASP: its key,
-- HKDF-SHA-256(OPAQUE session key, salt = device secret, info = label, ID_C,
-- session id), until it expires.
CREATE TABLE macro_channels (
  session_id text PRIMARY KEY,
  client_id text NOT NULL REFERENCES macro_clients (client_id),
  channel_key text NOT NULL CHECK (channel_key ~ '^[A-Za-z0-9_-]{43}$'),
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX macro_channels_expiry ON macro_channels (expires_at);

-- The mail that sends a new client its client id and mPIN (§3) goes through
-- the one outbox, queued in the registration's transaction: outbox.payment_id
-- names the client id, the payload holds the mail, and the mPIN in it is
-- erased in the statement that marks the mail delivered (or abandoned).
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
  CHECK (kind IN ('device_push', 'bank_order', 'webhook', 'log_entry', 'refund_order', 'macro_mail'));
