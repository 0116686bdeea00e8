-- Steps 6 and 12 of seed 002 §4.2 at the MPASP: the delivery of the prepared
-- Payment Request to the client bank (step 6) and the watch for the client
-- bank's outcome (step 12), with their retries. One row per SID_T, the one
-- of migration 0007.
ALTER TABLE macro_client_bank_requests
  -- Step 6: attempts to deliver; the next one is due at `next_attempt_at`
  -- (NULL: now); a claimed row is leased by pushing it into the future.
  ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  ADD COLUMN next_attempt_at timestamptz,
  ADD COLUMN last_error text,
  -- The client bank's signed send_failure_msg2 (compact JWS), when it refused at step 6.
  ADD COLUMN failure_msg2 text,
  -- Step 12: asks about the client bank's payment order; the next is due at `next_check_at`.
  ADD COLUMN outcome_checks integer NOT NULL DEFAULT 0 CHECK (outcome_checks >= 0),
  ADD COLUMN next_check_at timestamptz,
  -- The client bank's signed statement of the order's end (compact JWS), kept as evidence.
  ADD COLUMN outcome_statement text,
  ADD COLUMN outcome_at timestamptz;

CREATE INDEX macro_client_bank_requests_due ON macro_client_bank_requests (next_attempt_at)
  WHERE sent_at IS NULL;
CREATE INDEX macro_client_bank_requests_watched ON macro_client_bank_requests (next_check_at)
  WHERE sent_at IS NOT NULL AND outcome_at IS NULL;
