-- Issue 15's key cache (src/registry/key-cache.ts): every gateway instance keeps
-- the keys of the registry it checked for a few seconds, and empties that cache
-- when any of them changes. Whatever writes key_bindings or key_certificates (a
-- registration, a revocation, a re-issued certificate, an operator's own SQL)
-- notifies `<schema>__registry_changed` in its transaction; PostgreSQL sends it
-- at the commit, never for a rollback. The payload names the table only.
CREATE FUNCTION notify_registry_changed() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  PERFORM pg_notify(TG_TABLE_SCHEMA || '__registry_changed', TG_TABLE_NAME);
  RETURN NULL;
END;
$function$;

CREATE TRIGGER key_bindings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON key_bindings
  FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_changed();

CREATE TRIGGER key_certificates_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON key_certificates
  FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_changed();
