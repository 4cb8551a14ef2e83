"""Secrets that never show themselves, and secrets read from files that may rotate.

Kubernetes rewrites mounted Secret files in place when the Secret changes, so a value
read once at start-up goes stale. :class:`FileSecret` re-reads its file when the file's
modification time or size changes (a ``stat`` per use, no read), or on demand after the
peer said the credentials are wrong (``invalid_client``).

Example:
    >>> s = Secret("hunter2")
    >>> s
    Secret('**********')
    >>> s.reveal()
    'hunter2'
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path
from typing import Protocol

__all__ = [
    "FileSecret",
    "Secret",
    "SecretSource",
    "display_url",
    "fingerprint",
    "fingerprint_of_digest",
]


def fingerprint(value: str | bytes) -> str:
    """A short, stable, non-reversible label for a token or secret, safe to log.

    Example:
        >>> fingerprint("abc")
        'sha256:ba7816bf8f01'
    """
    data = value.encode() if isinstance(value, str) else value
    return fingerprint_of_digest(hashlib.sha256(data).digest())


def fingerprint_of_digest(digest: bytes) -> str:
    """:func:`fingerprint` of a value whose SHA-256 ``digest`` is already at hand.

    Example:
        >>> fingerprint_of_digest(hashlib.sha256(b"abc").digest()) == fingerprint("abc")
        True
    """
    return "sha256:" + digest[:6].hex()


def display_url(url: str) -> str:
    """``url`` fit for logs and summaries: without ``user:password@``, its query elided.

    A JWKS or introspection URL may carry credentials either way (basic auth in the
    authority, an ``access_token`` in the query); both were printed whole.

    Example:
        >>> display_url("https://admin:pw@idp.example/jwks?access_token=x")
        'https://idp.example/jwks?…'
        >>> display_url("https://idp.example/jwks")
        'https://idp.example/jwks'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]
    path, question, _query = path.partition("?")
    return f"{scheme}://{authority}{slash}{path}{'?…' if question else ''}"


class SecretSource(Protocol):
    """Anything that yields the current value of a secret."""

    def reveal(self) -> str:
        """Return the current secret value."""
        ...

    def reload(self) -> None:
        """Forget any cached value so the next ``reveal`` reads afresh."""
        ...


class Secret:
    """A constant secret whose ``repr`` and ``str`` are masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def reload(self) -> None:
        """Constant secrets have nothing to reload."""

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _unreadable(source: FileSecret, problem: str) -> Exception:
    from oauthbearer.errors import ConfigurationError  # errors imports this module

    return ConfigurationError(source.variable or str(source.path), problem)


#: The largest secret file read (a caller table of thousands of brokers fits many times).
MAX_SECRET_FILE_BYTES = 1 << 20


class FileSecret:
    """A secret read from a file, re-read when the file changes.

    Trailing newlines are stripped (``echo secret > file`` is the common way to make one).
    """

    __slots__ = ("_lock", "_path", "_stamp", "_value", "variable")

    def __init__(self, path: str | os.PathLike[str], variable: str = "") -> None:
        self._path = Path(path)
        self.variable = variable
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int, int] | None = None
        self._value = ""

    @property
    def path(self) -> Path:
        return self._path

    def reveal(self) -> str:
        """The file's text without trailing newlines; :class:`ConfigurationError` naming
        the variable if it cannot be read, is not UTF-8 or is empty (a directory given
        for the file, or the instant a rotation has truncated it)."""
        # stat on every use is cheap; reading only when the file's stamp moved keeps it
        # so. The inode is in it: Kubernetes rotates a mounted Secret by pointing a
        # symlink at a new file, and tools that keep mtimes (cp -p, tar) can give that
        # file the old one's size and mtime.
        try:
            st = self._path.stat()
            stamp = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
            with self._lock:
                if stamp != self._stamp:
                    # A regular file of a secret's size: /dev/zero was read until memory
                    # ran out, and a FIFO hung `oauthbearer check`.
                    if not stat.S_ISREG(st.st_mode):
                        raise _unreadable(self, "the secret file is not a regular file")
                    if st.st_size > MAX_SECRET_FILE_BYTES:
                        raise _unreadable(
                            self, f"the secret file is over {MAX_SECRET_FILE_BYTES} bytes"
                        )
                    value = self._path.read_text(encoding="utf-8").rstrip("\r\n")
                    if not value:
                        raise _unreadable(self, "the secret file is empty")
                    self._value, self._stamp = value, stamp
                return self._value
        except OSError as exc:
            raise _unreadable(self, f"cannot read secret file: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise _unreadable(self, "the secret file is not UTF-8 text") from None

    def reload(self) -> None:
        with self._lock:
            self._stamp = None

    def __repr__(self) -> str:
        return f"FileSecret({str(self._path)!r})"

    __str__ = __repr__
