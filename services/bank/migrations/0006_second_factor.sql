-- The second factor of large payments (iMS: "different levels of security
-- have to be implemented for small, medium and large transaction of funds"):
-- a TOTP secret (RFC 6238) the customer's bank holds for the party, and its
-- explicit approval of the payment in its signed answer to the FSP.

-- One secret per party, created when the party enrols its first device and
-- given, encrypted to that device's key, to that enrolment only. Stored
-- sealed: `sealed_secret` is a JWE to the bank's own encryption key (the
-- plaintext names the party, so a row copied onto another party does not
-- open). No route reads it back. Wrong codes are counted per party; at the
-- limit the second factor is blocked until the operator resets it (which
-- deletes the row: the next enrolment provisions a new secret).
CREATE TABLE second_factors (
  party_id text PRIMARY KEY CHECK (length(party_id) BETWEEN 1 AND 256),
  sealed_secret text NOT NULL CHECK (length(sealed_secret) BETWEEN 1 AND 4096),
  state text NOT NULL CHECK (state IN ('active', 'blocked')),
  failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
  -- The newest time step accepted: a code of this step or an earlier one is never accepted again.
  last_used_step bigint CHECK (last_used_step >= 0),
  -- The enrolment (binding) the secret was given to: a retry of that enrolment gets it again, no other.
  provisioned_to text NOT NULL REFERENCES key_bindings (serial),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

-- Every time step a party's code was accepted for, with the order it paid:
-- one step pays one order (the primary key refuses a second use even if two
-- orders raced past the row lock).
CREATE TABLE second_factor_uses (
  party_id text NOT NULL CHECK (length(party_id) BETWEEN 1 AND 256),
  time_step bigint NOT NULL CHECK (time_step >= 0),
  order_id uuid NOT NULL,
  used_at timestamptz NOT NULL,
  PRIMARY KEY (party_id, time_step)
);

CREATE TRIGGER second_factor_uses_refuse_update_delete BEFORE UPDATE OR DELETE ON second_factor_uses
  FOR EACH ROW EXECUTE FUNCTION rows_are_immutable();
CREATE TRIGGER second_factor_uses_refuse_truncate BEFORE TRUNCATE ON second_factor_uses
  FOR EACH STATEMENT EXECUTE FUNCTION rows_are_immutable();

-- The bank's explicit approval of an order it accepted at a level that asks
-- for one (JSON: level, checks, approvedAt), signed into every answer about
-- the order. NULL for orders at other levels and for orders placed before.
ALTER TABLE payment_orders ADD COLUMN approval text CHECK (length(approval) BETWEEN 2 AND 1024);
