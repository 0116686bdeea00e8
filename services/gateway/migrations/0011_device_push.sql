-- Issue 15: which form of iMS step 2 a device's wallet reads. `v2` (both
-- signatures detached, their claims beside the message) only once the wallet
-- said so when it opened its event stream (GET /devices/events?push=v2); `v1`
-- (the whole message) until then and again when a wallet opens it without the
-- parameter (an older page). The FSP encrypts the push at countersigning, so
-- the form is chosen from what the device last said, read with its binding.
ALTER TABLE key_bindings ADD COLUMN push_format text NOT NULL DEFAULT 'v1'
  CHECK (push_format IN ('v1', 'v2'));

-- The merchant certificates a device holds (by the SHA-256 of their text), so
-- that a push/v2 names a certificate the device has instead of carrying it
-- (about 1.4 KB of the push). Set to what the wallet lists when it opens its
-- stream (`?certificates=`, at most 16), and added to when the device confirms
-- a payment whose push carried a certificate (it verified it, so it kept it).
-- Not a trust store: a wrong row costs the device one GET /parties/:id.
CREATE TABLE device_certificates (
  signing_kid text NOT NULL,
  certificate_sha256 text NOT NULL,
  recorded_at timestamptz NOT NULL,
  PRIMARY KEY (signing_kid, certificate_sha256)
);

-- The certificate a push/v2 carried whole, for the confirmation to record.
ALTER TABLE payments ADD COLUMN push_certificate_sha256 text;
