-- The transaction log (SA2pMP "Transaction Log Server") as an RFC 9162 transparency log.
-- Entries get their index when submitted and join the tree when a batch is integrated;
-- only perfect-subtree hashes are stored (they never change once complete); every
-- integrated batch ends in a signed checkpoint (c2sp.org/tlog-checkpoint).

-- One row: the next index to hand out and the size of the integrated tree.
-- Submissions and integrations lock it, so indices are dense and in order.
CREATE TABLE log_state (
  id integer PRIMARY KEY CHECK (id = 1),
  next_index bigint NOT NULL CHECK (next_index >= 0),
  tree_size bigint NOT NULL CHECK (tree_size >= 0),
  CHECK (tree_size <= next_index)
);
INSERT INTO log_state (id, next_index, tree_size) VALUES (1, 0, 0);

CREATE TABLE entries (
  index bigint PRIMARY KEY CHECK (index >= 0),
  -- The leaf data is the RFC 8785 canonical JSON of hash, kind, metadata, submitter, transactionId.
  leaf_data text NOT NULL,
  leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32),
  message_hash bytea NOT NULL CHECK (length(message_hash) = 32),
  kind text NOT NULL,
  transaction_id text NOT NULL,
  metadata text NOT NULL,
  submitter text NOT NULL,
  submitted_at timestamptz NOT NULL,
  UNIQUE (submitter, transaction_id, message_hash)
);

-- Perfect subtrees: the 2^level leaves [index * 2^level, (index + 1) * 2^level).
CREATE TABLE tree_nodes (
  level integer NOT NULL CHECK (level BETWEEN 0 AND 63),
  index bigint NOT NULL CHECK (index >= 0),
  hash bytea NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (level, index)
);

-- At most one signed checkpoint per tree size: the log never signs two heads of one size.
CREATE TABLE checkpoints (
  tree_size bigint PRIMARY KEY CHECK (tree_size >= 0),
  root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
  signed_note text NOT NULL,
  signed_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  status_code integer,
  response_body text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
