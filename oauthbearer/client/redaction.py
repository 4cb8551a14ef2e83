"""Secrets taken out of text the token endpoint sent back, before it reaches an exception.

A server may echo the request in its ``error_description`` ("cannot parse body
client_secret=…"); that text goes into :class:`~oauthbearer.errors.TokenEndpointError`
and from there into every log line about the failure. Each configured secret is removed
in every spelling the request used: as is, form-encoded, and inside the Basic credentials.
Credentials that exist only in memory — a refresh token the server rotated, a client
assertion minted for this one request — are taken from the request as it was sent
(:func:`sent_secrets`).

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
from collections.abc import Iterable, Mapping
from dataclasses import fields
from urllib.parse import quote, quote_plus

from oauthbearer._secret import FileSecret, Secret
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import ConfigurationError

__all__ = ["CREDENTIAL_PARAMS", "REDACTED", "redact", "secret_spellings", "sent_secrets"]

REDACTED = "[redacted]"
#: Shorter values are not looked for: they would blank out ordinary words.
_MIN_LENGTH = 4


#: Token request parameters that carry a credential (RFC 6749 §2.3.1, §4.3, §6; RFC 7523;
#: RFC 8693 §2.1).
CREDENTIAL_PARAMS = frozenset(
    {
        "client_secret",
        "client_assertion",
        "refresh_token",
        "password",
        "assertion",
        "subject_token",
        "actor_token",
    }
)


def sent_secrets(form: Iterable[tuple[str, str]], headers: Mapping[str, str]) -> list[str]:
    """The credentials a token request carries: its credential parameters and its
    ``Authorization`` value.

    Example:
        >>> sent_secrets([("grant_type", "refresh_token"), ("refresh_token", "rt-2")],
        ...              {"Authorization": "Basic YTpi"})
        ['rt-2', 'Basic YTpi']
    """
    values = [value for name, value in form if name in CREDENTIAL_PARAMS]
    authorization = headers.get("Authorization")
    if authorization:
        values.append(authorization)
    return values


def secret_spellings(settings: ClientSettings, sent: Iterable[str] = ()) -> list[str]:
    """Every configured secret and every ``sent`` one (see :func:`sent_secrets`), as is,
    form-encoded and Basic-encoded; longest first."""
    values: list[str] = list(sent)
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
