-- The gateway's key cache (src/registry/key-cache.ts) keeps parties too (who a
-- party id or an MSISDN alias names, its bank, its webhook): any change of
-- `parties` or `aliases` notifies `<schema>__registry_changed` at its commit, as
-- the keys' tables do (0009_registry_changes.sql), and every instance empties its
-- cache.
CREATE TRIGGER parties_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON parties
  FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_changed();

CREATE TRIGGER aliases_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON aliases
  FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_changed();
