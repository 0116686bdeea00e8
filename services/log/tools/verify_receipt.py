#!/usr/bin/env python3
"""Verifies an mpay receipt (mpay-receipt/v1) without any mpay code.

An independent implementation, from the specifications only, of what
`mpay log verify` checks: the leaf recomputed from the signed messages (RFC 8785,
RFC 9162), the c2sp.org/tlog-proof layout, the log's Ed25519 signed-note
signature (c2sp.org/signed-note), witness cosignatures (c2sp.org/tlog-cosignature
v1) and the RFC 9162 inclusion proof. Needs pyca/cryptography.

    python3 verify_receipt.py RECEIPT --log-key FILE --witness-key FILE [--witnesses N]

Exit status 0 and "OK ..." when the receipt verifies, 1 and the reason otherwise.
Metadata values must be strings, integers, booleans, null, objects or arrays.
"""
import argparse
import base64
import hashlib
import json
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Invalid(Exception):
    pass


def jcs(value):
    """RFC 8785 for the JSON values a receipt's entry holds (no floats)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        if abs(value) > 2**53:
            raise Invalid("integer beyond I-JSON")
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(jcs(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: key.encode("utf-16-be"))
        return "{" + ",".join(jcs(key) + ":" + jcs(value[key]) for key in keys) + "}"
    raise Invalid("unsupported JSON value")


def b64(text):
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        raise Invalid("non-canonical base64")
    return raw


def parse_vkey(text):
    name, key_id, key = text.strip().split("+", 2)
    typed = b64(key)
    if hashlib.sha256(name.encode() + b"\n" + typed).digest()[:4].hex() != key_id:
        raise Invalid("key ID of " + name)
    return {"name": name, "id": bytes.fromhex(key_id), "type": typed[0], "key": Ed25519PublicKey.from_public_bytes(typed[1:])}


def split_note(note):
    body, _, block = note.rpartition("\n\n")
    if not block.endswith("\n"):
        raise Invalid("signature block")
    signatures = []
    for line in block[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Invalid("signature line")
        name, _, data = line[2:].partition(" ")
        raw = b64(data)
        signatures.append((name, raw[:4], raw[4:]))
    return body + "\n", signatures


def verified_by(key, body, signatures):
    for name, key_id, signature in signatures:
        if name != key["name"] or key_id != key["id"]:
            continue
        if key["type"] == 0x04:
            if len(signature) != 72:
                raise Invalid("cosignature length")
            (timestamp,) = struct.unpack(">Q", signature[:8])
            message = ("cosignature/v1\ntime %d\n" % timestamp).encode() + body.encode()
            signature = signature[8:]
        else:
            message = body.encode()
        try:
            key["key"].verify(signature, message)
        except InvalidSignature:
            raise Invalid("bad signature by " + key["name"])
        return True
    return False


def root_from_inclusion(leaf, index, size, proof):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        raise Invalid("index beyond size")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Invalid("proof too long")
        if fn % 2 == 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Invalid("proof too short")
    return r


def verify(receipt, log_key, witness_keys, required):
    if receipt.get("version") != "mpay-receipt/v1":
        raise Invalid("version")
    entry = receipt["entry"]
    message_hash = hashlib.sha256(jcs(receipt["messages"]).encode()).digest()
    leaf_data = jcs({"hash": base64.b64encode(message_hash).decode(), "kind": entry["kind"], "metadata": entry["metadata"],
                     "submitter": entry["submitter"], "transactionId": receipt["transactionId"]})
    leaf = hashlib.sha256(b"\x00" + leaf_data.encode()).digest()
    head, _, note = receipt["proof"].partition("\n\n")
    lines = head.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1":
        raise Invalid("tlog-proof header")
    lines = lines[2:] if lines[1].startswith("extra ") else lines[1:]
    if not lines[0].startswith("index ") or not lines[0][6:].isdigit() or (lines[0][6:] != "0" and lines[0][6] == "0"):
        raise Invalid("index line")
    index = int(lines[0][6:])
    proof = [b64(line) for line in lines[1:]]
    body, signatures = split_note(note)
    origin, size, root = body[:-1].split("\n")
    if origin != log_key["name"]:
        raise Invalid("origin")
    if not verified_by(log_key, body, signatures):
        raise Invalid("no signature by the log key")
    cosigners = [key["name"] for key in witness_keys if verified_by(key, body, signatures)]
    if len(cosigners) < required:
        raise Invalid("%d witness cosignatures, %d required" % (len(cosigners), required))
    if root_from_inclusion(leaf, index, int(size), proof) != b64(root):
        raise Invalid("inclusion proof")
    return index, int(size), cosigners


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("receipt")
    parser.add_argument("--log-key", required=True)
    parser.add_argument("--witness-key", action="append", default=[])
    parser.add_argument("--witnesses", type=int, default=1)
    args = parser.parse_args()
    try:
        with open(args.receipt, encoding="utf-8") as file:
            receipt = json.load(file)
        with open(args.log_key, encoding="utf-8") as file:
            log_key = parse_vkey(file.read())
        witness_keys = []
        for path in args.witness_key:
            with open(path, encoding="utf-8") as file:
                witness_keys.append(parse_vkey(file.read()))
        if log_key["type"] != 0x01 or any(key["type"] != 0x04 for key in witness_keys):
            raise Invalid("key types: the log's is 0x01, witnesses' 0x04")
        index, size, cosigners = verify(receipt, log_key, witness_keys, args.witnesses)
    except (Invalid, KeyError, ValueError, TypeError) as error:
        print("INVALID: %s" % error, file=sys.stderr)
        return 1
    print("OK entry %d of %s (tree size %d), cosigned by %s" % (index, log_key["name"], size, ", ".join(cosigners)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
