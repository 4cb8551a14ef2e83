"""The revocation routes' part of the OpenAPI document (:mod:`oauthbearer.sidecar.openapi`).

Example:
    >>> sorted(EVENT_OPERATIONS)
    ['/events/fusionauth', '/events/keycloak', '/revocations']
"""

from __future__ import annotations

from typing import Any

__all__ = ["EVENT_OPERATIONS", "EVENT_OUTCOMES", "EVENT_PATHS", "REVOCATION"]

_JSON = "application/json"

#: Every revocation route, in the order the document lists them.
EVENT_PATHS = ("/events/keycloak", "/events/fusionauth", "/revocations")


def _revocation_kind(name: str, value: dict[str, Any], *, exp: bool) -> dict[str, Any]:
    properties = {name: value, **({"exp": {"type": "number"}} if exp else {})}
    return {
        "type": "object",
        "required": [name],
        "properties": properties,
        "additionalProperties": False,
    }


_TEXT = {"type": "string", "minLength": 1}
#: ``POST /revocations``'s body (components/schemas/Revocation).
REVOCATION = {
    "description": 'Exactly one of sub, jti, token; "exp" bounds a jti/token denial. '
    'Or exactly {"all": true}: every token issued until now, whoever holds it',
    "oneOf": [
        _revocation_kind("sub", _TEXT, exp=False),
        _revocation_kind("jti", _TEXT, exp=True),
        _revocation_kind("token", _TEXT, exp=True),
        _revocation_kind("all", {"const": True}, exp=False),
    ],
}
#: Every event route's 200 body (components/schemas/EventOutcomes).
EVENT_OUTCOMES = {
    "type": "object",
    "required": ["outcomes"],
    "properties": {
        "outcomes": {
            "type": "array",
            "items": {"enum": ["applied", "duplicate", "ignored"]},
        }
    },
}


def _event_operation(summary: str, *, emitter: bool = False) -> dict[str, Any]:
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


_event_paths = {
    "/events/keycloak": {
        "post": _event_operation(
            "Keycloak event-emitter events (user and admin; format=JSON, or "
            'format=FLATBUFFER {"type": "Event"|"AdminEvent", "obj": base64}), one or '
            "an array",
            emitter=True,
        )
    },
    "/events/fusionauth": {"post": _event_operation("FusionAuth webhook events, one or an array")},
    "/revocations": {"post": _event_operation("Revoke a principal, a jti, a token or every token")},
}


#: The POST operation of each event route, by path.
EVENT_OPERATIONS = {path: operations["post"] for path, operations in _event_paths.items()}
