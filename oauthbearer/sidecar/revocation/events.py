"""Identity-provider events, parsed into the one thing we need: who to revoke, and when.

Two event families are understood; anything else is *ignored* (valid, but revokes
nothing) and anything unreadable is *malformed* (counted and skipped, never fatal):

**FusionAuth** webhooks and its Kafka integration send the same JSON,
``{"event": {"type": ..., "id": ..., "createInstant": <epoch ms>, ...}}``:

================================  ============================  ======================
type                              principal from                means
================================  ============================  ======================
``jwt.refresh-token.revoke``      ``event.userId``              sessions revoked
``user.deactivate``               ``event.user.id``             user locked out
``user.delete``                   ``event.user.id``             user gone
``user.password.update``          ``event.user.id``             credentials changed
``user.delete.complete``          ``event.user.id``             user gone (after commit)
================================  ============================  ======================

A ``jwt.refresh-token.revoke`` without ``userId`` but with ``applicationId`` (every
refresh token of that application revoked) revokes the application's tokens issued until
then (:attr:`Event.application`); naming neither, it revokes nothing.

**Keycloak** (the event-emitter module's JSON, i.e. Keycloak's own ``Event`` and
``AdminEvent`` serialised): user events ``{"type": "LOGOUT", "userId": ..., "time": <ms>,
"id"/"uid": ...}`` revoke for ``LOGOUT``, ``REVOKE_GRANT``, ``UPDATE_PASSWORD``,
``UPDATE_CREDENTIAL``, ``REMOVE_CREDENTIAL``, ``RESET_PASSWORD``, ``DELETE_ACCOUNT`` and
``USER_DISABLED_BY_PERMANENT_LOCKOUT`` (never for an event carrying an ``error``);
``USER_SESSION_DELETED`` revokes the tokens of its ``sessionId``. Admin events
(``operationType`` + ``resourcePath``) revoke for a resource under ``users/<id>`` when the
operation is ``DELETE`` (user, consent, credential or role mapping removed), ``ACTION``
on ``logout``, ``reset-password``, ``disable-credential-types`` or ``credentials`` (not
the e-mails an admin sends) or ``UPDATE`` — except an update of ``users/<id>`` whose
representation shows the user still enabled (a profile edit). ``DELETE sessions/<id>``
(an admin's sign-out of one session) revokes that session's tokens.

Realm-wide (:attr:`Event.everyone`: every token issued until ``at``, whoever holds it):
``ACTION logout-all`` (Sessions → "Sign out all active sessions") at the event's time,
and a realm ``UPDATE`` — the one admin event without a ``resourcePath`` — whose
representation carries a ``notBefore`` (Revocation → "Set to now") at that
``notBefore``; a ``notBefore`` of 0 ("Clear"), or a realm update without a
representation, revokes nothing. ``ACTION push-revocation`` (Revocation → "Push") is
ignored: it sends the realm's existing ``notBefore`` to its clients and moves nothing
(treated as "now", it refused every token Keycloak still accepts).

Application-wide (:attr:`Event.application`): an ``UPDATE clients/<id>`` whose
representation disables the client (at the event's time) or carries its own
``notBefore`` (at that ``notBefore``), and a ``DELETE clients/<id>`` with a
representation; the ``clientId`` comes from the representation. An admin event on
anything else is ignored: refusing it would stall the emitter, which re-sends its whole
buffer.

Type labels are a closed set (the known types, ``other``, ``malformed``) because they
become metric labels.

Example:
    >>> e = parse_fusionauth(b'{"event": {"type": "user.delete", "id": "e1", '
    ...                      b'"createInstant": 1700000000000, "user": {"id": "u-1"}}}')
    >>> e.type, e.principal, e.at, e.event_id
    ('user.delete', 'u-1', 1700000000.0, 'fusionauth:e1')
    >>> parse_keycloak(b'{"type": "LOGIN", "userId": "u-1", "time": 1}').principal is None
    True
"""

from __future__ import annotations

import json
from typing import Any

from oauthbearer._json import NOT_JSON
from oauthbearer.sidecar.revocation.event_model import (
    Event,
    MalformedEvent,
    finite_seconds,
    ident,
    load_object,
    millis,
    text,
)

__all__ = [
    "FUSIONAUTH_TYPES",
    "KEYCLOAK_SESSION_TYPES",
    "KEYCLOAK_USER_TYPES",
    "Event",
    "MalformedEvent",
    "finite_seconds",
    "fusionauth_event",
    "keycloak_event",
    "parse_fusionauth",
    "parse_keycloak",
    "parse_record",
]

#: FusionAuth event types that revoke, and where each keeps the user id.
FUSIONAUTH_TYPES: dict[str, str] = {
    "jwt.refresh-token.revoke": "userId",
    "user.deactivate": "user.id",
    "user.delete": "user.id",
    "user.password.update": "user.id",
    # The non-transactional variant, sent once the deletion is committed (operators pick
    # it so that a failing webhook cannot block a deletion).
    "user.delete.complete": "user.id",
}

