"""Distinct RS256 JWTs for the cold-path scenario, signed in parallel.

RS256 with a 2048-bit key is what most authorization servers issue; verification is the
sidecar's cost, signing (about 1 ms per token here) is ours, so it happens before the run.
"""

from __future__ import annotations

import base64
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ISSUER = "https://bench.oauthbearer.invalid"
AUDIENCE = "urn:kafka:bench"
KID = "bench-key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def make_key(directory: Path) -> tuple[Path, Path]:
    """A fresh key pair: (PEM private key file, JWKS file with the public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = directory / "bench-key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    numbers = key.public_key().public_numbers()
    jwks = directory / "jwks.json"
    jwk = {
        "kty": "RSA",
        "kid": KID,
        "use": "sig",
        "alg": "RS256",
        "n": _int_b64(numbers.n),
        "e": _int_b64(numbers.e),
    }
    jwks.write_text(json.dumps({"keys": [jwk]}))
    return pem, jwks


def _sign_range(args: tuple[bytes, int, int, str]) -> list[str]:
    pem, start, count, label = args
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": KID}).encode())
    now = int(time.time())
    tokens = []
    for i in range(start, start + count):
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"bench-client-{i % 50}",
            "client_id": f"bench-client-{i % 50}",
            "scope": "kafka",
            "iat": now,
            "exp": now + 3600,
            "jti": f"bench-{label}-{i}",
        }
        signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        tokens.append(f"{signing_input}.{_b64(signature)}")
    return tokens


def _unpin() -> None:
    os.sched_setaffinity(0, range(os.cpu_count() or 1))


def sign_tokens(pem_file: Path, count: int, out: Path, workers: int = 2) -> Path:
    """Write ``count`` distinct signed tokens to ``out``, one per line.

    Distinct from every other file's too: the jti carries the file's name. (RS256
    signatures are deterministic, so two files signed in the same second with the same
    claims held the same tokens: the warm-up's 2,000 were the cold run's first 2,000.)
    """
    pem = pem_file.read_bytes()
    share = -(-count // workers)
    jobs = [(pem, w * share, min(share, count - w * share), out.stem) for w in range(workers)]
    # The harness runs pinned to the load core; signing may use every core (before the run).
    with ProcessPoolExecutor(workers, initializer=_unpin) as pool:
        chunks = list(pool.map(_sign_range, jobs))
    out.write_text("\n".join(token for chunk in chunks for token in chunk) + "\n")
    return out
