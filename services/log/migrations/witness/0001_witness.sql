-- A witness: the last checkpoint it cosigned of each log, and every alarm it raised.

CREATE TABLE witness_checkpoints (
  origin text PRIMARY KEY,
  tree_size bigint NOT NULL CHECK (tree_size >= 0),
  root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
  signed_note text NOT NULL,
  updated_at timestamptz NOT NULL
);

-- Append-only evidence: the checkpoint held and the one refused (both signed by the log).
CREATE TABLE witness_alarms (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  origin text NOT NULL,
  code text NOT NULL,
  held_note text NOT NULL,
  refused_note text NOT NULL,
  raised_at timestamptz NOT NULL
);
