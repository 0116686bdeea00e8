-- Signed request tokens are single-use: the nonce of each verified
-- `Authorization: MPay …` token, per caller, until the token would have
-- expired (plus the verifiers' clock skew). A second request with the same
-- token is refused (MESSAGE_REPLAYED) before any route runs.
CREATE TABLE request_nonces (
  caller text NOT NULL,
  nonce text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (caller, nonce)
);

CREATE INDEX request_nonces_by_expiry ON request_nonces (expires_at);
