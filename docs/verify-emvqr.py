#!/usr/bin/env python3
"""Checks an mpay till QR payload (`mpay demo --m-trade` prints one) with a second,
independent implementation: Python's standard library only, nothing from mpay.

    python3 docs/verify-emvqr.py PAYLOAD                  # EMV structure, CRC, fields
    python3 docs/verify-emvqr.py PAYLOAD --gateway URL    # and the merchant's signature:
        the FSP's keys from URL/fsp, the merchant's certificate from URL/parties/<id>,
        the certificate verified under the FSP's key, then the QR signature under the
        certified key (ECDSA P-256 / SHA-256, written out below)
    python3 docs/verify-emvqr.py -                        # the payload on stdin

Exit status 0 when every check passed, 1 otherwise. What it checks, from the EMV
QR Code Specification for Payment Systems, Merchant-Presented Mode, and from the
layout in packages/protocol/src/emvqr/till.ts:
  - at most 512 characters, no control characters; lengths count characters;
  - the last data object is 63 with 4 upper-case hex digits, CRC-16/CCITT-FALSE over
    the UTF-8 bytes of everything before those digits;
  - two-digit IDs and lengths, no truncation, no empty value, no duplicate ID;
    templates 26-51, 62, 64, 80-99 (and 62's 50-99) parsed as data objects;
  - mpay: merchant account template with GUID org.mpay, the transaction id in 62.05,
    key id and expiry in template 90, the signature in template 91 just before 63;
    signed bytes = b"mpay till QR v1\\n" + the payload up to (not including) "91".
"""
import base64
import hashlib
import json
import sys
import urllib.request
from datetime import datetime, timezone

SIGNING_CONTEXT = "mpay till QR v1\n"
TEMPLATES_TOP = set(range(26, 52)) | {62, 64} | set(range(80, 100))
CURRENCIES = {  # ISO 4217 numeric -> (alpha, exponent): the currencies mpay supports
    "978": ("EUR", 2), "826": ("GBP", 2), "756": ("CHF", 2), "807": ("MKD", 2), "008": ("ALL", 2),
    "977": ("BAM", 2), "941": ("RSD", 2), "203": ("CZK", 2), "208": ("DKK", 2), "348": ("HUF", 2),
    "578": ("NOK", 2), "985": ("PLN", 2), "946": ("RON", 2), "752": ("SEK", 2), "352": ("ISK", 0),
    "840": ("USD", 2), "124": ("CAD", 2), "986": ("BRL", 2), "484": ("MXN", 2), "036": ("AUD", 2),
    "356": ("INR", 2), "156": ("CNY", 2), "392": ("JPY", 0), "410": ("KRW", 0), "048": ("BHD", 3),
    "400": ("JOD", 3), "414": ("KWD", 3), "512": ("OMR", 3), "404": ("KES", 2), "834": ("TZS", 2),
    "800": ("UGX", 0), "646": ("RWF", 0), "566": ("NGN", 2), "936": ("GHS", 2), "710": ("ZAR", 2),
    "818": ("EGP", 2), "788": ("TND", 3), "952": ("XOF", 0), "950": ("XAF", 0),
}


class Refused(Exception):
    pass


def crc16_ccitt_false(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def parse_objects(text: str, parents: tuple = ()) -> list:
    """[(tag, value, children or None)]; Python strings index by code point, as EMV lengths count."""
    objects, seen, position = [], set(), 0
    while position < len(text):
        if len(text) - position < 4:
            raise Refused(f"truncated data object at {'.'.join(parents) or 'top'}")
        tag, length = text[position:position + 2], text[position + 2:position + 4]
        if not (tag.isascii() and tag.isdigit() and length.isascii() and length.isdigit()):
            raise Refused(f"ID or length not two digits at {'.'.join(parents + (tag,))}")
        size = int(length)
        value = text[position + 4:position + 4 + size]
        if size == 0 or len(value) != size:
            raise Refused(f"empty or truncated value of {'.'.join(parents + (tag,))}")
        if tag in seen:
            raise Refused(f"duplicate ID {'.'.join(parents + (tag,))}")
        seen.add(tag)
        template = (not parents and int(tag) in TEMPLATES_TOP) or (parents == ("62",) and int(tag) >= 50)
        objects.append((tag, value, parse_objects(value, parents + (tag,)) if template else None))
        position += 4 + size
    return objects


def parse_payload(payload: str) -> list:
    if len(payload) > 512:
        raise Refused("longer than 512 characters")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in payload):
        raise Refused("control character")
    tail = payload[-8:]
    if len(payload) < 8 or not tail.startswith("6304") or any(c not in "0123456789ABCDEF" for c in tail[4:]):
        raise Refused("no CRC data object (6304 + 4 upper-case hex digits) at the end")
    computed = "%04X" % crc16_ccitt_false(payload[:-4].encode("utf-8"))
    if computed != tail[4:]:
        raise Refused(f"CRC mismatch: payload says {tail[4:]}, computed {computed}")
    objects = parse_objects(payload)
    if objects[-1][0] != "63" or objects[0][:2] != ("00", "01"):
        raise Refused("must start with 000201 and end with the CRC data object")
    return objects


def child(objects, tag):
    for entry in objects or []:
        if entry[0] == tag:
            return entry
    return None


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- ECDSA P-256 / SHA-256 verification (FIPS 186-4), affine arithmetic ---------------------------
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)


def point_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and (p1[1] + p2[1]) % P == 0:
        return None
    if p1 == p2:
        slope = (3 * p1[0] * p1[0] + A) * pow(2 * p1[1], -1, P) % P
    else:
        slope = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, P) % P
    x = (slope * slope - p1[0] - p2[0]) % P
    return (x, (slope * (p1[0] - x) - p1[1]) % P)


