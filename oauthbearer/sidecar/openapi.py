"""The OpenAPI 3 description of the sidecar's HTTP API, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from oauthbearer import __version__

__all__ = ["INTROSPECT_MS_PATH", "INTROSPECT_PATH", "openapi_document"]

INTROSPECT_PATH = "/oauth2/introspect"
INTROSPECT_MS_PATH = "/oauth2/introspect/jairsjunior-ms"

_JSON = "application/json"


def openapi_document(*, events: bool = False) -> dict[str, Any]:
    """The OpenAPI 3 description of the sidecar's HTTP API.

    ``events`` adds the revocation routes, which exist only when
    ``OAUTHBEARER_EVENT_CALLERS`` is set.

    Example:
        >>> sorted(set(openapi_document(events=True)["paths"]) - set(openapi_document()["paths"]))
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
            "security": [{"basic": []}, {"bearer": []}, {}],
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

    revocation = {
        "type": "object",
        "description": 'Exactly one of sub, jti, token; "exp" bounds a jti/token denial. '
        'Or exactly {"all": true}: every token issued until now, whoever holds it',
        "properties": {
            "sub": {"type": "string", "minLength": 1},
            "jti": {"type": "string", "minLength": 1},
            "token": {"type": "string", "minLength": 1},
            "exp": {"type": "number"},
            "all": {"type": "boolean", "enum": [True]},
        },
        "minProperties": 1,
        "maxProperties": 2,
        "additionalProperties": False,
    }
    outcomes = {
        "type": "object",
        "required": ["outcomes"],
        "properties": {
            "outcomes": {
                "type": "array",
                "items": {"enum": ["applied", "duplicate", "ignored"]},
            }
        },
    }

    def event_operation(summary: str, *, emitter: bool = False) -> dict[str, Any]:
        is_api = summary.startswith("Revoke")
        body_schema: dict[str, Any] = (
            {"$ref": "#/components/schemas/Revocation"}
            if is_api
            else {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}
        )
        return {
            "summary": summary,
            "security": [{"eventBasic": []}, *([{"emitterBasic": []}] if emitter else [])],
            "requestBody": {"required": True, "content": {_JSON: {"schema": body_schema}}},
            "responses": {
                "200": {
                    "description": "Applied (idempotent on the event id); with "
                    "OAUTHBEARER_REVOCATIONS_TOPIC, only once Kafka acknowledged it",
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/EventOutcomes"}}},
                },
                "400": {
                    "description": "Not JSON, or not an event of this family; nothing changed",
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
                "401": {"description": "Caller not authenticated (WWW-Authenticate: Basic)"},
                "413": {"description": "Request body too large"},
                "503": {
                    "description": "Kafka did not acknowledge the revocation record in time "
                    "(OAUTHBEARER_REVOCATIONS_PUBLISH_TIMEOUT): send it again",
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }

    event_paths = {
        "/events/keycloak": {
            "post": event_operation(
                "Keycloak event-emitter events (user and admin; format=JSON, or "
                'format=FLATBUFFER {"type": "Event"|"AdminEvent", "obj": base64}), one or '
                "an array",
                emitter=True,
            )
        },
        "/events/fusionauth": {
            "post": event_operation("FusionAuth webhook events, one or an array")
        },
        "/revocations": {
            "post": event_operation("Revoke a principal, a jti, a token or every token")
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
            **(event_paths if events else {}),
        },
        "components": {
            "schemas": {
                "IntrospectionResponse": introspection_response,
                "Error": error,
                "Revocation": revocation,
                "EventOutcomes": outcomes,
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
            },
        },
    }
