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

-- Only the order resolves its hold, after its state has left 'sending' in the
-- same transaction: an operator's post or void of the hold (which would debit a
-- customer for a refused payment, or release money the merchant bank credited)
-- is refused here, whatever path it takes. SQLSTATE MP001 carries the mpay code.
CREATE FUNCTION transfers_respect_payment_orders() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  IF NEW.pending_id IS NOT NULL
     AND EXISTS (SELECT 1 FROM payment_orders WHERE id = NEW.pending_id AND state = 'sending') THEN
    RAISE EXCEPTION 'TRANSFER_HELD_BY_PAYMENT_ORDER' USING ERRCODE = 'MP001';
  END IF;
  RETURN NEW;
END
$function$;

CREATE TRIGGER transfers_respect_payment_orders BEFORE INSERT ON transfers
  FOR EACH ROW EXECUTE FUNCTION transfers_respect_payment_orders();

-- At the merchant bank: every funds-transfer message a peer bank sent, with
-- the decision taken on it. The id is the debtor bank's order id; a second
-- message with the same id and fields gets the same decision, never a second credit.
CREATE TABLE interbank_credits (
  id uuid NOT NULL,
  debtor_bank text NOT NULL CHECK (length(debtor_bank) BETWEEN 1 AND 64),
  -- The ledger transfer that credited the payee: derived from (debtor bank, id), so that
  -- one peer can never claim another peer's order id.
  transfer_id uuid NOT NULL,
  request_hash text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('credited', 'refused')),
  refusal_code text,
  credit_account_id uuid NOT NULL,
  amount bigint NOT NULL CHECK (amount > 0),
  ledger text NOT NULL CHECK (ledger ~ '^[A-Z]{3}$'),
  -- The funds-transfer message as received (compact JWS), kept as evidence.
  message text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (debtor_bank, id),
  CONSTRAINT interbank_credits_refusal_has_code CHECK ((outcome = 'refused') = (refusal_code IS NOT NULL))
);

-- Nonces of funds-transfer messages seen, per sending bank, until they expire.
CREATE TABLE interbank_nonces (
  bank text NOT NULL,
  nonce text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (bank, nonce)
);

CREATE INDEX interbank_nonces_by_expiry ON interbank_nonces (expires_at);

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
