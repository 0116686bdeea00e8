export const logUsage = `usage: mpay log <command>
  keygen NAME [--witness] [--out DIR]
      Generates an Ed25519 key for NAME (golang.org/x/mod/sumdb/note encoding):
      a note key (type 0x01, what a log signs checkpoints with) or, with
      --witness, a cosigner key (type 0x04, c2sp.org/tlog-cosignature v1).
      With --out, writes DIR/<file>.skey (mode 0600, the secret signer key) and
      DIR/<file>.vkey, where <file> is NAME with every character outside
      [A-Za-z0-9._-] replaced by '_', never overwriting, and prints the
      verifier key. Without --out, prints the signer key (secret, it starts
      with PRIVATE+KEY+) on the first line and the verifier key on the second.
  note sign --skey FILE [--skey FILE ...]
      Reads note text on stdin (it must end with a newline) and writes the
      signed note (c2sp.org/signed-note) on stdout, one signature per key; a
      cosigner key adds a cosignature/v1 line at the current time.
  note verify --vkey FILE
      Reads a signed note on stdin. Exits 0 and writes the note text on stdout
      only if a signature by that verifier key verifies.
  verify FILE --log-key FILE [--witness-key FILE ...] [--witnesses N] [--leaf-hash B64]
      Checks offline, with only these keys, a receipt (mpay-receipt/v1 JSON:
      the leaf is recomputed from the signed messages it holds) or a bare
      c2sp.org/tlog-proof of the leaf hash given with --leaf-hash: the log's
      signature on the checkpoint, at least N cosignatures by the witness keys
      (default 1), and the inclusion proof. Keys named in the file are ignored.
  serve [--data DIR] [--port N] [--origin NAME] [--skey FILE] [--submitter FILE ...]
        [--witness URL --witness-key FILE ...] [--host H] [--schema-prefix P]
      Runs the log (default port 4110) until SIGINT or SIGTERM. Its key is
      --skey FILE (with its .vkey beside it) or DIR/keys/log.skey, created
      on first start (origin NAME, default
      log.mpay.example/transactions); its database is PGlite in DIR/log, or
      the schema log on DATABASE_URL. A submitter file is JSON
      {"id": ..., "signingJwk": public JWK with kid}. Each checkpoint is sent
      to the witnesses to cosign before it is published. Prints
      "log <url>" and "log-key <verifier key>" once it listens.
  witness --log-key FILE [--log-key FILE ...] [--data DIR] [--port N] [--name NAME]
          [--skey FILE] [--host H] [--schema-prefix P]
      Runs a witness (c2sp.org/tlog-witness, default port 4111) for those
      logs. Its cosigner key is --skey FILE or DIR/keys/log-witness.skey,
      created on first start; its database is PGlite in DIR/log_witness or the schema
      log_witness. Prints "witness <url>" and "witness-key <verifier key>".
Key files hold one key; surrounding whitespace is ignored. DIR defaults to
MPAY_DATA_DIR or ./.mpay.
Exit status: 0 success, 1 rejected input or failed verification ("error <CODE>:
<message>" on stderr), 2 usage error.
`;