#: Keycloak user event types that revoke every token of the user.
KEYCLOAK_USER_TYPES: frozenset[str] = frozenset(
    {
        "LOGOUT",
        "REVOKE_GRANT",
        "UPDATE_PASSWORD",
        "UPDATE_CREDENTIAL",
        "REMOVE_CREDENTIAL",
        "RESET_PASSWORD",
        "DELETE_ACCOUNT",
        "USER_DISABLED_BY_PERMANENT_LOCKOUT",
    }
)

#: Keycloak user event types that revoke the tokens of one session (``sessionId``).
KEYCLOAK_SESSION_TYPES: frozenset[str] = frozenset({"USER_SESSION_DELETED"})

#: Admin ``ACTION`` paths under ``users/<id>/`` that change what the user may do. The
#: others only send e-mails (``execute-actions-email``, ``send-verify-email``) or start an
#: impersonation: revoking for them would sign the user out of Kafka for nothing.
_REVOKING_USER_ACTIONS = frozenset(
    {"logout", "reset-password", "disable-credential-types", "credentials"}
)

_KEYCLOAK_ADMIN_OPERATIONS = ("CREATE", "UPDATE", "DELETE", "ACTION")

#: Realm-level admin ``ACTION`` paths after which Keycloak refuses the tokens issued until
#: then: "Sign out all active sessions" (it ends every session and moves the realm's
#: notBefore to now) and the "Push" of the realm's revocation policy to its clients.
_REALM_WIDE_ACTIONS = frozenset({"logout-all"})


def parse_fusionauth(payload: bytes | str) -> Event:
    """Parse one FusionAuth webhook body or Kafka record; raises :class:`MalformedEvent`."""
    return fusionauth_event(load_object(payload))


def fusionauth_event(data: object) -> Event:
    """:func:`parse_fusionauth` for an already decoded JSON value."""
    if not isinstance(data, dict):
        raise MalformedEvent("not a JSON object")
    event = data.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise MalformedEvent('FusionAuth events are {"event": {"type": ...}}')
    kind: str = event["type"]
    given = ident(event.get("id"))
    event_id = f"fusionauth:{given}" if given else None
    at = millis(event.get("createInstant"))
    where = FUSIONAUTH_TYPES.get(kind)
    if where is None:
        return Event("fusionauth", "other", None, at, event_id)
    if where == "userId":
        principal = text(event.get("userId"))
        if principal is None:
            if event.get("userId") is not None:
                # A userId that is no id (a number, ""): read as "no user", it revoked
                # every token of the application instead of one user's.
                raise MalformedEvent("FusionAuth's userId is not an id")
            # No user named: every refresh token of one application was revoked.
            application = text(event.get("applicationId"))
            return Event("fusionauth", kind, None, at, event_id, application=application)
    else:
        user = event.get("user")
        principal = text(user.get("id")) if isinstance(user, dict) else None
        # Some deliveries carry only the top-level userId; accept it as well.
        principal = principal or text(event.get("userId"))
    return Event("fusionauth", kind, principal, at, event_id)


def parse_keycloak(payload: bytes | str) -> Event:
    """Parse one Keycloak user or admin event (event-emitter JSON)."""
    return keycloak_event(load_object(payload))


def keycloak_event(data: object) -> Event:
    """:func:`parse_keycloak` for an already decoded JSON value."""
    if not isinstance(data, dict):
        raise MalformedEvent("not a JSON object")
    given = ident(data.get("uid")) or ident(data.get("id"))
    event_id = f"keycloak:{given}" if given else None
    at = millis(data.get("time"))
    if "operationType" in data or "resourcePath" in data:
        return _keycloak_admin(data, at, event_id)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise MalformedEvent("Keycloak events carry a type or an operationType")
    if kind in KEYCLOAK_SESSION_TYPES:
        session = None if data.get("error") else text(data.get("sessionId"))
        return Event("keycloak", kind, None, at, event_id, session=session)
    if kind not in KEYCLOAK_USER_TYPES:
        return Event("keycloak", "other", None, at, event_id)
    principal = None if data.get("error") else text(data.get("userId"))
    return Event("keycloak", kind, principal, at, event_id)


