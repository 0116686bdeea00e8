-- Issue 15: what each device's wallet said when it last opened its event stream
-- (GET /devices/events), kept apart from key_bindings so that a change notifies
-- nobody (key_bindings' trigger empties every instance's key cache), and read in
-- countersigning's own transaction (never stale). It replaces 0011's column.
--   push_format: `v2` (both signatures detached, their claims beside the
--     message) once the wallet said `?push=v2`; `v1` (the whole message) until
--     then and after an open without it (an older page).
--   certificate_references: the wallet reads a merchant certificate named by
--     its SHA-256 (it sent `certificates=`, even empty).
CREATE TABLE device_streams (
  signing_kid text PRIMARY KEY,
  push_format text NOT NULL CHECK (push_format IN ('v1', 'v2')),
  certificate_references boolean NOT NULL,
  opened_at timestamptz NOT NULL
);
INSERT INTO device_streams (signing_kid, push_format, certificate_references, opened_at)
  SELECT signing_kid, push_format, false, now() FROM key_bindings WHERE push_format = 'v2';
ALTER TABLE key_bindings DROP COLUMN push_format;

-- The merchant certificates a device holds (by the SHA-256 of their text), so
-- that a push/v2 names a certificate the device has instead of carrying it
-- (about 1.4 KB of the push). Set to what the wallet lists when it opens its
-- stream (`?certificates=`, at most 16), and added to when the device confirms
-- a payment whose push carried a certificate (it verified it, so it kept it),
-- for a wallet that reads references only. Not a trust store: a wrong row costs
-- the device one GET /certificates/:reference.
CREATE TABLE device_certificates (
  signing_kid text NOT NULL,
  certificate_sha256 text NOT NULL,
  recorded_at timestamptz NOT NULL,
  PRIMARY KEY (signing_kid, certificate_sha256)
);

-- The certificate a push/v2 carried whole, for the confirmation to record.
ALTER TABLE payments ADD COLUMN push_certificate_sha256 text;


-- Every certificate the FSP issued, by its reference, kept when a certificate
-- is issued again (a newly certified name replaces the text in key_certificates):
-- a wallet that lost the one a pending push names fetches it here
-- (GET /certificates/:reference), while its key's certificate is not revoked.
-- Written by a trigger, so that every way a certificate is stored keeps it.
CREATE TABLE issued_certificates (
  certificate_sha256 text PRIMARY KEY,
  signing_kid text NOT NULL,
  certificate text NOT NULL,
  issued_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION keep_issued_certificate() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  INSERT INTO issued_certificates (certificate_sha256, signing_kid, certificate)
    VALUES (rtrim(translate(encode(sha256(convert_to(NEW.certificate, 'UTF8')), 'base64'), '+/', '-_'), '='),
      NEW.signing_kid, NEW.certificate)
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END;
$function$;

CREATE TRIGGER key_certificates_issued AFTER INSERT OR UPDATE OF certificate ON key_certificates
  FOR EACH ROW EXECUTE FUNCTION keep_issued_certificate();

INSERT INTO issued_certificates (certificate_sha256, signing_kid, certificate)
  SELECT rtrim(translate(encode(sha256(convert_to(certificate, 'UTF8')), 'base64'), '+/', '-_'), '='),
    signing_kid, certificate
  FROM key_certificates
  ON CONFLICT DO NOTHING;
