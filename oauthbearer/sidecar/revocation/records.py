"""Our revocation record: what one replica tells every other through the revocations topic.

One small JSON object per revocation, never a token::

    {"v": 1, "kind": "principal", "value": "u-1", "at": 1767225600.5,
     "source": "keycloak", "id": "keycloak:7321"}

========  ==================================================================
``kind``  ``principal`` (every token of ``value`` issued at or before ``at``),
          ``jti`` (the token with that ``jti``), ``token`` (``value`` is the
          token's SHA-256 fingerprint in hex, the result cache's own key),
          ``session`` (every token whose ``sid`` is ``value``), ``everyone``
          (every token issued at or before ``at``; ``value`` is ``*``) or
          ``application`` (every token of the application ``value`` issued at
          or before ``at``)
``at``    epoch seconds the revocation took effect (a watermark's ``T``)
``exp``   ``jti``/``token`` only, optional: deny until then (the token's ``exp``)
``source````keycloak``, ``fusionauth`` or ``api``: where it was received
``id``    the event id (the identity provider's, prefixed with its family, or a
          fresh ``api:<uuid>``): every replica dedupes on it, the writer too
========  ==================================================================

The Kafka key is ``kind:value``, so the records of one principal stay in one partition,
in order. ``v`` lets a later format be told apart: a reader refuses versions it does not
know (counted as malformed) rather than guess. A kind added later keeps ``v`` 1: a
replica that does not know it refuses that record alike (counted as malformed, skipped,
never fatal) and reads on; ``everyone`` and ``application`` came so, after the others.

Example:
    >>> r = RevocationRecord("principal", "u-1", 1767225600.5, "keycloak", "keycloak:7")
    >>> RevocationRecord.decode(r.encode()) == r, r.key
    (True, b'principal:u-1')
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from oauthbearer._json import NOT_JSON
from oauthbearer.sidecar.revocation.events import MalformedEvent, finite_seconds

__all__ = ["EVERYONE", "KINDS", "SOURCES", "RevocationRecord", "new_event_id"]

KINDS = ("principal", "jti", "token", "session", "everyone", "application")
#: The ``value`` of an ``everyone`` record (a record carries a non-empty value).
EVERYONE = "*"
#: Closed: a record's source becomes a metric label.
SOURCES = ("keycloak", "fusionauth", "api")
_VERSION = 1
_TOKEN_KEY_HEX = 64  # SHA-256


def new_event_id(source: str) -> str:
    """An id for a revocation that came without one (the API, an id-less event)."""
    return f"{source}:{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class RevocationRecord:
    """One revocation, as written to and read from the revocations topic."""

    kind: str
    value: str
    at: float
    source: str
    event_id: str
    exp: float | None = None

    @property
    def key(self) -> bytes:
        """The Kafka record key: one principal's (or token's) records share a partition."""
        return f"{self.kind}:{self.value}".encode()

    def encode(self) -> bytes:
        body: dict[str, Any] = {
            "v": _VERSION,
            "kind": self.kind,
            "value": self.value,
            "at": self.at,
            "source": self.source,
            "id": self.event_id,
        }
        if self.exp is not None:
            body["exp"] = self.exp
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes) -> RevocationRecord:
        """Parse and validate one record value; raises :class:`MalformedEvent`."""
        try:
            data = json.loads(payload)
        except NOT_JSON:
            raise MalformedEvent("a revocation record is not JSON") from None
        if not isinstance(data, dict) or data.get("v") != _VERSION:
            raise MalformedEvent("not a version-1 revocation record")
        kind, value, source, event_id = (data.get(k) for k in ("kind", "value", "source", "id"))
        at, exp = data.get("at"), data.get("exp")
        if kind not in KINDS or source not in SOURCES:
            raise MalformedEvent("unknown kind or source")
        if not (isinstance(value, str) and value and isinstance(event_id, str) and event_id):
            raise MalformedEvent("value and id must be non-empty strings")
        if kind == "token" and not _is_hex_digest(value):
            raise MalformedEvent("a token record carries a SHA-256 fingerprint, never a token")
        # json.loads reads NaN, Infinity and integers of any length: none is a time.
        at_seconds = finite_seconds(at)
        if at_seconds is None:
            raise MalformedEvent("at must be a number")
        until = finite_seconds(exp)
        if exp is not None and until is None:
            raise MalformedEvent("exp must be a number")
        return cls(kind, value, at_seconds, source, event_id, until)


def _is_hex_digest(value: str) -> bool:
    return len(value) == _TOKEN_KEY_HEX and all(c in "0123456789abcdef" for c in value)
