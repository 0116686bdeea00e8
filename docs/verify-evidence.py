# Checks every compact JWS written by `mpay demo --out DIR` with pyca/cryptography, an
# implementation independent of ours: python3 docs/verify-evidence.py DIR
import json, base64, sys, glob
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives import hashes
def b64(s): return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))
d = sys.argv[1]
keys = {k['kid']: k for k in json.load(open(d + '/jwks.json'))['keys']}
for f in sorted(glob.glob(d + '/*.jws')):
    jws = open(f).read().strip()
    h, p, s = jws.split('.')
    header = json.loads(b64(h))
    k = keys[header['kid']]
    pub = ec.EllipticCurvePublicNumbers(int.from_bytes(b64(k['x']), 'big'), int.from_bytes(b64(k['y']), 'big'), ec.SECP256R1()).public_key()
    sig = b64(s); r = int.from_bytes(sig[:32], 'big'); ss = int.from_bytes(sig[32:], 'big')
    pub.verify(utils.encode_dss_signature(r, ss), (h + '.' + p).encode(), ec.ECDSA(hashes.SHA256()))
    print('OK', f.split('/')[-1], header['alg'], json.loads(b64(p))['iss'])
