-- Bank operations: statements in commit order, refunds and reversals as new
-- transfers, and operator-set debit limits. Nothing here updates a transfer.

-- Commit order per account. Every transfer is inserted while its two account
-- rows are locked FOR UPDATE (create-transfer.ts), so among the transfers that
-- touch one account a later insert commits later and draws a larger number.
-- Rows that exist when this runs are numbered in table order. The daily debit
-- sum of limits uses the existing (debit_account_id, created_at) index.
ALTER TABLE transfers ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX transfers_by_debit_account_seq ON transfers (debit_account_id, seq);
CREATE INDEX transfers_by_credit_account_seq ON transfers (credit_account_id, seq);

CREATE FUNCTION rows_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  RAISE EXCEPTION '% rows are immutable: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
END
$function$;

-- A refund or reversal is a posted transfer in the opposite direction; this
-- row, written in the same transaction, says which transfer it corrects.
CREATE TABLE corrections (
  transfer_id uuid PRIMARY KEY REFERENCES transfers (id),
  original_id uuid NOT NULL REFERENCES transfers (id),
  kind text NOT NULL CHECK (kind IN ('refund', 'reversal')),
  created_at timestamptz NOT NULL,
  CONSTRAINT corrections_not_itself CHECK (transfer_id <> original_id)
);

CREATE INDEX corrections_by_original ON corrections (original_id);

CREATE TRIGGER corrections_refuse_update_delete BEFORE UPDATE OR DELETE ON corrections
  FOR EACH ROW EXECUTE FUNCTION rows_are_immutable();
CREATE TRIGGER corrections_refuse_truncate BEFORE TRUNCATE ON corrections
  FOR EACH STATEMENT EXECUTE FUNCTION rows_are_immutable();

-- Debit limits set by the operator, as a history: the newest row per account
-- is in force; NULL means no limit of that kind.
CREATE TABLE account_limits (
  account_id uuid NOT NULL REFERENCES accounts (id),
  version bigint GENERATED ALWAYS AS IDENTITY,
  per_transaction_max bigint CHECK (per_transaction_max > 0),
  daily_debit_max bigint CHECK (daily_debit_max > 0),
  set_by text NOT NULL CHECK (length(set_by) BETWEEN 1 AND 255),
  set_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, version)
);

CREATE TRIGGER account_limits_refuse_update_delete BEFORE UPDATE OR DELETE ON account_limits
  FOR EACH ROW EXECUTE FUNCTION rows_are_immutable();
CREATE TRIGGER account_limits_refuse_truncate BEFORE TRUNCATE ON account_limits
  FOR EACH STATEMENT EXECUTE FUNCTION rows_are_immutable();


-- Money that went to or came from another bank is corrected between the banks
-- (a payment back through the other bank), never by a local refund that would
-- move a settlement account behind the peer's back. SQLSTATE MP001 carries the mpay code.
CREATE FUNCTION corrections_stay_within_the_bank() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  IF EXISTS (SELECT 1 FROM transfers AS t JOIN accounts AS a ON a.id IN (t.debit_account_id, t.credit_account_id)
             WHERE t.id = NEW.original_id AND a.kind = 'settlement') THEN
    RAISE EXCEPTION 'CORRECTION_CROSSES_BANKS' USING ERRCODE = 'MP001';
  END IF;
  RETURN NEW;
END
$function$;

CREATE TRIGGER corrections_stay_within_the_bank BEFORE INSERT ON corrections
  FOR EACH ROW EXECUTE FUNCTION corrections_stay_within_the_bank();
