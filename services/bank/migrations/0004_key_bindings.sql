-- The public key depository (SA2pMP §4.3): the bank enrols a customer's
-- device keys and binds them to the customer's party id, one device and the
-- accounts the key may debit; a payment order debits an account only on the
-- customer's signature under such a binding (DESIGN.md, "Who must see the
-- customer's consent").

-- One-time enrolment codes the operator hands to a customer (after a login
-- with several factors, outside this service). The code itself is shown once
-- and never stored: only its SHA-256. Failed attempts are counted on the
-- party's live code, across devices; at the limit the code is blocked until
-- the operator issues another. History is kept: a new code replaces the old.
CREATE TABLE enrolment_codes (
  id uuid PRIMARY KEY,
  party_id text NOT NULL CHECK (length(party_id) BETWEEN 1 AND 256),
  code_hash text NOT NULL CHECK (code_hash ~ '^[0-9a-f]{64}$'),
  -- The accounts the enrolled key may debit, sorted (checked against the ledger when issued).
  account_ids uuid[] NOT NULL CHECK (cardinality(account_ids) BETWEEN 1 AND 8),
  state text NOT NULL CHECK (state IN ('issued', 'used', 'blocked', 'replaced')),
  failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
  issued_by text NOT NULL CHECK (length(issued_by) BETWEEN 1 AND 255),
  issued_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CONSTRAINT enrolment_codes_expire_after_issue CHECK (expires_at > issued_at)
);

-- At most one live (issued or blocked) code per party.
CREATE UNIQUE INDEX enrolment_codes_one_live_per_party ON enrolment_codes (party_id)
  WHERE state IN ('issued', 'blocked');
CREATE INDEX enrolment_codes_by_party ON enrolment_codes (party_id, issued_at);

-- The bindings the bank issued. Immutable: revocation is a row of its own.
CREATE TABLE key_bindings (
  serial text PRIMARY KEY CHECK (serial ~ '^[A-Za-z0-9_-]{1,64}$'),
  party_id text NOT NULL CHECK (length(party_id) BETWEEN 1 AND 256),
  device_id text NOT NULL CHECK (device_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  -- RFC 7638 thumbprint of the bound signing key, the kid of the customer's
  -- signatures: a key is bound once, ever (a revoked key never comes back).
  signing_kid text NOT NULL UNIQUE,
  not_before timestamptz NOT NULL,
  not_after timestamptz NOT NULL,
  -- The issued binding (compact JWS by the bank's key, typ mpay-key-binding+jws):
  -- the one record an authorisation is checked against.
  binding text NOT NULL,
  enrolment_code_id uuid NOT NULL UNIQUE REFERENCES enrolment_codes (id),
  created_at timestamptz NOT NULL,
  CONSTRAINT key_bindings_validity CHECK (not_before < not_after)
);

CREATE INDEX key_bindings_by_party ON key_bindings (party_id);

CREATE TRIGGER key_bindings_refuse_update_delete BEFORE UPDATE OR DELETE ON key_bindings
  FOR EACH ROW EXECUTE FUNCTION rows_are_immutable();
CREATE TRIGGER key_bindings_refuse_truncate BEFORE TRUNCATE ON key_bindings
  FOR EACH STATEMENT EXECUTE FUNCTION rows_are_immutable();

-- A revoked binding (a lost device): once, for good.
CREATE TABLE key_binding_revocations (
  serial text PRIMARY KEY REFERENCES key_bindings (serial),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 256),
  revoked_by text NOT NULL CHECK (length(revoked_by) BETWEEN 1 AND 255),
  revoked_at timestamptz NOT NULL
);

CREATE TRIGGER key_binding_revocations_refuse_update_delete BEFORE UPDATE OR DELETE ON key_binding_revocations
  FOR EACH ROW EXECUTE FUNCTION rows_are_immutable();
CREATE TRIGGER key_binding_revocations_refuse_truncate BEFORE TRUNCATE ON key_binding_revocations
  FOR EACH STATEMENT EXECUTE FUNCTION rows_are_immutable();
