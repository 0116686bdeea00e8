-- Witness cosignatures (c2sp.org/tlog-cosignature v1) of the log's checkpoints: one line per
-- witness key and checkpoint, as the witness returned it (verified before it is stored).
CREATE TABLE checkpoint_cosignatures (
  tree_size bigint NOT NULL REFERENCES checkpoints (tree_size),
  -- The witness key's name and key ID, `<name>+<hex key ID>`.
  witness text NOT NULL,
  signature_line text NOT NULL,
  received_at timestamptz NOT NULL,
  PRIMARY KEY (tree_size, witness)
);

-- A checkpoint is published (GET /checkpoint serves it, proofs may use its size) once the log
-- has asked its witnesses to cosign it, whatever they answered.
ALTER TABLE checkpoints ADD COLUMN published_at timestamptz;
UPDATE checkpoints SET published_at = signed_at;
