"""Secrets taken out of text the token endpoint sent back, before it reaches an exception.

A server may echo the request in its ``error_description`` ("cannot parse body
client_secret=…"); that text goes into :class:`~oauthbearer.errors.TokenEndpointError`
and from there into every log line about the failure. Each configured secret is removed
in every spelling the request used: as is, form-encoded, and inside the Basic credentials.

Example:
    >>> from oauthbearer._secret import Secret
    >>> from oauthbearer.client.settings import ClientSettings
    >>> s = ClientSettings(token_url="https://idp/t", client_id="app",
    ...                    client_secret=Secret("s3cr3t+value"))
    >>> redact("bad body: client_secret=s3cr3t%2Bvalue", secret_spellings(s))
    'bad body: client_secret=[redacted]'
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import fields
from urllib.parse import quote, quote_plus

from oauthbearer._secret import FileSecret, Secret
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import ConfigurationError

__all__ = ["REDACTED", "redact", "secret_spellings"]

REDACTED = "[redacted]"
#: Shorter values are not looked for: they would blank out ordinary words.
_MIN_LENGTH = 4


def secret_spellings(settings: ClientSettings) -> list[str]:
    """Every configured secret, as is, form-encoded and Basic-encoded; longest first."""
    values: list[str] = []
    for field in fields(settings):
        source = getattr(settings, field.name)
        if isinstance(source, Secret | FileSecret):
            try:
                values.append(source.reveal())
            except ConfigurationError:
                continue  # unreadable now: nothing of it can be in the request either
    spellings: set[str] = set()
    for value in values:
        spellings.update({value, quote_plus(value), quote(value, safe="")})
        scheme, _, credentials = value.partition(" ")
        if credentials and scheme.isalpha():  # an Authorization value: its credentials too
            spellings.add(credentials.strip())
        if settings.client_id:
            for user, password in (
                (settings.client_id, value),
                (quote(settings.client_id, safe=""), quote(value, safe="")),
            ):
                spellings.add(base64.b64encode(f"{user}:{password}".encode()).decode())
    return sorted((s for s in spellings if len(s) >= _MIN_LENGTH), key=len, reverse=True)


def redact(text: str, spellings: Iterable[str]) -> str:
    """``text`` with every one of ``spellings`` replaced by ``[redacted]``."""
    for spelling in spellings:
        if spelling in text:
            text = text.replace(spelling, REDACTED)
    return text
