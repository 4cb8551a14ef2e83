"""Revocation that reaches the cache: identity-provider events stop tokens at once.

A result cache without revocation is a liability: a revoked token stays active until
its cached answer expires, and a locally verified JWT until its ``exp``. This package
lets the sidecar learn revocations from the identity provider and refuse the affected
tokens immediately.

Modules, one job each:

=================  ===============================================================
``store``          :class:`RevocationStore`: watermarks by principal, jti/token
                   denylist; bounded, forgets what can no longer matter
``wide``           the realm-wide (``everyone``) and application watermarks,
                   judged on fresh decisions; applying one drops the cached
                   active answers
``tables``         the store's bounded, self-expiring tables; event ids seen
``events``         FusionAuth and Keycloak event JSON → :class:`Event`
``event_model``    :class:`Event` and :class:`MalformedEvent` themselves
``service``        :class:`Revocations`: applies events to the store and the cache
``kafka_source``   the event topic, read in full by every replica, replayed on start
``routes``         ``POST /events/keycloak``, ``/events/fusionauth``, ``/revocations``
=================  ===============================================================

Importing this package does not import confluent-kafka (``kafka_source`` does, and the
app imports it only when a topic is configured).
"""

from __future__ import annotations

from oauthbearer.sidecar.revocation.events import Event, MalformedEvent
from oauthbearer.sidecar.revocation.service import Revocations
from oauthbearer.sidecar.revocation.store import RevocationStore

__all__ = ["Event", "MalformedEvent", "RevocationStore", "Revocations"]
