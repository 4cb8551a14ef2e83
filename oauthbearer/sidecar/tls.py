"""HTTPS on the sidecar's listener: certificates from files, reloaded when they change.

With ``OAUTHBEARER_TLS_CERT_FILE`` and ``OAUTHBEARER_TLS_KEY_FILE`` (PEM) the sidecar
serves HTTPS only, TLS 1.2 or later. cert-manager renews a Secret's files in place; the
sidecar notices (size or modification time changed, checked every ``interval`` seconds on
the event loop, where the handshakes run) and loads them into the *same* SSLContext: new
connections get the new certificate, established ones keep theirs and are never dropped.
A renewal caught half-written keeps the old certificate and is retried at the next check.

``OAUTHBEARER_TLS_CLIENT_CA_FILE`` requires every caller to present a certificate that CA
issued (mTLS). A caller without an Authorization header is then identified by its
certificate's subject (``cert:CN=…``); with one, its Basic or Bearer credentials must be
valid as well.

Bad files fail at start-up, naming the variable.

Example:
    >>> try:
    ...     server_context("/nonexistent/cert.pem", "/nonexistent/key.pem", None)
    ... except ConfigurationError as exc:
    ...     print(exc.variable)
    OAUTHBEARER_TLS_CERT_FILE
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from typing import Any

from oauthbearer.errors import ConfigurationError

__all__ = ["CertificateReloader", "client_identity", "server_context"]

logger = logging.getLogger("oauthbearer.sidecar.tls")

CERT, KEY, CLIENT_CA = (
    "OAUTHBEARER_TLS_CERT_FILE",
    "OAUTHBEARER_TLS_KEY_FILE",
    "OAUTHBEARER_TLS_CLIENT_CA_FILE",
)


def server_context(cert_file: str, key_file: str, client_ca_file: str | None) -> ssl.SSLContext:
    """A server SSLContext from PEM files; :class:`ConfigurationError` names a bad one."""
    for variable, path in ((CERT, cert_file), (KEY, key_file), (CLIENT_CA, client_ca_file)):
        if path is not None and not os.access(path, os.R_OK):
            reason = "No such file or directory" if not os.path.exists(path) else "unreadable"
            raise ConfigurationError(variable, f"cannot read {path!r} ({reason})")
        if path is not None and os.path.isdir(path):  # an IsADirectoryError traceback
            raise ConfigurationError(variable, f"{path!r} is a directory, not a PEM file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, cert_file, key_file)
    if client_ca_file is not None:
        try:
            context.load_verify_locations(cafile=client_ca_file)
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigurationError(
                CLIENT_CA, f"{client_ca_file!r} holds no usable PEM certificate ({exc})"
            ) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _load_chain(context: ssl.SSLContext, cert_file: str, key_file: str) -> None:
    try:
        # A password callback, so that an encrypted key fails here: without one, OpenSSL
        # asked for the pass phrase on the terminal (or failed with EINVAL without one).
        context.load_cert_chain(cert_file, key_file, password=_no_pass_phrase)
    except (ssl.SSLError, _EncryptedKey) as exc:
        reason = (
            "the key is encrypted"
            if isinstance(exc, _EncryptedKey)
            else exc.reason or "no PEM certificate and key OpenSSL can read"
        )
        # OpenSSL says which part failed: a key that does not match, or no PEM at all.
        cert_ok = isinstance(exc, _EncryptedKey) or _holds_certificate(cert_file)
        variable = KEY if cert_ok or "KEY" in str(exc).upper() else CERT
        raise ConfigurationError(
            variable,
            f"{cert_file!r} and {key_file!r} are not a usable certificate and key ({reason})",
        ) from None


class _EncryptedKey(Exception):
    """The key file asks for a pass phrase: the sidecar has none to give."""


def _no_pass_phrase() -> bytes:
    raise _EncryptedKey


def _holds_certificate(cert_file: str) -> bool:
    """Whether ``cert_file`` holds a PEM certificate (then a failure is the key's)."""
    try:
        with open(cert_file, encoding="ascii") as pem:
            ssl.PEM_cert_to_DER_cert(pem.read())
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return False
    return True


def client_identity(peercert: dict[str, Any] | None) -> str | None:
    """The subject of a verified client certificate as an RFC 4514 string, or None.

    RFC 4514 writes the most specific name first, the reverse of the certificate's order.

    Example:
        >>> client_identity({"subject": ((("organizationName", "kafka"),),
        ...                              (("commonName", "strimzi-broker"),))})
        'CN=strimzi-broker,O=kafka'
    """
    if not peercert:
        return None
    short = {
        "commonName": "CN",
        "organizationName": "O",
        "organizationalUnitName": "OU",
        "countryName": "C",
        "localityName": "L",
        "stateOrProvinceName": "ST",
    }
    # Each value escaped, and the values of one multi-valued RDN joined by "+": unescaped,
    # a certificate whose only field was CN="strimzi-broker,OU=brokers,O=kafka" from the
    # same CA was the broker's caller (its limit, its name in the log).
    rdns = [
        "+".join(f"{short.get(name, name)}={_rfc4514_value(str(value))}" for name, value in rdn)
        for rdn in reversed(peercert.get("subject", ()))
    ]
    return ",".join(rdns) or None


def _rfc4514_value(value: str) -> str:
    """An attribute value escaped as RFC 4514 §2.4 requires (and ``=``, which it allows).

    Example:
        >>> print(_rfc4514_value('a,b+c="d"'), _rfc4514_value(" #x"), sep="|")
        a\\,b\\+c\\=\\"d\\"|\\ #x
    """
    escaped = "".join(
        "\\00" if c == "\x00" else "\\" + c if c in _RFC4514_SPECIAL else c for c in value
    )
    if escaped.startswith((" ", "#")):
        escaped = "\\" + escaped
    if escaped.endswith(" ") and not escaped.endswith("\\ "):
        escaped = escaped[:-1] + "\\ "
    return escaped


_RFC4514_SPECIAL = frozenset('"+,;<>\\=')


class CertificateReloader:
    """Reloads the certificate and key into ``context`` when their files change."""

    def __init__(
        self,
        context: ssl.SSLContext,
        cert_file: str,
        key_file: str,
        *,
        interval: float = 5.0,
    ) -> None:
        self.context = context
        self._files = (cert_file, key_file)
        self._interval = interval
        self._seen = self._stamp()
        self.reloads = 0

    def _stamp(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for path in self._files:
            try:
                stat = os.stat(path)
            except OSError:
                stamps.append((-1, -1))
            else:
                stamps.append((stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    def check(self) -> bool:
        """Reload if the files changed since the last successful load; True if reloaded."""
        stamp = self._stamp()
        if stamp == self._seen:
            return False
        try:
            _load_chain(self.context, *self._files)
        except (ConfigurationError, OSError) as exc:
            # Half-written by the renewal, or a mismatched pair for a moment: keep serving
            # the old certificate and look again at the next check.
            logger.warning("TLS certificate not reloaded yet: %s", exc)
            return False
        self._seen = stamp
        self.reloads += 1
        logger.info("TLS certificate reloaded from %s", self._files[0])
        return True

    async def run(self) -> None:
        """Check every ``interval`` seconds until cancelled (on the loop that handshakes)."""
        while True:
            await asyncio.sleep(self._interval)
            self.check()
