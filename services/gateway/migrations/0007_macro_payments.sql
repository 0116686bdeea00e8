-- Macro payments at the MPASP (seed 002 §4.2, steps 1–5): the payment as the
-- core's step function (`startMacro`, `stepMacro`) leaves it, its append-only
-- history, the counted openings of its challenge (step 3), the per-client
-- count of wrong secret answers (step 5), and the Payment Request to the
-- client bank (step 6) prepared when the session is created.

-- One row per payment, keyed by ID_T. The columns are the core's MacroPayment;
-- `state` is one of its states (the table in packages/protocol/src/macro/state-machine.ts).
CREATE TABLE macro_payments (
  -- ID_T = create_TranId(ID_C): a UUID version 7.
  transaction_id text PRIMARY KEY CHECK (transaction_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'),
  client_id text NOT NULL REFERENCES macro_clients (client_id),
  -- The client's id of its step-1 message: one payment per request (a replayed request is refused).
  request_id text NOT NULL,
  mpasp_id text NOT NULL,
  state text NOT NULL CHECK (state IN (
    'requested', 'challenged', 'challenge_opened', 'answered', 'session_created', 'approval_requested',
    'approved', 'funds_transfer_sent', 'merchant_confirmed', 'acknowledged', 'completed', 'failed_secret',
    'failed_balance', 'tries_exhausted', 'expired', 'declined_by_client', 'refused_by_mb')),
  -- AmtInfo_c in minor units.
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  transaction_data_hash text NOT NULL CHECK (transaction_data_hash ~ '^[0-9a-f]{64}$'),
  -- T_EXP, T_iS
  expires_at timestamptz NOT NULL,
  challenged_at timestamptz,
  challenge_open_failures integer NOT NULL CHECK (challenge_open_failures >= 0),
  -- SID_T = CreateSession(ID_T), ID_CB (step 5); ID_M, ID_MB (step 7).
  session_id text UNIQUE,
  client_bank_id text,
  merchant_id text,
  merchant_bank_id text,
  outcome text,
  -- The step-2 content E_SP{ID_T, T_iS, SQn} (ChallengeContent JSON), sealed
  -- only at each opening that proves the mPIN; NULL once deleted (step 3) or final.
  challenge text,
  -- The E_SP key of this payment's C–MPASP channel (base64url, 32 bytes),
  -- HKDF(OPAQUE session key of the opening, salt = device secret, info = label, ID_C, ID_T);
  -- NULL until the challenge is opened, and again once the payment is final.
  channel_key text CHECK (channel_key ~ '^[A-Za-z0-9_-]{43}$'),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (client_id, request_id)
);
CREATE INDEX macro_payments_open ON macro_payments (client_id, expires_at)
  WHERE state IN ('requested', 'challenged', 'challenge_opened', 'answered', 'session_created', 'approval_requested');
CREATE INDEX macro_payments_expiry ON macro_payments (expires_at)
  WHERE state IN ('requested', 'challenged', 'challenge_opened', 'answered', 'session_created', 'approval_requested');

-- The history, append-only: one row per step the core ran, with the paper's step number and words.
CREATE TABLE macro_payment_events (
  id bigserial PRIMARY KEY,
  transaction_id text NOT NULL REFERENCES macro_payments (transaction_id),
  step smallint NOT NULL CHECK (step BETWEEN 1 AND 12),
  transition text NOT NULL,
  from_state text,
  to_state text NOT NULL,
  name text NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX macro_payment_events_payment ON macro_payment_events (transaction_id, id);

-- A started opening of a challenge (step 3): an OPAQUE login with the mPIN,
-- bound to ID_T, kept for its one finish. An opening left unfinished counts as
-- a failed try when the next one starts.
CREATE TABLE macro_challenge_openings (
  opening_id text PRIMARY KEY,
  transaction_id text NOT NULL REFERENCES macro_payments (transaction_id),
  server_login_state text NOT NULL,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX macro_challenge_openings_payment ON macro_challenge_openings (transaction_id);

-- Wrong secret answers (step 5) per client, across payments; at the limit the
-- client's macro payments are blocked until the MPASP unblocks them. A valid
-- answer resets the count.
CREATE TABLE macro_secret_answer_tries (
  client_id text PRIMARY KEY REFERENCES macro_clients (client_id),
  failed_answers integer NOT NULL CHECK (failed_answers >= 0),
  last_failure_at timestamptz NOT NULL,
  blocked_at timestamptz
);

-- Step 6's message, MPASP → CB: E_SP{SID_T, ID_C, AmtInfo_c, h(TransactionData)}
-- (ClientBankRequestContent JSON), prepared in the transaction that created
-- SID_T; `sent_at` stays NULL until the step-6 sender delivers it.
CREATE TABLE macro_client_bank_requests (
  session_id text PRIMARY KEY,
  transaction_id text NOT NULL UNIQUE REFERENCES macro_payments (transaction_id),
  client_bank_id text NOT NULL,
  content text NOT NULL,
  created_at timestamptz NOT NULL,
  sent_at timestamptz
);
CREATE INDEX macro_client_bank_requests_unsent ON macro_client_bank_requests (created_at) WHERE sent_at IS NULL;