def point_multiply(k, point):
    result = None
    while k:
        if k & 1:
            result = point_add(result, point)
        point = point_add(point, point)
        k >>= 1
    return result


def es256_verify(jwk: dict, message: bytes, signature: bytes) -> bool:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or len(signature) != 64:
        return False
    q = (int.from_bytes(b64url(jwk["x"]), "big"), int.from_bytes(b64url(jwk["y"]), "big"))
    if not (0 <= q[0] < P and 0 <= q[1] < P) or (q[1] ** 2 - q[0] ** 3 - A * q[0] - B) % P != 0:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s < N):
        return False
    e = int.from_bytes(hashlib.sha256(message).digest(), "big")
    w = pow(s, -1, N)
    point = point_add(point_multiply(e * w % N, G), point_multiply(r * w % N, q))
    return point is not None and point[0] % N == r


def thumbprint(jwk: dict) -> str:
    """RFC 7638 for an EC key."""
    members = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


def verify_jws(compact: str, keys: list) -> dict:
    header_b64, payload_b64, signature_b64 = compact.split(".")
    header = json.loads(b64url(header_b64))
    key = next((k for k in keys if k.get("kid") == header.get("kid") and k.get("use") == "sig"), None)
    if header.get("alg") != "ES256" or key is None:
        raise Refused("certificate: not ES256 or not signed by a key of the FSP")
    if not es256_verify(key, f"{header_b64}.{payload_b64}".encode(), b64url(signature_b64)):
        raise Refused("certificate: the FSP's signature does not verify")
    return json.loads(b64url(payload_b64))


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read(1_000_000))


def describe(objects, indent="  "):
    for tag, value, children in objects:
        if children is None:
            print(f"{indent}{tag} ({len(value):2}) {value}")
        else:
            print(f"{indent}{tag} ({len(value):2}) template")
            describe(children, indent + "    ")


def main(argv: list) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    payload = sys.stdin.read().strip() if argv[0] == "-" else argv[0]
    gateway = argv[argv.index("--gateway") + 1].rstrip("/") if "--gateway" in argv else None
    assert "%04X" % crc16_ccitt_false(b"123456789") == "29B1", "CRC-16/CCITT-FALSE check value"
    try:
        objects = parse_payload(payload)
        print(f"OK EMV structure and CRC ({len(payload)} characters, CRC {payload[-4:]})")
        describe(objects)
        fields = {tag: value for tag, value, _ in objects}
        alpha, exponent = CURRENCIES.get(fields.get("53", ""), (None, None))
        print(f"merchant name (59): {fields.get('59')}, city (60): {fields.get('60')}, country (58): {fields.get('58')}, MCC (52): {fields.get('52')}")
        if alpha is not None and "54" in fields:
            whole, _, fraction = fields["54"].partition(".")
            minor = int(whole + fraction.ljust(exponent, "0")) if len(fraction) <= exponent else None
            print(f"amount (54, 53): {alpha} {fields['54']} = {minor} minor units")
        account = next((o for o in objects if 26 <= int(o[0]) <= 51 and o[2] and child(o[2], "00") and child(o[2], "00")[1] == "org.mpay"), None)
        if account is None:
            print("not an mpay till code (no merchant account with GUID org.mpay): EMV checks only")
            return 0
        merchant = child(account[2], "01")[1]
        label = child(child(objects, "62")[2], "05")[1]
        transaction_id = b64url(label).hex()
        transaction_id = "-".join([transaction_id[:8], transaction_id[8:12], transaction_id[12:16], transaction_id[16:20], transaction_id[20:]])
        parameters, signed = objects[-3], objects[-2]
        if parameters[0] != "90" or signed[0] != "91":
            raise Refused("the signature templates 90 and 91 are not the last data objects before 63")
        kid, expiry = child(parameters[2], "01")[1], child(parameters[2], "02")[1]
        signature = b64url(child(signed[2], "01")[1])
        expires_at = datetime.strptime(expiry, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
        print(f"mpay: payee {merchant}, transaction id {transaction_id} (62.05 {label}), key id {kid}, expires {expires_at.isoformat()}")
        signed_text = payload[: len(payload) - 8 - 4 - len(signed[1])]
        message = (SIGNING_CONTEXT + signed_text).encode("utf-8")
        print(f"signed bytes: {len(message)} (context + payload up to '91'), SHA-256 {hashlib.sha256(message).hexdigest()}")
        if gateway is None:
            print("signature not checked (pass --gateway URL to fetch the merchant's certified key)")
            return 0
        fsp = get_json(f"{gateway}/fsp")
        party = get_json(f"{gateway}/parties/{urllib.request.quote(merchant)}")
        certificate = verify_jws(party["certificate"], fsp["keys"]["keys"])
        now = datetime.now(timezone.utc).timestamp()
        if certificate["iss"] != fsp["id"] or certificate["sub"] != merchant or not certificate["nbf"] <= now < certificate["exp"]:
            raise Refused("certificate: not the FSP's certificate of this merchant, or outside its validity")
        jwk = certificate["signingJwk"]
        if thumbprint(jwk) != kid:
            raise Refused("the QR's key id is not the certified key's thumbprint")
        if not es256_verify(jwk, message, signature):
            raise Refused("the merchant's signature does not verify")
        print(f"OK merchant signature (ES256) under the key {fsp['id']} certified for {merchant} ({party.get('displayName')})")
        if expires_at.timestamp() <= now:
            print("note: the code has expired")
        return 0
    except (Refused, ValueError, KeyError, TypeError, IndexError) as problem:
        print(f"REFUSED: {problem}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
