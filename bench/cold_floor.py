"""How fast can Python make a cold JWT decision at all? (``python -m bench.cold_floor``)

The tightest hand-written version of what a cold decision must do, in one function: split,
strict base64url, the RS256 signature through ``cryptography`` directly, orjson, exp and
iss, the answer rendered, a cache entry, a decision line. It leaves out what the sidecar
does on top (configurable principal/scope/groups rules, the revocation check, metrics, the
per-caller limit, the ``sub`` index), so it is a floor, not a design: bench/README.md uses
it to show that the 0.5x target is out of reach of one Python worker. It prints the time
per decision and, measured the same way, the signature check alone.

Not part of ``bench/run``; in-process, one core, 20,000 distinct tokens.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bench import tokens

_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/***")
_PADDING = (b"", b"", b"==", b"=")
_PKCS1, _SHA256 = padding.PKCS1v15(), hashes.SHA256()


def _b64url(segment: str) -> bytes:
    data = segment.encode("ascii")
    return binascii.a2b_base64(
        data.translate(_TO_STANDARD) + _PADDING[len(data) % 4], strict_mode=True
    )


def main(count: int = 20_000) -> None:
    work = Path(tempfile.mkdtemp(prefix="cold-floor-"))
    pem, _ = tokens.make_key(work)
    private = load_pem_private_key(pem.read_bytes(), None)
    assert isinstance(private, rsa.RSAPrivateKey)
    public = private.public_key()
    signed = tokens.sign_tokens(pem, count, work / "tokens.txt").read_text().split()
    cache: dict[bytes, tuple[float, bytes]] = {}
    lines: list[str] = []

    def decide(token: str) -> None:
        key = hashlib.sha256(token.encode()).digest()
        header, payload, signature = token.split(".")
        public.verify(_b64url(signature), f"{header}.{payload}".encode("ascii"), _PKCS1, _SHA256)
        claims: dict[str, Any] = orjson.loads(_b64url(payload))
        now = time.time()
        if claims["iss"] != tokens.ISSUER or now >= claims["exp"] + 30:
            raise ValueError("refused")
        body = orjson.dumps({"active": True, **claims})
        cache[key] = (time.monotonic() + 60, body)
        sub = json.dumps(claims["sub"])
        lines.append(f'{{"time": {now:.3f}, "token": "sha256:{key[:6].hex()}", "sub": {sub}}}')

    started = time.perf_counter()
    for token in signed:
        decide(token)
    whole = (time.perf_counter() - started) / count
    started = time.perf_counter()
    for token in signed:
        header, payload, signature = token.split(".")
        public.verify(_b64url(signature), f"{header}.{payload}".encode("ascii"), _PKCS1, _SHA256)
    signature_only = (time.perf_counter() - started) / count
    rest = whole - signature_only
    print(
        f"{whole * 1e6:.1f} us per decision, of which {signature_only * 1e6:.1f} us the "
        f"signature check (split, base64url, RSA): {rest * 1e6:.1f} us for the rest"
    )


if __name__ == "__main__":
    main()
