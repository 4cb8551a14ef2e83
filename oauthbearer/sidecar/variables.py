"""Every environment variable the sidecar reads: name, default, meaning.

The ``serve --help`` text, the ``env.example`` check and the generated reference come from
:data:`VARIABLES`, so a variable cannot be read without being documented.

Example:
    >>> [v.default for v in VARIABLES if v.name == "OAUTHBEARER_LISTEN"]
    ['127.0.0.1:8080']
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["FILE_VARIABLES", "VARIABLES", "Variable"]


class Variable(NamedTuple):
    """One environment variable the sidecar reads."""

    name: str
    default: str
    help: str


#: Every environment variable the sidecar reads, in the order ``serve --help`` shows them.
#: Variables marked "(+_FILE)" may instead name a file holding the value.
VARIABLES: tuple[Variable, ...] = (
    # -- upstream RFC 7662 introspection: jairsjunior's names, now describing the upstream
    Variable(
        "OAUTH_INTROSPECT_SERVER",
        "",
        "host[:port] of the upstream authorization server's introspection endpoint, no "
        "scheme; a path prefix may follow (kc:8080/auth)",
    ),
    Variable("OAUTH_INTROSPECT_ENDPOINT", "", "path of the upstream introspection endpoint"),
    Variable(
        "OAUTH_INTROSPECT_AUTHORIZATION",
        "",
        "whole Authorization header sent upstream, e.g. 'Basic base64(id:secret)' (+_FILE)",
    ),
    Variable("OAUTH_WITH_SSL", "true", "true → https:// upstream, false → http://"),
    Variable(
        "OAUTHBEARER_UPSTREAM_TIMEOUT",
        "3",
        "seconds for the whole upstream call (connect+read); then 503",
    ),
    Variable(
        "OAUTHBEARER_UPSTREAM_MAX_CONCURRENCY",
        "32",
        "most upstream introspection calls in flight at once",
    ),
    # -- local JWT verification
    Variable(
        "OAUTHBEARER_JWKS_URL",
        "",
        "JWKS URL; JWT access tokens are then verified locally",
    ),
    Variable("OAUTHBEARER_ISSUER", "", "required 'iss' of locally verified JWTs"),
    Variable(
        "OAUTHBEARER_AUDIENCE",
        "",
        "comma-separated; a locally verified JWT's 'aud' must contain one of them",
    ),
    Variable(
        "OAUTHBEARER_JWT_ALGORITHMS",
        "RS256,PS256,ES256",
        "comma-separated JWS algorithms accepted (asymmetric only; never none or HS*)",
    ),
    Variable(
        "OAUTHBEARER_JWT_TYP",
        "",
        "required JWT 'typ' header, e.g. at+jwt (RFC 9068); unset → not checked",
    ),
    Variable(
        "OAUTHBEARER_CLOCK_SKEW",
        "30",
        "seconds of clock skew tolerated on nbf/iat of local JWTs (none on exp)",
    ),
    Variable(
        "OAUTHBEARER_JWKS_REFRESH_INTERVAL",
        "300",
        "seconds between periodic JWKS refreshes (removed keys stop working after one)",
    ),
    Variable(
        "OAUTHBEARER_JWKS_MIN_REFETCH_INTERVAL",
        "10",
        "least seconds between JWKS refetches triggered by an unknown 'kid'",
    ),
    Variable(
        "OAUTHBEARER_CA_FILE",
        "",
        "PEM bundle trusted for the upstream and JWKS (default: system trust store)",
    ),
    # -- listening and callers
    Variable("OAUTHBEARER_LISTEN", "127.0.0.1:8080", "host:port the sidecar listens on"),
    Variable(
        "OAUTHBEARER_METRICS_LISTEN",
        "",
        "host:port of a second, plain-HTTP listener serving only /metrics and /healthz, "
        "for Prometheus when the sidecar listens on loopback (unauthenticated: the metrics "
        "carry no secret); unset → /metrics on the main listener only",
    ),
    Variable(
        "OAUTHBEARER_TLS_CERT_FILE",
        "",
        "PEM certificate (chain) served on the listener: HTTPS only, TLS >= 1.2; reloaded "
        "when the file changes (cert-manager renewals), without a restart",
    ),
    Variable(
        "OAUTHBEARER_TLS_KEY_FILE",
        "",
        "PEM private key of that certificate (required with OAUTHBEARER_TLS_CERT_FILE)",
    ),
    Variable(
        "OAUTHBEARER_TLS_CLIENT_CA_FILE",
        "",
        "PEM CA(s) whose client certificates are required (mTLS); a caller without an "
        "Authorization header is identified by its certificate's subject",
    ),
    Variable(
        "OAUTHBEARER_CALLERS",
        "",
        "comma-separated id:secret pairs accepted as HTTP Basic from brokers (+_FILE)",
    ),
    Variable(
        "OAUTHBEARER_CALLER_BEARER_TOKENS",
        "",
        "comma-separated id:token pairs accepted as static 'Bearer <token>' (+_FILE)",
    ),
    Variable(
        "OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS",
        "false",
        "true → callers without credentials are served (RFC 7662 §2.1 says authenticate)",
    ),
    Variable(
        "OAUTHBEARER_CALLER_MAX_INFLIGHT",
        "16",
        "most distinct tokens one caller may have waiting on the upstream at once (0 = no "
        "limit); keep it under OAUTHBEARER_UPSTREAM_MAX_CONCURRENCY so one broker cannot "
        "starve the others",
    ),
    Variable(
        "OAUTHBEARER_CALLER_MAX_QUEUED",
        "64",
        "further requests of that caller that may wait for one of its slots (at most "
        "OAUTHBEARER_UPSTREAM_TIMEOUT); beyond, 429 with Retry-After",
    ),
    # -- cache
    Variable(
        "OAUTHBEARER_CACHE_TTL",
        "60",
        "longest a positive result is served from cache, in seconds: this is the "
        "WORST-CASE DELAY before a revocation takes effect (never past the token's exp)",
    ),
    Variable("OAUTHBEARER_CACHE_MAX_ENTRIES", "100000", "most positive results cached"),
    Variable(
        "OAUTHBEARER_NEGATIVE_CACHE_TTL",
        "2",
        "seconds an inactive result is cached (0 = off); shields the upstream from floods",
    ),
    Variable("OAUTHBEARER_NEGATIVE_CACHE_MAX_ENTRIES", "10000", "most inactive results cached"),
    # -- request and response shape
    Variable(
        "OAUTHBEARER_TOKEN_PARAMS",
        "token",
        "comma-separated form parameter names accepted for the token (Strimzi can rename it)",
    ),
    Variable(
        "OAUTHBEARER_PRINCIPAL_CLAIM",
        "sub",
        "comma-separated claim paths tried in order for the answer's 'sub' (the broker's "
        "principal); dotted paths reach into objects, Strimzi's [a].['b.c'] form into "
        "names with dots, e.g. preferred_username,azp",
    ),
    Variable(
        "OAUTHBEARER_SUBJECT_CLAIMS",
        "client_id,username",
        "claim paths tried last for 'sub', after the principal and fallback claims; the "
        "default applies only while neither OAUTHBEARER_PRINCIPAL_CLAIM nor "
        "OAUTHBEARER_PRINCIPAL_FALLBACK_CLAIM is set; none turns it off",
    ),
    Variable(
        "OAUTHBEARER_PRINCIPAL_FALLBACK_CLAIM",
        "",
        "claim path tried for 'sub' after OAUTHBEARER_PRINCIPAL_CLAIM, its value prefixed with "
        "OAUTHBEARER_PRINCIPAL_FALLBACK_PREFIX",
    ),
    Variable(
        "OAUTHBEARER_PRINCIPAL_FALLBACK_PREFIX",
        "",
        "prefix put before the fallback claim's value, e.g. service-account-",
    ),
    Variable(
        "OAUTHBEARER_GROUPS_CLAIM",
        "",
        "claim path of the groups, answered as 'groups' (a JSON array of strings), e.g. "
        "groups, realm_access.roles, resource_access.<client>.roles, roles, cognito:groups",
    ),
    Variable(
        "OAUTHBEARER_GROUPS_CLAIM_DELIMITER",
        ",",
        "splits a groups claim given as one string (Strimzi's oauth.groups.claim.delimiter); "
        "space for whitespace",
    ),
    Variable(
        "OAUTHBEARER_SCOPE_CLAIMS",
        "scope,scp",
        "claim paths tried in order for 'scope' (a string or an array; answered as one "
        "space-separated string); add roles to use them as scopes",
    ),
    Variable(
        "OAUTHBEARER_RESPONSE_ISSUER",
        "",
        "'iss' put in every active answer (Strimzi checks it); unset → passed through",
    ),
    Variable("OAUTHBEARER_MAX_BODY_BYTES", "16384", "larger request bodies get 413"),
    # -- operations
    Variable("OAUTHBEARER_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Variable(
        "OAUTHBEARER_DECISION_LOG_HITS",
        "summary",
        "summary → cache hits are counted per caller, principal and result and logged as "
        "one 'cache hits' line each every 10 s (fresh decisions are always one line each); "
        "each → one decision line per hit too",
    ),
    Variable(
        "OAUTHBEARER_SHUTDOWN_TIMEOUT",
        "10",
        "seconds in-flight requests get to finish after SIGTERM",
    ),
    # -- revocation (identity-provider events; see oauthbearer/sidecar/revocation)
    Variable(
        "OAUTHBEARER_EVENT_CALLERS",
        "",
        "comma-separated id:secret pairs accepted as HTTP Basic on /events/* and "
        "/revocations (webhooks; separate from the brokers'); unset → those routes are off "
        "(+_FILE)",
    ),
    Variable(
        "OAUTHBEARER_KEYCLOAK_EMITTER_SECRET",
        "",
        "the Keycloak event emitter's CT_KEYCLOAK_BRIDGE_SECRET_TOKEN: accepted on "
        "/events/keycloak as the Basic password with any user name (the emitter sends its "
        "host name); turns the revocation routes on (+_FILE)",
    ),
    Variable(
        "OAUTHBEARER_REVOCATION_MAX_TOKEN_LIFETIME",
        "86400",
        "seconds: the longest lifetime of any access token; revocations are kept, and the "
        "event topic replayed on start, this far back",
    ),
    Variable(
        "OAUTHBEARER_REVOCATION_MAX_ENTRIES",
        "100000",
        "most principals (and, separately, single tokens) held revoked at once",
    ),
    Variable(
        "OAUTHBEARER_REVOCATION_PRINCIPAL_CLAIM",
        "sub",
        "claim of the answer that an event's user id is compared with",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS",
        "",
        "Kafka bootstrap servers of every topic below (events, Keycloak, revocations); "
        "unset → no topic",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_TOPIC",
        "",
        "topic of FusionAuth (or Keycloak) events, read in full by every replica",
    ),
    Variable(
        "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS",
        "",
        "<user-event topic>[,<admin-event topic>] of the Keycloak event emitter's Kafka "
        "generation (base64 FlatBuffers records), read in full by every replica",
    ),
    Variable(
        "OAUTHBEARER_REVOCATIONS_TOPIC",
        "",
        "topic every replica writes the revocations it accepts to (webhooks, /revocations) "
        "and reads back in full: replicas agree, and a restart replays them; unset → a "
        "webhook revocation reaches only the process that received it, until it restarts",
    ),
    Variable(
        "OAUTHBEARER_REVOCATIONS_PUBLISH_TIMEOUT",
        "5",
        "seconds a webhook waits for Kafka to acknowledge its revocation record; then 503, "
        "and the record is published again in the background until Kafka takes it",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL for the events consumer",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_SASL_MECHANISM",
        "OAUTHBEARER",
        "OAUTHBEARER, PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_* only)",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_OAUTH",
        "false",
        "true → the events consumer gets tokens from our oauth_cb, configured by the "
        "OAUTH_LOGIN_* variables (needs SASL_* and OAUTHBEARER)",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_SASL_USERNAME",
        "",
        "username for PLAIN/SCRAM on the events consumer",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_SASL_PASSWORD",
        "",
        "password for PLAIN/SCRAM on the events consumer (+_FILE)",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_CA_FILE",
        "",
        "PEM bundle trusted for the events brokers' TLS (default: system trust store)",
    ),
)

#: The ``NAME_FILE`` alternatives of the secret-bearing variables above (the file holds
#: the value; it is re-read when it changes, so rotated Kubernetes Secrets apply live).
FILE_VARIABLES: tuple[str, ...] = (
    "OAUTH_INTROSPECT_AUTHORIZATION_FILE",
    "OAUTHBEARER_CALLERS_FILE",
    "OAUTHBEARER_CALLER_BEARER_TOKENS_FILE",
    "OAUTHBEARER_EVENT_CALLERS_FILE",
    "OAUTHBEARER_KEYCLOAK_EMITTER_SECRET_FILE",
    "OAUTHBEARER_EVENTS_SASL_PASSWORD_FILE",
)
