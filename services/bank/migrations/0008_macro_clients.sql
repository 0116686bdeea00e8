-- Macro payments (seed 002 §3): "At the time of registration, the bank issues
-- the ID for registered users". When one of this bank's customers registers
-- with the MPASP (the FSP), the FSP asks the bank for the customer's client id
-- ID_C; the bank issues it once per customer, against a key binding it issued
-- to that customer and that is active, and signs what it issued. Later steps
-- (step 6: "The CB identifies the client using client Id") read it back.
--
-- ID_C is 'C', twelve random digits and '.<bank id>': random so that client ids
-- cannot be enumerated, the bank id so that ids of different banks never
-- collide and name the client bank. Immutable: a client id is never reassigned.
CREATE TABLE macro_clients (
  client_id text PRIMARY KEY CHECK (client_id ~ '^C[0-9]{12}\.[a-z][a-z0-9-]*[a-z0-9]$'),
  party_id text NOT NULL UNIQUE CHECK (length(party_id) BETWEEN 1 AND 256),
  -- The MSISDN the customer registered with the MPASP (E.164), as the FSP told it.
  msisdn text NOT NULL CHECK (msisdn ~ '^\+[1-9][0-9]{6,14}$'),
  -- The binding the registration was made under (the device that signed it).
  binding_serial text NOT NULL REFERENCES key_bindings (serial),
  issued_to text NOT NULL CHECK (length(issued_to) BETWEEN 1 AND 255),
  issued_at timestamptz NOT NULL
);

CREATE TRIGGER macro_clients_refuse_update_delete BEFORE UPDATE OR DELETE ON macro_clients
  FOR EACH ROW EXECUTE FUNCTION rows_are_immutable();
CREATE TRIGGER macro_clients_refuse_truncate BEFORE TRUNCATE ON macro_clients
  FOR EACH STATEMENT EXECUTE FUNCTION rows_are_immutable();
