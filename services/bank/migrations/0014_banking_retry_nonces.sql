-- A retry of a banking request (the same request id and signed content) is
-- answered only when the device signed it again: its nonce must be new to the
-- session, as a first request's is (banking_requests' UNIQUE (session_id,
-- nonce)). One row per retry's nonce, so a retry captured on the way can no
-- more be replayed than a first request can: a replayed copy of any request,
-- first or retry, is BANKING_REQUEST_REPLAYED, and learns nothing, not even a
-- refusal's code. Kept as long as the session's requests are.
CREATE TABLE banking_retry_nonces (
  session_id uuid NOT NULL REFERENCES banking_sessions (id),
  nonce text NOT NULL CHECK (nonce ~ '^[A-Za-z0-9_-]{22,86}$'),
  request_id uuid NOT NULL REFERENCES banking_requests (id),
  received_at timestamptz NOT NULL,
  PRIMARY KEY (session_id, nonce)
);
