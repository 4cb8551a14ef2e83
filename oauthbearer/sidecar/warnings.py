"""Warnings the sidecar gives at start-up and ``oauthbearer check`` repeats, in one place."""

from __future__ import annotations

__all__ = ["LOCAL_ONLY_WARNING"]

#: Webhooks without a topic to share their revocations on.
LOCAL_ONLY_WARNING = (
    "revocation webhooks without OAUTHBEARER_REVOCATIONS_TOPIC: a revocation posted here "
    "reaches only this process and does not survive its restart; with more than one "
    "replica, set OAUTHBEARER_REVOCATIONS_TOPIC (and OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS)"
)
