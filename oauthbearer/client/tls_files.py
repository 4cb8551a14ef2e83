"""The token endpoint's TLS files: how to notice that they changed, and how to load them.

``OAUTHBEARER_LOGIN_CERT_FILE``, ``_KEY_FILE`` and ``_CA_FILE`` are usually a mounted
Kubernetes Secret that cert-manager renews. The kubelet publishes a new version by
swapping a symlink (``tls.crt -> ..data/tls.crt``, ``..data -> ..2026_01_01_…``): the
paths stay, what they lead to changes. :meth:`TlsFiles.stamp` is the cheap check, a
``stat`` through the symlinks per file (device, inode, mtime, size), as
:class:`~oauthbearer._secret.FileSecret` does for secrets; the inode catches the swap
even when the new file has the old one's size and modification time.

:meth:`TlsFiles.load` reads the files and builds a verifying SSLContext, naming the
variable of a file that is unreadable, empty or does not fit (a key that is not the
certificate's). Verification is never switched off: the CA bundle adds trust, it does not
replace the checks.

Example:
    >>> from oauthbearer.client.settings import ClientSettings
    >>> files = TlsFiles.of(ClientSettings(token_url="https://idp.example/t"))
    >>> files.configured, files.load().context is None
    (False, True)
"""

from __future__ import annotations

import hashlib
import os
import ssl
from dataclasses import dataclass

from oauthbearer.client.settings import ClientSettings
from oauthbearer.client.variables import V_CA_FILE, V_CERT_FILE, V_KEY_FILE
from oauthbearer.errors import ConfigurationError

__all__ = ["Loaded", "Stamp", "TlsFiles"]

#: Per file, what ``stat`` says (None: it cannot be stat'ed, e.g. a dangling link).
Stamp = tuple[tuple[int, int, int, int] | None, ...]

_PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
_PEM_KEY = b"PRIVATE KEY-----"  # PKCS#8, and the traditional "RSA/EC PRIVATE KEY"


@dataclass(frozen=True, slots=True)
class Loaded:
    """An SSLContext built from the files (None: httpx's default verification) and a
    digest of the bytes read, to tell a real change from a touched file."""

    context: ssl.SSLContext | None
    digest: bytes


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The client certificate, its key (None: in the certificate file) and the CA bundle."""

    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None

    @classmethod
    def of(cls, settings: ClientSettings) -> TlsFiles:
        return cls(settings.cert_file, settings.key_file, settings.ca_file)

    @property
    def configured(self) -> bool:
        """Whether there is any file to load (else httpx's own verification applies)."""
        return self.cert_file is not None or self.ca_file is not None

    def _named(self) -> tuple[tuple[str, str], ...]:
        pairs = (
            (V_CERT_FILE, self.cert_file),
            (V_KEY_FILE, self.key_file),
            (V_CA_FILE, self.ca_file),
        )
        return tuple((variable, path) for variable, path in pairs if path is not None)

    def stamp(self) -> Stamp:
        """What ``stat`` says of each file, following symlinks; never raises."""
        stamps: list[tuple[int, int, int, int] | None] = []
        for _, path in self._named():
            try:
                st = os.stat(path)
            except OSError:
                stamps.append(None)
            else:
                stamps.append((st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size))
        return tuple(stamps)

    def load(self) -> Loaded:
        """Read the files and build the context; ConfigurationError names a bad file.

        OpenSSL reads the files again by path, so a renewal landing between the two
        reads gives a digest of the older bytes: the next change check then differs and
        loads again, so the two converge.
        """
        if not self.configured:
            return Loaded(None, b"")
        digest = hashlib.sha256()
        contents: dict[str, bytes] = {}
        for variable, path in self._named():
            data = _read(variable, path)
            contents[variable] = data
            digest.update(f"{variable}:{len(data)}:".encode())
            digest.update(data)
        context = self._context(contents)
        return Loaded(context, digest.digest())

    def _context(self, contents: dict[str, bytes]) -> ssl.SSLContext:
        try:
            # Verifying, with hostname checks: the CA bundle only adds trust.
            context = ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(V_CA_FILE, f"cannot load CA bundle: {exc}") from None
        if self.cert_file is not None:
            try:
                context.load_cert_chain(self.cert_file, self.key_file, password=_no_password)
            except (OSError, ssl.SSLError) as exc:
                raise self._chain_problem(exc, contents) from None
        return context

    def _chain_problem(self, exc: OSError, contents: dict[str, bytes]) -> ConfigurationError:
        """Which file is at fault: OpenSSL's reason alone does not say."""
        key_variable = V_CERT_FILE if self.key_file is None else V_KEY_FILE
        if getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH":
            return ConfigurationError(
                key_variable,
                f"cannot load client certificate and key: the private key is not the one "
                f"of the certificate in {V_CERT_FILE}",
            )
        if _PEM_CERTIFICATE not in contents[V_CERT_FILE]:
            return ConfigurationError(
                V_CERT_FILE, "cannot load client certificate and key: no PEM certificate"
            )
        key = contents[key_variable]
        if _PEM_KEY not in key:
            return ConfigurationError(
                key_variable,
                f"cannot load client certificate and key: no PEM private key (set "
                f"{V_KEY_FILE} when it is in a file of its own)",
            )
        if b"ENCRYPTED" in key:
            return ConfigurationError(
                key_variable,
                "cannot load client certificate and key: the private key is encrypted; "
                "an unencrypted one is required",
            )
        # OpenSSL's text names a PEM or ASN.1 failure, never the file's contents.
        return ConfigurationError(V_CERT_FILE, f"cannot load client certificate and key: {exc}")


def _no_password() -> str:
    # An encrypted key must fail to load, not make OpenSSL prompt on a terminal nobody
    # watches (a Kafka client would hang in its token callback).
    return ""


def _read(variable: str, path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigurationError(variable, f"cannot read {path}: {exc.strerror}") from None
    if not data.strip():
        raise ConfigurationError(variable, f"{path} is empty")
    return data
