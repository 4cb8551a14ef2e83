"""The OpenAPI 3 description of the sidecar's HTTP API, served at ``/openapi.json``."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from oauthbearer import __version__
from oauthbearer.sidecar.openapi_events import (
    EVENT_OPERATIONS,
    EVENT_OUTCOMES,
    EVENT_PATHS,
    REVOCATION,
)

__all__ = [
    "EVENT_PATHS",
    "INTROSPECT_MS_PATH",
    "INTROSPECT_PATH",
    "introspection_security",
    "openapi_document",
]

INTROSPECT_PATH = "/oauth2/introspect"
INTROSPECT_MS_PATH = "/oauth2/introspect/jairsjunior-ms"

_JSON = "application/json"


def openapi_document(
    *,
    events: Collection[str] = (),
    introspection_security: Sequence[Mapping[str, list[str]]] = ({"basic": []},),
) -> dict[str, Any]:
    """The OpenAPI 3 description of the sidecar's HTTP API, as this configuration serves it.

    ``events``: the revocation routes that exist (:data:`EVENT_PATHS`, see
    :meth:`EventRoutes.routes`). ``introspection_security``: the ways a caller may
    authenticate on the introspection paths (:func:`introspection_security`).

    Example:
        >>> sorted(set(openapi_document(events=EVENT_PATHS)["paths"])
        ...        - set(openapi_document()["paths"]))
        ['/events/fusionauth', '/events/keycloak', '/revocations']
    """
    active_example = {
        "active": True,
        "sub": "orders-service",
        "client_id": "orders-service",
        "scope": "kafka",
        "exp": 1767225600,
        "iat": 1767222000,
        "iss": "https://idp.example",
        "aud": "urn:kafka",
    }
    introspection_response = {
        "type": "object",
        "required": ["active"],
        "properties": {
            "active": {"type": "boolean"},
            "sub": {"type": "string", "minLength": 1},
            "exp": {"type": "integer"},
            "iat": {"type": "integer"},
            "nbf": {"type": "integer"},
            "scope": {"type": "string", "description": "space-separated"},
            "client_id": {"type": "string"},
            "username": {"type": "string"},
            "token_type": {"type": "string"},
            "iss": {"type": "string"},
            "aud": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "jti": {"type": "string"},
        },
        "additionalProperties": True,
    }
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    }

    def operation(summary: str, ms: bool) -> dict[str, Any]:
        return {
            "summary": summary,
            "security": [dict(requirement) for requirement in introspection_security],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["token"],
                            "properties": {
                                "token": {"type": "string"},
                                "token_type_hint": {
                                    "type": "string",
                                    "description": "accepted and ignored",
                                },
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": (
                        "Active token (exp/iat in milliseconds)"
                        if ms
                        else 'Active token, or exactly {"active": false}'
                    ),
                    "content": {
                        _JSON: {
                            "schema": {"$ref": "#/components/schemas/IntrospectionResponse"},
                            "examples": {
                                "active": {"value": active_example},
                                "inactive": {"value": {"active": False}},
                            },
                        }
                    },
                },
                "400": {
                    "description": "Malformed request (invalid_request)",
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
                "401": {
                    "description": "Caller not authenticated",
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
                "413": {"description": "Request body too large"},
                "429": {"description": "This caller has too many requests in progress; retry"},
                "503": {"description": "Upstream introspection or JWKS unavailable; retry"},
            },
        }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "oauthbearer introspection sidecar",
            "version": __version__,
            "description": "RFC 7662 token introspection for Kafka brokers' OAUTHBEARER "
            "validator plugins (Strimzi kafka-oauth, jairsjunior kafka-oauth).",
        },
        "paths": {
            INTROSPECT_PATH: {"post": operation("RFC 7662 token introspection", False)},
            INTROSPECT_MS_PATH: {
                "post": operation(
                    "Introspection with exp/iat in milliseconds (jairsjunior on Kafka ≥ 3.3)",
                    True,
                )
            },
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness",
                    "responses": {
                        "200": {"description": "ready"},
                        "503": {"description": "not ready"},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "text exposition format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3 document"}},
                }
            },
            **{path: {"post": EVENT_OPERATIONS[path]} for path in EVENT_PATHS if path in events},
        },
        "components": {
            "schemas": {
                "IntrospectionResponse": introspection_response,
                "Error": error,
                "Revocation": REVOCATION,
                "EventOutcomes": EVENT_OUTCOMES,
            },
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "emitterBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "any user name (the emitter's host name) with "
                    "OAUTHBEARER_KEYCLOAK_EMITTER_SECRET as the password",
                },
                "eventBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "OAUTHBEARER_EVENT_CALLERS (not the brokers' credentials)",
                },
                "bearer": {"type": "http", "scheme": "bearer"},
                "mutualTLS": {
                    "type": "mutualTLS",
                    "description": "a client certificate from OAUTHBEARER_TLS_CLIENT_CA_FILE",
                },
            },
        },
    }


def introspection_security(
    *, basic: bool, bearer: bool, anonymous: bool, mutual_tls: bool
) -> list[dict[str, list[str]]]:
    """The security requirements of the introspection paths, as configured.

    Example:
        >>> introspection_security(basic=True, bearer=False, anonymous=False, mutual_tls=True)
        [{'basic': []}, {'mutualTLS': []}]
    """
    requirements: list[dict[str, list[str]]] = []
    if basic:
        requirements.append({"basic": []})
    if bearer:
        requirements.append({"bearer": []})
    if mutual_tls:
        requirements.append({"mutualTLS": []})
    if anonymous:
        requirements.append({})  # OpenAPI's "no authentication needed"
    return requirements
