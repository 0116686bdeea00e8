-- Interbank payments (macro-payment seed: client bank CB ⇄ merchant bank MB).
--
-- At the client bank: a payment order from the FSP. Its id is the payment id,
-- the id of the hold (pending transfer) on the customer's account and the id
-- of the funds-transfer message to the merchant bank. The row is the outbox:
-- while state = 'sending' the bank delivers the message until the merchant
-- bank gives a signed answer; only that answer posts or voids the hold.
CREATE TABLE payment_orders (
  id uuid PRIMARY KEY,
  request_hash text NOT NULL,
  ordered_by text NOT NULL,
  debit_account_id uuid NOT NULL REFERENCES accounts (id),
  creditor_bank text NOT NULL CHECK (length(creditor_bank) BETWEEN 1 AND 64),
  credit_account_id uuid NOT NULL,
  amount bigint NOT NULL CHECK (amount > 0),
  ledger text NOT NULL CHECK (ledger ~ '^[A-Z]{3}$'),
  reference text NOT NULL CHECK (length(reference) <= 128),
  state text NOT NULL CHECK (state IN ('sending', 'completed', 'refused')),
  refusal_code text,
  -- The merchant bank must not credit after this instant; after it, its answer is final either way.
  deadline timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_error text,
  -- The merchant bank's signed answer (compact JWS), kept as evidence.
  answer text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CONSTRAINT payment_orders_refusal_has_code CHECK ((state = 'refused') = (refusal_code IS NOT NULL))
);

CREATE INDEX payment_orders_due ON payment_orders (next_attempt_at) WHERE state = 'sending';

-- At the merchant bank: every funds-transfer message a peer bank sent, with
-- the decision taken on it. The id is the debtor bank's order id; a second
-- message with the same id and fields gets the same decision, never a second credit.
CREATE TABLE interbank_credits (
  id uuid PRIMARY KEY,
  debtor_bank text NOT NULL CHECK (length(debtor_bank) BETWEEN 1 AND 64),
  request_hash text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('credited', 'refused')),
  refusal_code text,
  credit_account_id uuid NOT NULL,
  amount bigint NOT NULL CHECK (amount > 0),
  ledger text NOT NULL CHECK (ledger ~ '^[A-Z]{3}$'),
  -- The funds-transfer message as received (compact JWS), kept as evidence.
  message text NOT NULL,
  created_at timestamptz NOT NULL,
  CONSTRAINT interbank_credits_refusal_has_code CHECK ((outcome = 'refused') = (refusal_code IS NOT NULL))
);

-- Nonces of funds-transfer messages seen, per sending bank, until they expire.
CREATE TABLE interbank_nonces (
  bank text NOT NULL,
  nonce text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (bank, nonce)
);

-- Settlement runs booked between this bank and a peer: one row per run and peer.
CREATE TABLE settlements (
  id uuid PRIMARY KEY,
  request_hash text NOT NULL,
  peer text NOT NULL,
  ledger text NOT NULL CHECK (ledger ~ '^[A-Z]{3}$'),
  -- Positive: this bank paid the peer; negative: the peer paid this bank.
  amount bigint NOT NULL CHECK (amount <> 0),
  transfer_id uuid NOT NULL REFERENCES transfers (id),
  created_at timestamptz NOT NULL
);
