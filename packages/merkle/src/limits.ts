/**
 * Every limit of the transparency-log core, in one place. Inputs beyond a
 * limit are rejected before any hashing or signature work is done.
 */

/** Tree sizes and leaf indices are unsigned 64-bit integers, as in RFC 9162 and C2SP. */
export const treeSizeMax = (1n << 64n) - 1n;

/** SHA-256 output, the only hash RFC 9162 logs use here. */
export const hashBytes = 32;

/** An inclusion proof in a tree of at most 2^64 - 1 leaves has at most 64 hashes. */
export const inclusionProofHashesMax = 64;

/**
 * A consistency proof is an inclusion proof of the last perfect subtree of the
 * old tree (at most 64 hashes) plus that subtree's own hash: 65 in the worst
 * case (old size odd, new size above 2^63).
 */
export const consistencyProofHashesMax = 65;

/** c2sp.org/signed-note: verifiers must accept at least 16; golang.org/x/mod/sumdb/note stops at 100. */
export const noteSignaturesMax = 100;

/** A whole signed note, in UTF-8 bytes: room for 100 post-quantum-sized signatures. */
export const noteBytesMax = 1_048_576;

/** A signature line without its newline, in UTF-8 bytes (key name plus base64 of a ~5 kB signature). */
export const signatureLineBytesMax = 8_192;

/** A key name (signed-note key name, checkpoint origin), in UTF-8 bytes. */
export const keyNameBytesMax = 256;

/** An encoded signer or verifier key. */
export const noteKeyLengthMax = 1_024;

/** Checkpoint origin line, in UTF-8 bytes. */
export const checkpointOriginBytesMax = 1_024;

/** Checkpoint extension lines: how many, and how long each (UTF-8 bytes). */
export const checkpointExtensionLinesMax = 16;
export const checkpointExtensionLineBytesMax = 4_096;

/** c2sp.org/tlog-proof: the opaque `extra` data, decoded. */
export const tlogProofExtraBytesMax = 4_096;

/** A whole tlog-proof text, in UTF-8 bytes: the checkpoint note plus index, extra and 64 hash lines. */
export const tlogProofBytesMax = noteBytesMax + 16_384;
