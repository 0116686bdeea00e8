-- Issue 15: which form of iMS step 2 a device's wallet reads. `v2` (both
-- signatures detached, their claims beside the message) only once the wallet
-- said so when it opened its event stream (GET /devices/events?push=v2); `v1`
-- (the whole message) until then and again when a wallet opens it without the
-- parameter (an older page). The FSP encrypts the push at countersigning, so
-- the form is chosen from what the device last said, read with its binding.
ALTER TABLE key_bindings ADD COLUMN push_format text NOT NULL DEFAULT 'v1'
  CHECK (push_format IN ('v1', 'v2'));
