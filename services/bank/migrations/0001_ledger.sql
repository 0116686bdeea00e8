-- The bank's double-entry ledger, in the spirit of TigerBeetle: accounts carry
-- four balance fields, transfers are immutable (INSERT only) and their id is
-- the idempotency key; a pending transfer is resolved by at most one
-- post_pending or void_pending transfer, so its state is derived, never updated.

CREATE TABLE accounts (
  id uuid PRIMARY KEY,
  ledger text NOT NULL CHECK (ledger ~ '^[A-Z]{3}$'),
  owner text NOT NULL CHECK (length(owner) BETWEEN 1 AND 256),
  kind text NOT NULL CHECK (kind IN ('customer', 'merchant', 'settlement', 'funding')),
  debits_must_not_exceed_credits boolean NOT NULL,
  credits_must_not_exceed_debits boolean NOT NULL,
  -- numeric(38, 0): room for any sum of transfers (TigerBeetle uses u128); amounts themselves are bigint.
  debits_pending numeric(38, 0) NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
  debits_posted numeric(38, 0) NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
  credits_pending numeric(38, 0) NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
  credits_posted numeric(38, 0) NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
  closed boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL,
  CONSTRAINT accounts_one_balance_limit
    CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)),
  -- The rules live in @mpay/ledger; these repeat them so that a bug cannot commit an overdraft.
  CONSTRAINT accounts_debits_must_not_exceed_credits
    CHECK (NOT debits_must_not_exceed_credits OR debits_pending + debits_posted <= credits_posted),
  CONSTRAINT accounts_credits_must_not_exceed_debits
    CHECK (NOT credits_must_not_exceed_debits OR credits_pending + credits_posted <= debits_posted)
);

CREATE INDEX accounts_by_owner ON accounts (owner);

CREATE TABLE transfers (
  id uuid PRIMARY KEY,
  debit_account_id uuid NOT NULL REFERENCES accounts (id),
  credit_account_id uuid NOT NULL REFERENCES accounts (id),
  amount bigint NOT NULL CHECK (amount > 0),
  ledger text NOT NULL CHECK (ledger ~ '^[A-Z]{3}$'),
  kind text NOT NULL CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending')),
  pending_id uuid REFERENCES transfers (id),
  timeout_seconds integer CHECK (timeout_seconds > 0),
  expires_at timestamptz,
  reference text NOT NULL CHECK (length(reference) <= 128),
  created_at timestamptz NOT NULL,
  CONSTRAINT transfers_accounts_differ CHECK (debit_account_id <> credit_account_id),
  CONSTRAINT transfers_resolution_names_pending
    CHECK ((kind IN ('post_pending', 'void_pending')) = (pending_id IS NOT NULL)),
  CONSTRAINT transfers_pending_has_timeout
    CHECK ((kind = 'pending') = (timeout_seconds IS NOT NULL AND expires_at IS NOT NULL))
);

-- A pending transfer is posted or voided at most once.
CREATE UNIQUE INDEX transfers_one_resolution_per_pending ON transfers (pending_id) WHERE pending_id IS NOT NULL;
-- Statements (later): an account's transfers in time order.
CREATE INDEX transfers_by_debit_account ON transfers (debit_account_id, created_at);
CREATE INDEX transfers_by_credit_account ON transfers (credit_account_id, created_at);
-- The expiry sweep: holds by expiry time.
CREATE INDEX transfers_pending_by_expiry ON transfers (expires_at) WHERE kind = 'pending';

CREATE FUNCTION transfers_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  RAISE EXCEPTION 'transfers are immutable: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END
$function$;

CREATE TRIGGER transfers_refuse_update_delete BEFORE UPDATE OR DELETE ON transfers
  FOR EACH ROW EXECUTE FUNCTION transfers_are_immutable();
CREATE TRIGGER transfers_refuse_truncate BEFORE TRUNCATE ON transfers
  FOR EACH STATEMENT EXECUTE FUNCTION transfers_are_immutable();

-- @mpay/http idempotencyTableSql, verbatim (a test keeps the two the same).
CREATE TABLE IF NOT EXISTS idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  status_code integer,
  response_body text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
