export const logUsage = `usage: mpay log <command>

  note sign --skey FILE [--skey FILE ...]
      Reads note text on stdin (it must end with a newline) and writes the
      signed note (c2sp.org/signed-note) on stdout, one signature per key.

  note verify --vkey FILE
      Reads a signed note on stdin. Exits 0 and writes the note text on stdout
      only if a signature by that verifier key verifies; otherwise exits 1 and
      writes "error <CODE>: <message>" on stderr.

  keygen NAME [--out DIR]
      Generates an Ed25519 note key for NAME (golang.org/x/mod/sumdb/note
      encoding). With --out, writes DIR/<file>.skey (mode 0600, the secret
      signer key) and DIR/<file>.vkey, where <file> is NAME with every
      character outside [A-Za-z0-9._-] replaced by '_', never overwriting, and
      prints the verifier key. Without --out, prints the signer key (secret,
      it starts with PRIVATE+KEY+) on the first line and the verifier key on the
      second.

Key files hold one key; surrounding whitespace is ignored.
Exit status: 0 success, 1 rejected input or failed verification, 2 usage error.
`;
