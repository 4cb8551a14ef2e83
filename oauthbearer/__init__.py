"""SASL/OAUTHBEARER for Kafka, end to end.

The client half in four names::

    from oauthbearer import oauth_cb                      # confluent-kafka, env-configured
    from oauthbearer import TokenProvider, ClientSettings, make_oauth_cb   # explicit

Importing this package reads no environment and does no I/O: ``oauth_cb`` reads the
environment on its first call. The client classes are loaded on first attribute access,
so the sidecar process never loads the client half.

Example:
    >>> import oauthbearer
    >>> oauthbearer.TokenProvider.__name__, "oauth_cb" in oauthbearer.__all__
    ('TokenProvider', True)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from oauthbearer._secret import FileSecret, Secret
from oauthbearer.errors import (
    ConfigurationError,
    IntrospectionError,
    OAuthBearerError,
    TokenEndpointError,
    TokenError,
    TokenRequestError,
    TokenResponseError,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    from oauthbearer.client.confluent import make_oauth_cb, oauth_cb
    from oauthbearer.client.provider import TokenProvider
    from oauthbearer.client.settings import ClientSettings
    from oauthbearer.client.token import Token

__version__ = "0.1.0"

__all__ = [
    "ClientSettings",
    "ConfigurationError",
    "FileSecret",
    "IntrospectionError",
    "OAuthBearerError",
    "Secret",
    "Token",
    "TokenEndpointError",
    "TokenError",
    "TokenProvider",
    "TokenRequestError",
    "TokenResponseError",
    "UpstreamUnavailable",
    "make_oauth_cb",
    "oauth_cb",
]

_LAZY = {
    "ClientSettings": "oauthbearer.client.settings",
    "Token": "oauthbearer.client.token",
    "TokenProvider": "oauthbearer.client.provider",
    "make_oauth_cb": "oauthbearer.client.confluent",
    "oauth_cb": "oauthbearer.client.confluent",
}


def __getattr__(name: str) -> Any:
    # PEP 562: import the client half only when one of its names is first used.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'oauthbearer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