def _keycloak_admin(data: dict[str, Any], at: float | None, event_id: str | None) -> Event:
    operation = data.get("operationType")
    if operation not in _KEYCLOAK_ADMIN_OPERATIONS:
        raise MalformedEvent("Keycloak admin events carry an operationType")
    kind = f"admin.{operation}"
    path = data.get("resourcePath")
    if data.get("error"):
        return Event("keycloak", kind, None, at, event_id)
    if path is not None and not isinstance(path, str):
        # Keycloak's resourcePath is a string. Read as "no path" (a realm update), a
        # list ["users", "u1"] with a notBefore revoked every token of the realm.
        return Event("keycloak", kind, None, at, event_id)
    if path is None or not path.strip("/"):
        # A realm update has no resourcePath (Keycloak leaves it null). Refused, it
        # stalled the emitter's queue behind it.
        not_before = _not_before(data.get("representation")) if operation == "UPDATE" else None
        if not_before is None:
            return Event("keycloak", kind, None, at, event_id)
        return Event("keycloak", kind, None, not_before, event_id, everyone=True)
    parts = path.strip("/").split("/")
    if operation == "ACTION" and len(parts) == 1 and parts[0] in _REALM_WIDE_ACTIONS:
        return Event("keycloak", kind, None, at, event_id, everyone=True)
    # Ids cut out of the path are judged as the JSON ones are (text()): a lone surrogate
    # made a record key no encoder takes (a 500 on every retry), and 2,000 characters a
    # record Kafka refuses.
    if operation == "DELETE" and len(parts) == 2 and parts[0] == "sessions" and parts[1]:
        # The admin console's "Sign out" of one session: Keycloak emits no user LOGOUT
        # for it, and the session's tokens carry its id as sid. Told by its path, which
        # every emitter schema spells alike (the resourceType ordinal moved between them).
        return Event("keycloak", kind, None, at, event_id, session=text(parts[1]))
    if len(parts) == 2 and parts[0] == "clients" and parts[1]:
        return _keycloak_client(kind, data.get("representation"), at, event_id)
    if len(parts) < 2 or parts[0] != "users" or not parts[1]:
        return Event("keycloak", kind, None, at, event_id)
    user_id = text(parts[1])
    if operation == "CREATE":
        return Event("keycloak", kind, None, at, event_id)
    if operation == "ACTION" and (len(parts) < 3 or parts[2] not in _REVOKING_USER_ACTIONS):
        return Event("keycloak", kind, None, at, event_id)
    if operation == "UPDATE" and len(parts) == 2 and _still_enabled(data.get("representation")):
        return Event("keycloak", kind, None, at, event_id)
    return Event("keycloak", kind, user_id, at, event_id)


def _keycloak_client(
    kind: str, representation: object, at: float | None, event_id: str | None
) -> Event:
    """An admin event on one client (``clients/<internal id>``).

    Keycloak refuses a client's tokens once the client is disabled or deleted, and those
    issued before the client's own ``notBefore`` (its Revocation tab's "Set to now"):
    so does the sidecar, as an application-wide revocation of the tokens whose ``azp``,
    ``client_id`` or ``aud`` names it. The path holds Keycloak's internal id, which no
    token carries: the ``clientId`` comes from the representation, and without one
    (admin events without representations, or a DELETE, which has none) nothing can be
    matched, so nothing is revoked.
    """
    rep = _representation(representation)
    client_id = text(rep.get("clientId")) if rep is not None else None
    if rep is None or client_id is None or kind not in ("admin.UPDATE", "admin.DELETE"):
        return Event("keycloak", kind, None, at, event_id)
    if kind == "admin.DELETE" or rep.get("enabled") is False:
        return Event("keycloak", kind, None, at, event_id, application=client_id)
    not_before = _not_before(rep)
    if kind == "admin.UPDATE" and not_before is not None:
        return Event("keycloak", kind, None, not_before, event_id, application=client_id)
    return Event("keycloak", kind, None, at, event_id)


def _representation(representation: object) -> dict[str, Any] | None:
    # Keycloak sends the representation as a JSON *string*, and only when the realm's
    # admin events include representations.
    if isinstance(representation, str):
        try:
            representation = json.loads(representation)
        except NOT_JSON:
            return None
    return representation if isinstance(representation, dict) else None


def _still_enabled(representation: object) -> bool:
    # Without a representation we cannot tell a profile edit from a disable, and revoke:
    # a needless re-login is cheaper than a disabled user keeping access.
    rep = _representation(representation)
    return rep is not None and rep.get("enabled") is True


def _not_before(representation: object) -> float | None:
    # The realm's notBefore (epoch seconds): Keycloak refuses every token issued before
    # it. 0 is "no policy" (the admin console's "Clear").
    rep = _representation(representation)
    seconds = finite_seconds(rep.get("notBefore")) if rep is not None else None
    return seconds if seconds is not None and seconds > 0 else None


def parse_record(payload: bytes | str) -> Event:
    """Parse a Kafka record of either family: ``{"event": ...}`` is FusionAuth.

    Example:
        >>> parse_record(b'{"type": "LOGOUT", "userId": "u-2", "time": 5000}').principal
        'u-2'
    """
    data = load_object(payload)
    return fusionauth_event(data) if "event" in data else keycloak_event(data)
