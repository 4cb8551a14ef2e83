"""Where the answer's principal, groups and scope come from, read from the environment.

The rules themselves live in :mod:`oauthbearer.sidecar.claims`; this reads and checks the
variables that configure them (every malformed claim path fails start-up, naming its
variable).

Example:
    >>> from oauthbearer._env import Env
    >>> rules = claim_rules(Env({"OAUTHBEARER_PRINCIPAL_CLAIM": "preferred_username"}))
    >>> rules.principal, rules.subject_fallbacks
    (('preferred_username',), ())
"""

from __future__ import annotations

from oauthbearer._env import Env
from oauthbearer.errors import ConfigurationError
from oauthbearer.sidecar.claims import DEFAULT_CLAIM_RULES, ClaimRules, check_claim_path

__all__ = ["claim_rules"]


def claim_rules(env: Env) -> ClaimRules:
    """Where the answer's sub, groups and scope come from (see sidecar/claims.py)."""
    principal = tuple(_claim_paths(env, "OAUTHBEARER_PRINCIPAL_CLAIM")) or ("sub",)
    prefix = env.text("OAUTHBEARER_PRINCIPAL_FALLBACK_PREFIX") or ""
    fallback = env.text("OAUTHBEARER_PRINCIPAL_FALLBACK_CLAIM")
    if prefix and fallback is None:
        raise ConfigurationError(
            "OAUTHBEARER_PRINCIPAL_FALLBACK_PREFIX", "needs OAUTHBEARER_PRINCIPAL_FALLBACK_CLAIM"
        )
    groups = env.text("OAUTHBEARER_GROUPS_CLAIM")
    for name, path in (
        ("OAUTHBEARER_PRINCIPAL_FALLBACK_CLAIM", fallback),
        ("OAUTHBEARER_GROUPS_CLAIM", groups),
    ):
        if path is not None:
            _check_path(name, path)
    delimiter = env.text("OAUTHBEARER_GROUPS_CLAIM_DELIMITER", ",") or ","
    return ClaimRules(
        principal=principal,
        subject_fallbacks=_subject_fallbacks(env),
        fallback=fallback,
        fallback_prefix=prefix,
        groups=groups,
        groups_delimiter=" " if delimiter.lower() == "space" else delimiter,
        scopes=tuple(_claim_paths(env, "OAUTHBEARER_SCOPE_CLAIMS")) or ("scope", "scp"),
    )


def _subject_fallbacks(env: Env) -> tuple[str, ...]:
    """``OAUTHBEARER_SUBJECT_CLAIMS``, tried after every other principal claim.

    Its default (``client_id``, then ``username``) predates the principal claims and
    applies only while none is configured: someone who names where the principal is
    (``preferred_username``) must not get a client whose ``client_id`` is "alice" taken
    for the user alice. ``none`` turns it off.
    """
    configured = _claim_paths(env, "OAUTHBEARER_SUBJECT_CLAIMS")
    if configured == ["none"]:
        return ()
    if configured:
        return tuple(configured)
    # "sub" alone is the documented default, and setting a default changes nothing.
    principal = env.csv("OAUTHBEARER_PRINCIPAL_CLAIM")
    if principal not in ([], ["sub"]) or env.text("OAUTHBEARER_PRINCIPAL_FALLBACK_CLAIM"):
        return ()
    return DEFAULT_CLAIM_RULES.subject_fallbacks


def _claim_paths(env: Env, name: str) -> list[str]:
    paths = env.csv(name)
    for path in paths:
        _check_path(name, path)
    return paths


def _check_path(name: str, path: str) -> None:
    try:
        check_claim_path(path)
    except ValueError as exc:
        raise ConfigurationError(name, str(exc)) from None
