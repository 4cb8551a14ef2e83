"""Client settings from environment variables, as a user configures a Kafka client.

jairsjunior's ``OAUTH_LOGIN_SERVER`` + ``OAUTH_LOGIN_ENDPOINT`` (+ ``OAUTH_WITH_SSL``) make
the token URL, or ``OAUTHBEARER_LOGIN_TOKEN_URL`` / ``_ISSUER`` do; Azure workload
identity's ``AZURE_*`` variables make a secretless client when neither is set. Keys and
assertions are read from files only (they are mounted, and they rotate).

Example:
    >>> s = settings_from_env({"OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp.example/t"})
    >>> s.token_url, s.auth_method
    ('https://idp.example/t', 'none')
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import parse_qsl, unquote_plus

from oauthbearer._env import Env
from oauthbearer._secret import FileSecret, Secret, SecretSource
from oauthbearer._unknown import first_reports, unknown_variables
from oauthbearer.client.azure import workload_identity
from oauthbearer.client.sasl import parse_extensions
from oauthbearer.client.settings import ClientSettings
from oauthbearer.client.validation import GRANT_CLIENT_CREDENTIALS, TOKEN_TYPE_JWT
from oauthbearer.client.variables import (
    CLIENT_VARIABLES,
    V_ACTOR_TOKEN,
    V_ACTOR_TOKEN_TYPE,
    V_ASSERTION,
    V_ASSERTION_ALG,
    V_AUDIENCE,
    V_AUTH_METHOD,
    V_AUTHORIZATION,
    V_AUTHORIZATION_FILE,
    V_BACKOFF_BASE,
    V_BACKOFF_MAX,
    V_BASIC_FORM_ENCODE,
    V_CA_FILE,
    V_CERT_FILE,
    V_CLIENT_ASSERTION,
    V_CLIENT_ID,
    V_CLIENT_SECRET,
    V_CLOCK_SKEW,
    V_DEADLINE,
    V_ENDPOINT,
    V_EXTENSIONS,
    V_EXTRA_PARAMS,
    V_GRANT,
    V_ISSUER,
    V_KEY_FILE,
    V_KEY_ID,
    V_MAX_LIFETIME,
    V_PASSWORD,
    V_PRINCIPAL_CLAIM,
    V_PRIVATE_KEY,
    V_REFRESH_FRACTION,
    V_REFRESH_JITTER,
    V_REFRESH_TOKEN,
    V_REQUESTED_TOKEN_TYPE,
    V_RESOURCE,
    V_SCOPE,
    V_SERVER,
    V_SUBJECT_TOKEN,
    V_SUBJECT_TOKEN_TYPE,
    V_TIMEOUT,
    V_TOKEN_URL,
    V_USERNAME,
    V_WITH_SSL,
)
from oauthbearer.errors import ConfigurationError

logger = logging.getLogger("oauthbearer.client")

__all__ = ["settings_from_env"]


def settings_from_env(environ: Mapping[str, str] | None = None) -> ClientSettings:
    """:class:`ClientSettings` from environment variables (``os.environ`` when ``None``)."""
    environ = os.environ if environ is None else environ
    # oauth_cb, adapter and TokenProvider.from_env users never run the CLI that prints
    # these: the log is where they look. Once per name and process, not per client built.
    reports = unknown_variables(environ, runs=["client"], names={"client": CLIENT_VARIABLES})
    for report in first_reports(reports):
        logger.warning("%s", report.message)
    env = Env(environ)
    server = env.host_port(V_SERVER)
    token_url = env.url(V_TOKEN_URL)
    endpoint_variable = V_TOKEN_URL
    with_ssl = env.flag(V_WITH_SSL, default=True)
    if server is not None:
        if token_url is not None:
            raise ConfigurationError(V_TOKEN_URL, f"set either {V_TOKEN_URL} or {V_SERVER}")
        # Deviation from jairsjunior, which would POST to "https://host": a token endpoint
        # without a path is almost always a forgotten variable.
        endpoint = env.path(V_ENDPOINT)
        if endpoint is None:
            raise ConfigurationError(V_ENDPOINT, f"is required with {V_SERVER}")
        token_url = ("https://" if with_ssl else "http://") + server + endpoint
        endpoint_variable = V_SERVER
    elif env.text(V_ENDPOINT) is not None:
        raise ConfigurationError(V_SERVER, f"is required with {V_ENDPOINT}")
    # Azure's variables are injected into every pod with workload identity: they are
    # used only when nothing else says where tokens come from (an issuer to discover,
    # a token URL, a client assertion of the application's own).
    azure = (
        workload_identity(env)
        if token_url is None
        and env.text(V_CLIENT_ASSERTION + "_FILE") is None
        and env.text(V_ISSUER) is None
        else None
    )
    if azure is not None:
        token_url, endpoint_variable = azure.token_url, "AZURE_TENANT_ID"

    kwargs: dict[str, Any] = {}
    numbers = (
        ("refresh_fraction", V_REFRESH_FRACTION),
        ("refresh_jitter", V_REFRESH_JITTER),
        ("clock_skew", V_CLOCK_SKEW),
        ("timeout", V_TIMEOUT),
        ("deadline", V_DEADLINE),
        ("backoff_base", V_BACKOFF_BASE),
        ("backoff_max", V_BACKOFF_MAX),
        ("max_lifetime", V_MAX_LIFETIME),
    )
    defaults = ClientSettings.__dataclass_fields__
    for attr, variable in numbers:
        default = cast(float, defaults[attr].default)
        kwargs[attr] = env.number(variable, default=default)
    return ClientSettings(
        token_url=token_url,
        endpoint_variable=endpoint_variable,
        issuer=env.url(V_ISSUER),
        grant_type=env.text(V_GRANT, GRANT_CLIENT_CREDENTIALS) or GRANT_CLIENT_CREDENTIALS,
        scope=_scope(env.text(V_SCOPE)),
        authorization=_authorization(env),
        client_id=env.text(V_CLIENT_ID) or (azure.client_id if azure else None),
        client_secret=env.secret(V_CLIENT_SECRET),
        auth_method=env.text(V_AUTH_METHOD, "") or "",
        basic_form_encode=env.flag(V_BASIC_FORM_ENCODE, default=True),
        private_key=_file_only(env, V_PRIVATE_KEY),
        client_assertion=(
            _file_only(env, V_CLIENT_ASSERTION) or (azure.assertion if azure else None)
        ),
        key_id=env.text(V_KEY_ID),
        assertion_alg=env.text(V_ASSERTION_ALG, "") or "",
        cert_file=env.text(V_CERT_FILE),
        key_file=env.text(V_KEY_FILE),
        ca_file=env.text(V_CA_FILE),
        audience=env.text(V_AUDIENCE),
        resources=tuple(env.csv(V_RESOURCE)),
        extra_params=_parse_params(env.text(V_EXTRA_PARAMS)),
        username=env.text(V_USERNAME),
        password=env.secret(V_PASSWORD),
        refresh_token=env.secret(V_REFRESH_TOKEN),
        assertion=_file_only(env, V_ASSERTION),
        subject_token=_file_only(env, V_SUBJECT_TOKEN),
        subject_token_type=env.text(V_SUBJECT_TOKEN_TYPE, TOKEN_TYPE_JWT) or TOKEN_TYPE_JWT,
        actor_token=_file_only(env, V_ACTOR_TOKEN),
        actor_token_type=env.text(V_ACTOR_TOKEN_TYPE),
        requested_token_type=env.text(V_REQUESTED_TOKEN_TYPE),
        sasl_extensions=parse_extensions(env.text(V_EXTENSIONS), V_EXTENSIONS),
        principal_claim=env.text(V_PRINCIPAL_CLAIM, "sub") or "sub",
        **kwargs,
    )


def _authorization(env: Env) -> SecretSource | None:
    # OAUTH_AUTHORIZATION is jairsjunior's literal; its file twin is ours, hence our prefix.
    literal = env.text(V_AUTHORIZATION)
    path = env.text(V_AUTHORIZATION_FILE)
    if literal is not None and path is not None:
        raise ConfigurationError(
            V_AUTHORIZATION, f"set either {V_AUTHORIZATION} or {V_AUTHORIZATION_FILE}, not both"
        )
    if literal is not None:
        return Secret(literal)
    return _file_only(env, V_AUTHORIZATION_FILE.removesuffix("_FILE"))


def _scope(raw: str | None) -> str | None:
    """``OAUTH_LOGIN_SCOPE`` as the server saw it from jairsjunior's handler.

    That handler writes ``scope=<value>`` into the form body without encoding it (CONTRACT
    §1), so the server form-decodes the value: ``kafka+write`` arrives as the two scopes
    ``kafka write``, ``%20`` as a space. We encode what we send, so the value is decoded
    once here and the server ends up with the same scopes.

    Example:
        >>> _scope("kafka+write"), _scope("api://app/.default"), _scope("a%20b")
        ('kafka write', 'api://app/.default', 'a b')
    """
    return None if raw is None else unquote_plus(raw)


def _file_only(env: Env, name: str) -> SecretSource | None:
    """Keys and grant assertions come from files only (they are mounted, and they rotate)."""
    path = env.text(name + "_FILE")
    if path is None:
        return None
    source = FileSecret(path, variable=name + "_FILE")
    source.reveal()  # fail at start-up, naming the variable, if unreadable
    return source


def _parse_params(text: str | None) -> tuple[tuple[str, str], ...]:
    if text is None:
        return ()
    try:
        return tuple(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
    except ValueError:
        raise ConfigurationError(V_EXTRA_PARAMS, "must be form-encoded, like a=1&b=2") from None
