-- The gateway's key cache (src/registry/key-cache.ts) keeps banks too (where a
-- bank answers and the key its answers and bindings are signed with): any change
-- of `banks` notifies `<schema>__registry_changed` at its commit, as the keys'
-- and parties' tables do (0009, 0010), and every instance empties its cache.
CREATE TRIGGER banks_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON banks
  FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_changed();
